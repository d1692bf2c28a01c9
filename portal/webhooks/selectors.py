"""What the Webhooks page, the API and the admin read about endpoints and their deliveries."""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from portal.models import Partner, WebhookDelivery, WebhookEndpoint

State = WebhookDelivery.State

# A delivery's outcome as the log's filter names it: (key, label, condition).
OUTCOMES = [
    ("delivered", _("Delivered"), Q(state=State.DELIVERED)),
    ("failed", _("Failed"), Q(state=State.FAILED)),
    ("pending", _("Waiting or retrying"), Q(state__in=[State.QUEUED, State.SENDING])),
]


def partner_endpoints(partner: Partner) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(partner=partner).order_by("-created_at", "-id")


def endpoint_deliveries(
    endpoint: WebhookEndpoint, *, event: str = "", outcome: str = ""
) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, with their event; filtered by event type and by
    outcome (a key of OUTCOMES; anything else is ignored)."""
    deliveries = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .order_by("-created_at", "-id")
    )
    if event:
        deliveries = deliveries.filter(event__type=event)
    conditions = {key: condition for key, _label, condition in OUTCOMES}
    if outcome in conditions:
        deliveries = deliveries.filter(conditions[outcome])
    return deliveries


# --- One endpoint or delivery, for the partner asking (the API; the page may share them) -------


def partner_endpoint(partner: Partner, endpoint_id: int) -> WebhookEndpoint:
    """One of the partner's endpoints; another partner's is the same 404 as none."""
    return get_object_or_404(partner_endpoints(partner), pk=endpoint_id)


def partner_delivery(partner: Partner, delivery_id: int) -> WebhookDelivery:
    """One delivery to one of the partner's endpoints, with its event, its endpoint and its
    tries; another partner's is the same 404 as none."""
    deliveries = WebhookDelivery.objects.filter(endpoint__partner=partner)
    return get_object_or_404(
        deliveries.select_related("event", "endpoint").prefetch_related("attempt_log"),
        pk=delivery_id,
    )
