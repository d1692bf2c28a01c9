from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from mfa.step_up import step_up_required
from portal.access import partner_required
from portal.spreadsheets import csv_response
from renewals.forms import RenewalFilterForm, state_choices, window_choices
from renewals.queries import (
    readable_subscription,
    renewal_list,
    renewal_list_actions,
    renewal_row,
    subscription_overview,
)
from renewals.services import DirectBillingError, direct_billing_preview, direct_billing_switch
from tenants.access import (
    Permission,
    TenantAccess,
    customer_required,
    direct_billing_allowed,
    subscription_of,
)
from tenants.models import Subscription

RENEWALS_PER_PAGE = 25


def _filters(request) -> tuple[str, str]:
    return RenewalFilterForm(request.GET).filters()


@partner_required
def partner_renewals(request):
    """The renewable subscriptions of the partner's customers whose subscriptions it may read,
    soonest end first."""
    today = timezone.localdate()
    window, state = _filters(request)
    page = Paginator(
        renewal_list(request.partner, today=today, window=window, state=state), RENEWALS_PER_PAGE
    ).get_page(request.GET.get("page"))
    rows = [renewal_row(subscription, today) for subscription in page.object_list]
    # "Renew with a key" only where the partner may renew (a billing reader may not, a directly
    # billed subscription renews on its own): the API's rule for its `may_renew`.
    actions = renewal_list_actions(request.user, page.object_list, today)
    return render(
        request,
        "renewals/partner_renewals.html",
        {
            "page": page,
            "rows": rows,
            "renewable": {pk for pk, action in actions.items() if action.may_renew},
            "window": window,
            "state": state,
            "windows": window_choices(),
            "states": state_choices(),
            "filtered": bool(window or state),
        },
    )


@partner_required
def partner_renewals_csv(request):
    today = timezone.localdate()
    window, state = _filters(request)
    subscriptions = renewal_list(request.partner, today=today, window=window, state=state)
    return csv_response(
        f"renewals-{today.isoformat()}.csv",
        [
            _("Customer"),
            _("Domain"),
            _("Product"),
            _("Seats"),
            _("End date"),
            _("Days left"),
            _("State"),
            _("Partner of record"),
        ],
        (_renewal_csv_row(subscription, today) for subscription in subscriptions),
    )


def _renewal_csv_row(subscription: Subscription, today) -> list:
    row = renewal_row(subscription, today)
    por = subscription.partner_of_record
    return [
        subscription.tenant.name,
        subscription.tenant.domain,
        subscription.product.name,
        subscription.seats,
        subscription.end_date.isoformat(),
        row.days_left_shown,
        row.state_label,
        por.name if por else "",
    ]


def _timeline_context(access: TenantAccess, subscription: Subscription) -> dict:
    overview = subscription_overview(access, subscription, timezone.localdate())
    return {
        "access": access,
        "tenant": access.tenant,
        "subscription": subscription,
        "row": overview.row,
        "timeline": overview.timeline,
        "next_change": overview.next_change,
        "lifecycle": overview.lifecycle,
        "replacement": overview.replacement,
        "may_renew": overview.actions.may_renew,
        "may_switch": overview.actions.may_switch,
    }


@partner_required
def partner_subscription(request, pk: int):
    access, subscription = readable_subscription(request.user, pk)
    return render(
        request,
        "renewals/partner_subscription.html",
        _timeline_context(access, subscription),
    )


@customer_required(Permission.MANAGE)
def customer_subscription(request, pk: int):
    subscription = subscription_of(request.access, pk)
    return render(
        request,
        "renewals/customer_subscription.html",
        _timeline_context(request.access, subscription),
    )


def _direct_billing(request, access: TenantAccess, subscription: Subscription, back_url: str):
    if not direct_billing_allowed(access, subscription):
        raise Http404
    today = timezone.localdate()
    if request.method == "POST":
        try:
            new = direct_billing_switch(access=access, subscription=subscription, today=today)
        except DirectBillingError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                _("%(product)s is now billed directly: it renews on its own on %(end)s.")
                % {"product": new.product.name, "end": date_format(new.end_date, "DATE_FORMAT")},
            )
            return redirect(_done(access, new))
    preview = direct_billing_preview(subscription, today)
    return render(
        request,
        "renewals/direct_billing.html",
        {
            "tenant": access.tenant,
            "subscription": subscription,
            "days_lost": preview.prepaid_days_lost,
            "old_end": preview.prepaid_end_date,
            "back_url": back_url,
            "allowed": preview.open,
            "ended": preview.ended,
        },
    )


def _done(access: TenantAccess, subscription: Subscription) -> str:
    if access.membership is not None:
        return reverse("tenants:partner_customer", args=[access.tenant.pk])
    return reverse("renewals:customer_subscription", args=[subscription.pk])


@partner_required
@step_up_required
def partner_direct_billing(request, pk: int):
    access, subscription = readable_subscription(request.user, pk)
    return _direct_billing(
        request, access, subscription, reverse("renewals:partner_subscription", args=[pk])
    )


@customer_required(Permission.DIRECT_BILLING)
@step_up_required
def customer_direct_billing(request, pk: int):
    subscription = subscription_of(request.access, pk)
    return _direct_billing(
        request,
        request.access,
        subscription,
        reverse("renewals:customer_subscription", args=[pk]),
    )
