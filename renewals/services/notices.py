"""Renewal notices (design §5): 60, 30, 7 and 1 days before the end date (NoticeOffset), and
the ledger that makes each notice and each lifecycle e-mail happen once.

Each e-mail is recorded in the ledger (`RenewalNotice`) with INSERT … ON CONFLICT DO NOTHING in
the same transaction as its outbox row: whatever fails, a notice is recorded and queued
together, or neither is. Who receives them is tenants.selectors.recipients: the tenant's admins
and the partner of record's admins (its contact address when it has none).
"""

from collections.abc import Sequence
from datetime import date, datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.emails import email_queue
from portal.ledger import due_threshold, ledger_claim
from renewals import schedule
from renewals.models import RenewalNotice
from renewals.services.batches import BATCH_SIZE, due_batch, first_time
from tenants import webhooks
from tenants.lifecycle import deleted_on, disabled_on, expired_on, in_lifecycle
from tenants.models import Subscription
from tenants.selectors import Recipient, recipients

State = Subscription.State
Event = RenewalNotice.Event


def _claim(
    subscription: Subscription,
    *,
    event: str,
    days_before: int,
    to: Sequence[Recipient],
    now: datetime,
) -> dict[str, int]:
    """Insert the ledger rows nobody inserted yet; {address: ledger id} of those this call
    inserted. A row another transaction inserted (committed, or in flight: PostgreSQL then waits
    for it) is left alone, and its recipient is not e-mailed again."""
    return ledger_claim(
        RenewalNotice,
        [
            {
                "subscription": subscription.pk,
                "end_date": subscription.end_date,
                "event": event,
                "days_before": days_before,
                "recipient_email": recipient.email,
                "recipient": recipient.user.pk if recipient.user else None,
                "language": recipient.language,
                "created_at": now,
            }
            for recipient in to
        ],
        key="recipient_email",
    )


# The ledger row of a notice's webhook event: no address (it is not an e-mail), one per
# subscription, end date and threshold, whichever partners hear about it.
WEBHOOK_RECIPIENT = ""


def _webhook_claim(subscription: Subscription, *, days_before: int, now: datetime) -> bool:
    """Claim the notice's webhook event in the ledger, as each e-mail is claimed: False when a
    re-run, a retry or a sweep running at the same moment already has it."""
    row = {
        "subscription": subscription.pk,
        "end_date": subscription.end_date,
        "event": Event.NOTICE,
        "days_before": days_before,
        "recipient_email": WEBHOOK_RECIPIENT,
        "recipient": None,
        "language": "",
        "created_at": now,
    }
    return bool(ledger_claim(RenewalNotice, [row], key="recipient_email"))


def subscription_path(subscription: Subscription, recipient: Recipient) -> str:
    """The subscription's page on the recipient's side: where to renew or read what changed."""
    if recipient.for_partner:
        return reverse("renewals:partner_subscription", args=[subscription.pk])
    return reverse("renewals:customer_subscription", args=[subscription.pk])


def notice_queue(
    subscription: Subscription,
    *,
    template: str,
    event: str,
    days_before: int,
    today: date,
    now: datetime,
) -> int:
    """Claim and queue one e-mail per recipient not yet e-mailed about this event; how many."""
    to = recipients(tenant=subscription.tenant, partner=subscription.partner_of_record)
    claimed = _claim(subscription, event=event, days_before=days_before, to=to, now=now)
    end = subscription.end_date
    for recipient in to:
        if recipient.email not in claimed:
            continue
        email = email_queue(
            template=template,
            to=[recipient.email],
            language=recipient.language,
            context={
                "subscription": subscription,
                "tenant": subscription.tenant,
                "product": subscription.product,
                "end_date": end,
                "days_left": (end - today).days,
                "expired_on": expired_on(end),
                "disabled_on": disabled_on(end),
                "deleted_on": deleted_on(end),
                "event": event,
                "days_before": days_before,
                "for_partner": recipient.for_partner,
                "partner_of_record": subscription.partner_of_record,
                "path": subscription_path(subscription, recipient),
            },
        )
        RenewalNotice.objects.filter(pk=claimed[recipient.email]).update(email_id=email.pk)
    return len(claimed)


def renewal_notices_send(*, today: date | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Send the renewal notices due on `today`; the number of e-mails queued.

    Finds work through `Subscription.renewal_notice_on` (indexed): only the subscriptions whose
    next notice day has come, or whose end date changed, are read. For each, the most recent
    threshold reached is sent to every recipient not yet e-mailed about it (after downtime the
    stale earlier thresholds are not sent, and not recorded: the ledger holds only what was
    sent), then the day of the next threshold is stored.
    """
    today = today or timezone.localdate()
    now = timezone.now()
    offsets = schedule.notice_offsets()
    sent = 0
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            batch = due_batch(Subscription.objects.filter(renewal_notice_on__lte=today), batch_size)
            if not batch:
                return sent
            first_time(batch, seen)
            # Who listens for notices: one query per batch (and one more only when a partner does).
            audience = webhooks.Audience(
                "subscription.renewal_notice_due", [s.tenant_id for s in batch], today=today
            )
            for subscription in batch:
                sent += _subscription_notices(
                    subscription, today=today, now=now, offsets=offsets, audience=audience
                )


def _subscription_notices(
    subscription: Subscription,
    *,
    today: date,
    now: datetime,
    offsets: Sequence[int],
    audience: webhooks.Audience,
) -> int:
    sent = 0
    end = subscription.end_date
    next_on = None
    if subscription.state != State.DELETED and in_lifecycle(subscription):
        threshold = due_threshold(end, today, offsets)
        if threshold is not None:
            sent = notice_queue(
                subscription,
                template="renewal_notice",
                event=Event.NOTICE,
                days_before=threshold,
                today=today,
                now=now,
            )
            if audience.partners(subscription.tenant_id) and _webhook_claim(
                subscription, days_before=threshold, now=now
            ):
                webhooks.renewal_notice_due(audience, subscription, threshold, today)
        next_on = schedule.next_notice_on(end, today, offsets)
    Subscription.objects.filter(pk=subscription.pk).update(renewal_notice_on=next_on)
    return sent


def notice_schedule_changed() -> int:
    """Ops changed the notice days: every subscription that may still get a notice is looked at
    again by the next sweep (the ledger keeps it from repeating one already sent)."""
    today = timezone.localdate()
    return (
        Subscription.objects.exclude(state=State.DELETED)
        .filter(end_date__gte=today, ended_by_direct_billing=False, billed_directly=False)
        .update(renewal_notice_on=today)
    )
