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
from renewals import schedule
from renewals.queries import STATES, WINDOWS, renewal_list, renewal_row
from renewals.services import (
    DirectBillingError,
    direct_billing_old_end,
    direct_billing_open,
    direct_billing_switch,
    prepaid_days_lost,
)
from tenants.access import (
    Permission,
    TenantAccess,
    customer_required,
    direct_billing_allowed,
    subscription_of,
    tenant_access,
)
from tenants.lifecycle import in_lifecycle, next_change
from tenants.models import Subscription

RENEWALS_PER_PAGE = 25


def _filters(request) -> tuple[str, str]:
    window = request.GET.get("window", "")
    state = request.GET.get("state", "")
    return (window if window in WINDOWS else "", state if state in STATES else "")


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
    return render(
        request,
        "renewals/partner_renewals.html",
        {
            "page": page,
            "rows": rows,
            "window": window,
            "state": state,
            "windows": _window_choices(),
            "states": [(value, Subscription.State(value).label) for value in STATES],
            "filtered": bool(window or state),
        },
    )


def _window_choices():
    return [
        ("7", _("Ends within 7 days")),
        ("30", _("Ends within 30 days")),
        ("60", _("Ends within 60 days")),
        ("expired", _("Expired (grace period)")),
        ("disabled", _("Disabled")),
    ]


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


def _partner_subscription(request, pk: int) -> tuple[TenantAccess, Subscription]:
    """The subscription through the tenant rule, for a partner that may read the tenant's
    subscriptions (seats, dates, states): the same 404 for missing and forbidden. Reading the
    customer is not enough — a delegated helpdesk sees users, not subscriptions."""
    tenant_id = Subscription.objects.filter(pk=pk).values_list("tenant_id", flat=True).first()
    if tenant_id is None:
        raise Http404
    access = tenant_access(
        user=request.user, tenant_id=tenant_id, permission=Permission.SUBSCRIPTIONS_READ
    )
    return access, subscription_of(access, pk)


def _replacement(subscription: Subscription) -> Subscription | None:
    """The directly billed subscription that replaced one ended by the switch."""
    if not subscription.ended_by_direct_billing:
        return None
    return Subscription.objects.filter(
        tenant_id=subscription.tenant_id,
        product_id=subscription.product_id,
        billed_directly=True,
        ended_by_direct_billing=False,
    ).first()


def _timeline_context(access: TenantAccess, subscription: Subscription) -> dict:
    """A prepaid subscription shows its timeline and what happens next; a directly billed one
    (renews on its own) and one ended by the switch have no lifecycle to show."""
    today = timezone.localdate()
    lifecycle = in_lifecycle(subscription)
    return {
        "access": access,
        "tenant": access.tenant,
        "subscription": subscription,
        "row": renewal_row(subscription, today),
        "timeline": schedule.timeline(subscription, today, schedule.notice_offsets())
        if lifecycle
        else None,
        "next_change": next_change(subscription.end_date, today) if lifecycle else None,
        "lifecycle": lifecycle,
        "replacement": _replacement(subscription),
        "may_switch": direct_billing_allowed(access, subscription)
        and direct_billing_open(subscription, today),
    }


@partner_required
def partner_subscription(request, pk: int):
    access, subscription = _partner_subscription(request, pk)
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
    return render(
        request,
        "renewals/direct_billing.html",
        {
            "tenant": access.tenant,
            "subscription": subscription,
            "days_lost": prepaid_days_lost(subscription, today),
            "old_end": direct_billing_old_end(subscription, today),
            "back_url": back_url,
            "allowed": direct_billing_open(subscription, today),
            "ended": subscription.end_date < today,
        },
    )


def _done(access: TenantAccess, subscription: Subscription) -> str:
    if access.membership is not None:
        return reverse("tenants:partner_customer", args=[access.tenant.pk])
    return reverse("renewals:customer_subscription", args=[subscription.pk])


@partner_required
@step_up_required
def partner_direct_billing(request, pk: int):
    access, subscription = _partner_subscription(request, pk)
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
