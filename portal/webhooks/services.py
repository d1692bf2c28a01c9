"""Webhook events and partners' endpoints: every change to them goes through here.

`webhook_event_emit` is what the apps' services call, in their own transaction, for each change a
partner may hear about. Delivery itself is in portal.webhooks.delivery.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.celery import task_send
from portal.models import (
    Partner,
    PartnerMembership,
    User,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from portal.services import audit_log
from portal.webhooks.addresses import url_problem
from portal.webhooks.events import EVENT_TYPES, TEST_EVENT
from portal.webhooks.secrets import secret_decrypt, secret_encrypt, secret_generate

logger = logging.getLogger(__name__)

# After a rotation the previous secret signs alongside the new one this long, so the receiver
# can switch to the new one without dropping a webhook.
PREVIOUS_SECRET_KEPT = timedelta(hours=24)


class WebhookError(ValueError):
    """A refusal, for the person: `field` is the form field it is about, `code` names it for
    the API (when the field does not)."""

    def __init__(self, message: str, field: str | None = None, code: str = ""):
        self.field, self.code = field, code
        super().__init__(message)


def deliveries_kick(delivery_ids: list[int]) -> None:
    """Ask workers to send these deliveries now. Best effort: when the broker is down they are
    committed, and the periodic sweep (every minute) sends them."""
    for delivery_id in delivery_ids:
        try:
            task_send("portal.tasks.deliver_webhook", delivery_id)
        except Exception:  # the broker is down (or, in eager mode, the send failed)
            logger.warning(
                "Could not start sending webhook delivery %s now; the sweep will send it.",
                delivery_id,
                exc_info=True,
            )


def _deliveries_create(event: WebhookEvent, endpoints) -> list[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=event.occurred_at)
            for endpoint in endpoints
        ]
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: deliveries_kick(ids), robust=True)
    return deliveries


# An event's payload, or a function that builds it: called only when an endpoint wants the event.
Payload = dict | Callable[[], dict]


def partners_listening(type: str) -> dict[int, Partner]:
    """The partners with an enabled endpoint that wants `type`, by id, in one query. A service
    that may tell several partners asks this first and builds payloads only for these; a sweep
    asks once per batch."""
    assert type in EVENT_TYPES, type
    # `event_types` is a JSON list of the catalogue's codes: the quoted code matches one entry
    # (no code is a quoted part of another), on PostgreSQL and the embedded SQLite alike.
    wanting = WebhookEndpoint.objects.filter(
        partner=OuterRef("pk"), enabled=True, event_types__icontains=f'"{type}"'
    )
    return {partner.pk: partner for partner in Partner.objects.filter(Exists(wanting))}


def webhook_event_emit(*, type: str, partner: Partner, tenant=None, payload: Payload):
    """Write the event and one delivery per enabled endpoint of `partner` that wants `type`, in
    the caller's transaction; they are sent after it commits (a rollback sends nothing). Returns
    the event, or None when no endpoint wants it (nothing is written, and a `payload` function
    is not called). Payloads are built in the portal's language (labels, messages): whoever
    acted, a receiver reads the same words."""
    assert type in EVENT_TYPES, type
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(partner=partner, enabled=True)
        if type in endpoint.event_types
    ]
    if not endpoints:
        return None
    if callable(payload):
        with translation.override(settings.LANGUAGE_CODE):
            payload = payload()
    event = WebhookEvent.objects.create(
        type=type,
        partner=partner,
        tenant_id=tenant.pk if tenant is not None else None,
        payload=payload,
    )
    _deliveries_create(event, endpoints)
    return event


def endpoint_secrets(endpoint: WebhookEndpoint, now=None) -> list[str]:
    """The secrets that sign its webhooks now: the current one, and the previous one for
    PREVIOUS_SECRET_KEPT after a rotation."""
    now = now or timezone.now()
    secrets = [secret_decrypt(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        secrets.append(secret_decrypt(endpoint.previous_secret_encrypted))
    return secrets


def _admin_of(actor: User, partner: Partner) -> None:
    """Partner admins manage their partner's endpoints; ops (staff) any."""
    if actor.is_staff:
        return
    membership = PartnerMembership.objects.filter(user=actor, partner=partner).first()
    if membership is None or not membership.is_admin:
        raise WebhookError(_("Only partner admins manage webhooks."))


def _checked(url: str, event_types: list[str]) -> tuple[str, list[str]]:
    url = url.strip()
    problem = url_problem(url)
    if problem:
        raise WebhookError(problem, field="url")
    if len(url) > 500:
        raise WebhookError(_("The URL is too long (500 characters at most)."), field="url")
    if not event_types or set(event_types) - set(EVENT_TYPES):
        raise WebhookError(_("Choose at least one event."), field="event_types")
    return url, [event for event in EVENT_TYPES if event in event_types]


def webhook_endpoint_create(
    *, membership: PartnerMembership, url: str, event_types: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of the member's partner; returns it and its signing secret, shown once."""
    _admin_of(membership.user, membership.partner)
    url, event_types = _checked(url, event_types)
    secret = secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            partner=membership.partner,
            url=url,
            description=description.strip()[:200],
            event_types=event_types,
            secret_encrypted=secret_encrypt(secret),
            created_by=membership.user,
            created_by_label=membership.user.email,
        )
        audit_log(
            action="webhook_endpoint.created",
            actor=membership.user,
            target=endpoint,
            partner=endpoint.partner,
            details={"event_types": event_types},
        )
    return endpoint, secret


def webhook_endpoint_change(
    *, endpoint: WebhookEndpoint, actor: User, url: str, event_types: list[str], description: str
) -> None:
    """A new URL, events or description (the URL checked again)."""
    _admin_of(actor, endpoint.partner)
    url, event_types = _checked(url, event_types)
    with transaction.atomic():
        endpoint.url, endpoint.event_types = url, event_types
        endpoint.description = description.strip()[:200]
        endpoint.save(update_fields=["url", "event_types", "description"])
        audit_log(
            action="webhook_endpoint.changed",
            actor=actor,
            target=endpoint,
            partner=endpoint.partner,
            details={"event_types": event_types},
        )


def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint, actor: User) -> str:
    """A new signing secret, shown once; the current one keeps signing alongside it for
    PREVIOUS_SECRET_KEPT."""
    _admin_of(actor, endpoint.partner)
    secret = secret_generate()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.previous_secret_encrypted = locked.secret_encrypted
        locked.previous_secret_expires_at = timezone.now() + PREVIOUS_SECRET_KEPT
        locked.secret_encrypted = secret_encrypt(secret)
        locked.save(
            update_fields=[
                "previous_secret_encrypted",
                "previous_secret_expires_at",
                "secret_encrypted",
            ]
        )
        audit_log(
            action="webhook_endpoint.secret_rotated",
            actor=actor,
            target=locked,
            partner=locked.partner,
        )
    endpoint.refresh_from_db()
    return secret


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, actor: User) -> bool:
    """Enable it again (its failures forgotten); False when it already was."""
    _admin_of(actor, endpoint.partner)
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=False).update(
            enabled=True, disabled_reason="", disabled_at=None, failing_since=None
        )
        if changed:
            audit_log(
                action="webhook_endpoint.enabled",
                actor=actor,
                target=endpoint,
                partner=endpoint.partner,
            )
    endpoint.refresh_from_db()
    return bool(changed)


def endpoint_disable(
    *, endpoint: WebhookEndpoint, actor: User | None, reason: str, now=None
) -> bool:
    """Stop sending to it: its deliveries still waiting fail (they can be resent once it is
    enabled again). False when it already was disabled. No permission check: the callers are
    `webhook_endpoint_disable` and the delivery's own give-up."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False, disabled_reason=reason[:300], disabled_at=now
        )
        if changed:
            WebhookDelivery.objects.filter(
                endpoint=endpoint, state=WebhookDelivery.State.QUEUED
            ).update(state=WebhookDelivery.State.FAILED)
            audit_log(
                action="webhook_endpoint.disabled",
                actor=actor,
                target=endpoint,
                partner=endpoint.partner,
                details={"reason": reason[:300]},
            )
    endpoint.refresh_from_db()
    return bool(changed)


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, actor: User) -> bool:
    _admin_of(actor, endpoint.partner)
    return endpoint_disable(
        endpoint=endpoint, actor=actor, reason=_("Disabled by %(who)s.") % {"who": actor.email}
    )


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User) -> None:
    """Delete it with its deliveries and their log."""
    _admin_of(actor, endpoint.partner)
    with transaction.atomic():
        audit_log(
            action="webhook_endpoint.deleted",
            actor=actor,
            target=endpoint,
            partner=endpoint.partner,
            details={"url": endpoint.url},
        )
        endpoint.delete()


def webhook_endpoint_test(*, endpoint: WebhookEndpoint, actor: User) -> WebhookDelivery:
    """Send a test event to this endpoint alone (enabled or not: a partner checks a fix before
    enabling it again). Tried once: its outcome is in the delivery log."""
    _admin_of(actor, endpoint.partner)
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            type=TEST_EVENT,
            partner=endpoint.partner,
            payload={"message": "This is a test event from the Partner Key Portal."},
        )
        (delivery,) = _deliveries_create(event, [endpoint])
        audit_log(
            action="webhook_endpoint.tested",
            actor=actor,
            target=endpoint,
            partner=endpoint.partner,
            details={"webhook_id": event.id},
        )
    return delivery


def webhook_delivery_resend(*, delivery: WebhookDelivery, actor: User) -> WebhookDelivery:
    """Send a delivered or failed delivery again now, with the same `webhook-id` (a receiver that
    had it drops the copy), and retry it like a new one if it fails. Its endpoint must be enabled
    (a test event's aside: those are sent to a disabled endpoint too)."""
    _admin_of(actor, delivery.endpoint.partner)
    is_test = delivery.event.type == TEST_EVENT
    if not delivery.endpoint.enabled and not is_test:
        raise WebhookError(
            _("Enable the endpoint first: nothing is sent to a disabled endpoint."),
            code="endpoint_disabled",
        )
    with transaction.atomic():
        resent = WebhookDelivery.objects.filter(
            pk=delivery.pk,
            state__in=[WebhookDelivery.State.DELIVERED, WebhookDelivery.State.FAILED],
        ).update(
            state=WebhookDelivery.State.QUEUED,
            attempts=0,
            next_attempt_at=timezone.now(),
            claimed_at=None,
        )
        if not resent:
            raise WebhookError(_("This delivery is being sent already."), code="delivery_pending")
        audit_log(
            action="webhook_delivery.resent",
            actor=actor,
            target=delivery.endpoint,
            partner=delivery.endpoint.partner,
            details={"webhook_id": delivery.event_id, "event_type": delivery.event.type},
        )
        transaction.on_commit(lambda: deliveries_kick([delivery.pk]), robust=True)
    delivery.refresh_from_db()
    return delivery
