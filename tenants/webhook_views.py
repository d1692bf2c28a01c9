"""The partner's Webhooks page (partner admins): endpoints, their signing secrets (shown once),
and each endpoint's delivery log.

Endpoints, deliveries and their rules are portal's (portal.webhooks); the pages sit with the
partner's other pages, where the step-up (mfa) may be asked for: adding an endpoint, pointing it
somewhere else or replacing its secret decides where customers' data goes and who can sign for
the portal.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from mfa.step_up import step_up_if
from portal.access import partner_admin_required
from portal.models import WebhookDelivery, WebhookEndpoint
from portal.webhooks.events import event_label
from portal.webhooks.forms import DeliveryFilterForm, WebhookEndpointForm
from portal.webhooks.selectors import (
    endpoint_deliveries,
    partner_delivery,
    partner_endpoint,
    partner_endpoints,
)
from portal.webhooks.services import (
    PREVIOUS_SECRET_KEPT,
    WebhookError,
    webhook_delivery_resend,
    webhook_endpoint_change,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_test,
)

DELIVERIES_PER_PAGE = 25
RESENDABLE = (WebhookDelivery.State.DELIVERED, WebhookDelivery.State.FAILED)


def endpoint_delivery(endpoint: WebhookEndpoint, delivery_pk: int) -> WebhookDelivery:
    """A delivery of this endpoint (the URL names both): any other is a 404."""
    delivery = partner_delivery(endpoint.partner, delivery_pk)
    if delivery.endpoint_id != endpoint.pk:
        raise Http404
    return delivery


def _endpoint_url(endpoint: WebhookEndpoint):
    return redirect("tenants:webhook", endpoint.pk)


@partner_admin_required
def webhooks(request):
    endpoints = partner_endpoints(request.partner)
    return render(request, "tenants/webhooks.html", {"endpoints": endpoints})


def _form_page(request, form, endpoint=None):
    return render(request, "tenants/webhook_form.html", {"form": form, "endpoint": endpoint})


def _secret_page(request, endpoint: WebhookEndpoint, secret: str, rotated: bool):
    return render(
        request,
        "tenants/webhook_secret.html",
        {"endpoint": endpoint, "secret": secret, "rotated": rotated},
    )


@never_cache  # the answer to an addition shows the secret: no copy may stay in a cache
@partner_admin_required
def webhook_add(request):
    if request.method != "POST":
        return _form_page(request, WebhookEndpointForm())
    stepped = step_up_if(request, True)
    if stepped is not None:
        return stepped
    form = WebhookEndpointForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form)
    try:
        endpoint, secret = webhook_endpoint_create(
            membership=request.membership, **form.cleaned_data
        )
    except WebhookError as error:
        form.add_error(error.field, str(error))
        return _form_page(request, form)
    messages.success(request, _("The endpoint %(url)s was added.") % {"url": endpoint.url})
    return _secret_page(request, endpoint, secret, rotated=False)


@partner_admin_required
def webhook_edit(request, pk: int):
    endpoint = partner_endpoint(request.partner, pk)
    if request.method != "POST":
        initial = {
            "url": endpoint.url,
            "description": endpoint.description,
            "event_types": endpoint.event_types,
        }
        return _form_page(request, WebhookEndpointForm(initial=initial), endpoint)
    # Pointing the endpoint at another address sends customers' data there: as adding one.
    stepped = step_up_if(request, request.POST.get("url", "").strip() != endpoint.url)
    if stepped is not None:
        return stepped
    form = WebhookEndpointForm(request.POST)
    if not form.is_valid():
        return _form_page(request, form, endpoint)
    try:
        webhook_endpoint_change(endpoint=endpoint, actor=request.user, **form.cleaned_data)
    except WebhookError as error:
        form.add_error(error.field, str(error))
        return _form_page(request, form, endpoint)
    messages.success(request, _("The endpoint was saved."))
    return _endpoint_url(endpoint)


def _log(request, endpoint: WebhookEndpoint) -> dict:
    """The delivery log's page: filtered by the form's valid values, which the pages' links
    keep."""
    form = DeliveryFilterForm(request.GET)
    filters = form.filters()
    page = Paginator(endpoint_deliveries(endpoint, **filters), DELIVERIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": bool(filters),
        "rows": [(delivery, event_label(delivery.event.type)) for delivery in page.object_list],
    }


@partner_admin_required
def webhook(request, pk: int):
    """The endpoint, what can be done with it, and its delivery log."""
    endpoint = partner_endpoint(request.partner, pk)
    now = timezone.now()
    previous_until = endpoint.previous_secret_expires_at
    return render(
        request,
        "tenants/webhook.html",
        {
            "endpoint": endpoint,
            "events": [event_label(type) for type in endpoint.event_types],
            "previous_until": previous_until if previous_until and previous_until > now else None,
            "resendable": RESENDABLE,
            **_log(request, endpoint),
        },
    )


@never_cache  # the answer shows the new secret
@partner_admin_required
def webhook_rotate(request, pk: int):
    """Replace the signing secret: GET asks, POST (after a fresh second factor) shows the new
    one, once."""
    endpoint = partner_endpoint(request.partner, pk)
    if request.method != "POST":
        return render(
            request,
            "tenants/webhook_rotate.html",
            {"endpoint": endpoint, "kept_hours": int(PREVIOUS_SECRET_KEPT.total_seconds() // 3600)},
        )
    stepped = step_up_if(request, True)
    if stepped is not None:
        return stepped
    secret = webhook_endpoint_secret_rotate(endpoint=endpoint, actor=request.user)
    messages.success(request, _("The signing secret was replaced."))
    return _secret_page(request, endpoint, secret, rotated=True)


@require_POST
@partner_admin_required
def webhook_enable(request, pk: int):
    endpoint = partner_endpoint(request.partner, pk)
    if webhook_endpoint_enable(endpoint=endpoint, actor=request.user):
        messages.success(
            request, _("The endpoint was enabled: it gets the events that happen from now on.")
        )
    else:
        messages.info(request, _("The endpoint was enabled already."))
    return _endpoint_url(endpoint)


@require_POST
@partner_admin_required
def webhook_disable(request, pk: int):
    endpoint = partner_endpoint(request.partner, pk)
    if webhook_endpoint_disable(endpoint=endpoint, actor=request.user):
        messages.success(
            request,
            _("The endpoint was disabled: nothing is sent to it until it is enabled again."),
        )
    else:
        messages.info(request, _("The endpoint was disabled already."))
    return _endpoint_url(endpoint)


@partner_admin_required
def webhook_delete(request, pk: int):
    """Delete the endpoint with its delivery log: GET asks, POST deletes."""
    endpoint = partner_endpoint(request.partner, pk)
    if request.method == "POST":
        webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
        messages.success(request, _("The endpoint %(url)s was deleted.") % {"url": endpoint.url})
        return redirect("tenants:webhooks")
    return render(request, "tenants/webhook_delete.html", {"endpoint": endpoint})


@require_POST
@partner_admin_required
def webhook_test(request, pk: int):
    endpoint = partner_endpoint(request.partner, pk)
    webhook_endpoint_test(endpoint=endpoint, actor=request.user)
    messages.success(
        request,
        _(
            "A test event is on its way to %(url)s. The delivery log below shows what the "
            "endpoint answered (reload the page if it is not there yet)."
        )
        % {"url": endpoint.url},
    )
    return _endpoint_url(endpoint)


@partner_admin_required
def webhook_delivery(request, pk: int, delivery_pk: int):
    """One delivery and each of its tries."""
    endpoint = partner_endpoint(request.partner, pk)
    delivery = endpoint_delivery(endpoint, delivery_pk)
    return render(
        request,
        "tenants/webhook_delivery.html",
        {
            "endpoint": endpoint,
            "delivery": delivery,
            "event": event_label(delivery.event.type),
            "attempts": delivery.attempt_log.all(),
            "resendable": RESENDABLE,
        },
    )


@require_POST
@partner_admin_required
def webhook_delivery_resend_view(request, pk: int, delivery_pk: int):
    endpoint = partner_endpoint(request.partner, pk)
    delivery = endpoint_delivery(endpoint, delivery_pk)
    try:
        webhook_delivery_resend(delivery=delivery, actor=request.user)
    except WebhookError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _(
                "The delivery is being sent again, with the same webhook-id. Its tries below "
                "show what the endpoint answers."
            ),
        )
    return redirect("tenants:webhook_delivery", endpoint.pk, delivery.pk)
