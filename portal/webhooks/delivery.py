"""Sending webhook deliveries, like the e-mail outbox sends e-mails.

A delivery is claimed in a short transaction (row lock, skip_locked: two workers or two sweeps
never claim the same one), marked "sending" and committed; it is then sent outside any
transaction (a slow receiver holds no lock and no connection in a transaction) and its outcome
recorded. A worker killed between claim and outcome leaves it "sending": after CLAIM_TIMEOUT the
sweep claims it again and sends it once more with the same `webhook-id`, so the receiver can drop
the copy. That is the only case where a receiver gets an event twice.
"""

import json
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from standardwebhooks import Webhook

from portal.emails import email_queue
from portal.models import PartnerMembership, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from portal.webhooks import addresses
from portal.webhooks.events import TEST_EVENT
from portal.webhooks.services import deliveries_kick, endpoint_disable, endpoint_secrets

logger = logging.getLogger(__name__)

State = WebhookDelivery.State

# The waits after each failed try: ten tries over about three days, then the delivery fails.
RETRY_DELAYS = [
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
    timedelta(hours=24),
]
# Far longer than a try can take (addresses.TIMEOUT): a claim older than this is a dead worker's.
CLAIM_TIMEOUT = timedelta(minutes=5)
# An endpoint whose tries have all failed for this long is disabled, and its partner told.
DISABLE_AFTER = timedelta(hours=24)
EXCERPT_LIMIT = 1024  # bytes of the answer kept in the delivery log
USER_AGENT = "PartnerKeyPortal-Webhooks/1"


def deliveries_due(now: datetime):
    """Deliveries to send at `now`: queued and due, or claimed by a worker that died."""
    return WebhookDelivery.objects.filter(
        Q(state=State.QUEUED, next_attempt_at__lte=now)
        | Q(state=State.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT),
    ).filter(Q(endpoint__enabled=True) | Q(event__type=TEST_EVENT))


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    with transaction.atomic():
        delivery = (
            deliveries_due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "event__partner", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None
        delivery.state, delivery.claimed_at = State.SENDING, now
        delivery.attempts += 1
        delivery.save(update_fields=["state", "claimed_at", "attempts"])
    return delivery


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The JSON sent: the event's envelope and its payload, the same bytes on every try."""
    event = delivery.event
    envelope = {
        "id": event.id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "partner_id": event.partner.partner_id,
        "customer_id": event.tenant_id,
        "data": event.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_headers(delivery: WebhookDelivery, body: bytes, now: datetime) -> dict[str, str]:
    """Standard Webhooks' headers, signed with every secret of the endpoint now."""
    msg_id = delivery.event.id
    signatures = [
        Webhook(secret).sign(msg_id=msg_id, timestamp=now, data=body)
        for secret in endpoint_secrets(delivery.endpoint, now)
    ]
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def _send(delivery: WebhookDelivery) -> WebhookAttempt:
    """One try, outside any transaction; the attempt to record (not saved yet)."""
    now = timezone.now()
    attempt = WebhookAttempt(delivery=delivery, at=now)
    started = time.monotonic()
    try:
        # Checked again now (DNS rebinding), and the connection goes to the address checked.
        target = addresses.url_target(delivery.endpoint.url)
        body = webhook_body(delivery)
        answer = addresses.post(target, body, webhook_headers(delivery, body, now))
    except addresses.UrlRefused as error:
        attempt.error = str(error)[:500]
    except Exception as error:  # timeouts, refused connections, TLS, broken answers
        attempt.error = (f"{type(error).__name__}: {error}")[:500]
    else:
        attempt.status_code = answer.status_code
        attempt.response_excerpt = answer.body[:EXCERPT_LIMIT].decode("utf-8", "replace")
    attempt.duration_ms = round((time.monotonic() - started) * 1000)
    return attempt


def _record(delivery: WebhookDelivery, attempt: WebhookAttempt) -> bool:
    """Save the try and the delivery's new state; True when the endpoint must be disabled."""
    now = timezone.now()
    succeeded = attempt.status_code is not None and 200 <= attempt.status_code < 300
    is_test = delivery.event.type == TEST_EVENT
    with transaction.atomic():
        attempt.save()
        changes = {"last_status_code": attempt.status_code, "claimed_at": None}
        if succeeded:
            changes.update(state=State.DELIVERED, delivered_at=now)
        elif is_test or delivery.attempts > len(RETRY_DELAYS):
            changes.update(state=State.FAILED)
        else:
            changes.update(
                state=State.QUEUED, next_attempt_at=now + RETRY_DELAYS[delivery.attempts - 1]
            )
        # Only the claim this worker holds: never undo what a later claim recorded.
        WebhookDelivery.objects.filter(
            pk=delivery.pk, state=State.SENDING, claimed_at=delivery.claimed_at
        ).update(**changes)
        if is_test:
            return False
        endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
        if succeeded:
            endpoints.update(failing_since=None)
            return False
        endpoints.filter(failing_since__isnull=True).update(failing_since=attempt.at)
        return endpoints.filter(enabled=True, failing_since__lte=now - DISABLE_AFTER).exists()


def webhook_deliver(delivery_id: int) -> str | None:
    """Claim this delivery if it is due, send it, record the outcome; its new state, or None
    when it was not due (sent already, claimed by another worker, waiting for its retry)."""
    delivery = _claim(delivery_id, timezone.now())
    if delivery is None:
        return None
    attempt = _send(delivery)
    if _record(delivery, attempt):
        endpoint_give_up(delivery.endpoint)
    if attempt.status_code is None or attempt.status_code >= 300:
        logger.info(
            "Webhook %s to endpoint %s failed (try %s): %s",
            delivery.event_id,
            delivery.endpoint_id,
            delivery.attempts,
            attempt.error or attempt.status_code,
        )
    return WebhookDelivery.objects.values_list("state", flat=True).get(pk=delivery.pk)


def endpoint_page_url(endpoint: WebhookEndpoint) -> str:
    """The endpoint's page on the portal (its delivery log, Enable), for e-mails. Reversed by
    name: the page is served by tenants, which portal does not import."""
    return f"{settings.PORTAL_BASE_URL}{reverse('tenants:webhook', args=[endpoint.pk])}"


def endpoint_give_up(endpoint: WebhookEndpoint) -> None:
    """Disable an endpoint that failed for DISABLE_AFTER, and e-mail its partner's admins."""
    with translation.override("en"):
        reason = gettext("Every try failed for 24 hours.")
    with transaction.atomic():
        if not endpoint_disable(endpoint=endpoint, actor=None, reason=reason):
            return
        admins = PartnerMembership.objects.filter(
            partner_id=endpoint.partner_id,
            role=PartnerMembership.Role.ADMIN,
            user__is_active=True,
        ).select_related("user", "partner")
        for membership in admins:
            email_queue(
                template="webhook_disabled",
                to=[membership.user.email],
                language=membership.user.language,
                context={
                    "endpoint": endpoint,
                    "partner": membership.partner,
                    "endpoint_url": endpoint_page_url(endpoint),
                },
            )


def webhook_deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Hand to workers the deliveries due (retries, those the broker lost, those a dead worker
    held); return how many. Each is claimed by whoever takes it first: a sweep running twice
    sends nothing twice."""
    now = now or timezone.now()
    due = list(
        deliveries_due(now)
        .order_by(F("next_attempt_at").asc())
        .values_list("pk", flat=True)[:limit]
    )
    deliveries_kick(due)
    return len(due)
