"""Renewal notices (design §5): 60, 30, 7 and 1 days before the end date (NoticeOffset), and
the ledger that makes each notice and each lifecycle e-mail happen once.

Each e-mail is recorded in the ledger (`RenewalNotice`) with INSERT … ON CONFLICT DO NOTHING in
the same transaction as its outbox row: whatever fails, a notice is recorded and queued
together, or neither is. Who receives them is tenants.selectors' rule: the tenant's admins and
the partner of record's admins (its contact address when it has none).

A sweep works a batch of subscriptions at a time, in one transaction (`NoticeBatch`, issue 20):
the recipients of the whole batch are read with two queries, every notice of the batch is
claimed with one INSERT, the claimed e-mails are written with one more (each template rendered
once per language and shape, then filled in per recipient: portal.emails.EmailBatch) and linked
to their ledger rows with a third. A notice whose ledger row exists is skipped, as before.
"""

from collections.abc import Callable, Sequence
from datetime import date, datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.bulk import column_update
from portal.emails import EmailBatch, Fields, slot
from portal.ledger import due_threshold, ledger_claim
from renewals import schedule
from renewals.models import RenewalNotice
from renewals.services.batches import BATCH_SIZE, due_batch, first_time
from tenants import webhooks
from tenants.lifecycle import deleted_on, disabled_on, expired_on, in_lifecycle
from tenants.models import Subscription
from tenants.selectors import Recipient, RecipientBook

State = Subscription.State
Event = RenewalNotice.Event

# The ledger row of a notice's webhook event: no address (it is not an e-mail), one per
# subscription, end date and threshold, whichever partners hear about it.
WEBHOOK_RECIPIENT = ""
# What tells a batch's ledger rows apart (the rest of the unique constraint is the same).
_LEDGER_KEY = ("subscription", "event", "days_before", "recipient_email")


def subscription_path(subscription: Subscription, recipient: Recipient) -> str:
    """The subscription's page on the recipient's side: where to renew or read what changed."""
    if recipient.for_partner:
        return reverse("renewals:partner_subscription", args=[subscription.pk])
    return reverse("renewals:customer_subscription", args=[subscription.pk])


def _ledger_row(
    subscription: Subscription,
    event: str,
    days_before: int,
    recipient: Recipient | None,
    now: datetime,
) -> dict:
    return {
        "subscription": subscription.pk,
        "end_date": subscription.end_date,
        "event": event,
        "days_before": days_before,
        "recipient_email": recipient.email if recipient else WEBHOOK_RECIPIENT,
        "recipient": recipient.user.pk if recipient and recipient.user else None,
        "language": recipient.language if recipient else "",
        "created_at": now,
    }


def notice_email_add(
    emails: EmailBatch,
    subscription: Subscription,
    recipient: Recipient,
    *,
    event: str,
    days_before: int,
    today: date,
) -> None:
    """One renewal-notice or lifecycle e-mail (`emails.template`) to `recipient`. Its words
    depend on the end date, the side and whether there is a partner of record (the shape);
    the names and the link are filled in per e-mail."""
    end = subscription.end_date
    partner_of_record = subscription.partner_of_record
    fill = {
        "tenant_name": subscription.tenant.name,
        "tenant_domain": subscription.tenant.domain,
        "product_name": subscription.product.name,
        "path": subscription_path(subscription, recipient),
    }
    if partner_of_record is not None:
        fill["partner_of_record_name"] = partner_of_record.name

    def context() -> dict:
        return {
            "subscription": Fields(),  # the templates read nothing else of it
            "tenant": Fields(name=slot("tenant_name"), domain=slot("tenant_domain")),
            "product": Fields(name=slot("product_name")),
            "end_date": end,
            "days_left": (end - today).days,
            "expired_on": expired_on(end),
            "disabled_on": disabled_on(end),
            "deleted_on": deleted_on(end),
            "event": event,
            "days_before": days_before,
            "for_partner": recipient.for_partner,
            "partner_of_record": (
                Fields(name=slot("partner_of_record_name")) if partner_of_record else None
            ),
            "path": slot("path"),
        }

    shape = (event, days_before, end, today, recipient.for_partner, partner_of_record is not None)
    emails.add(
        to=recipient.email, language=recipient.language, shape=shape, context=context, fill=fill
    )


class NoticeBatch:
    """The e-mails and webhook events of a sweep's batch of subscriptions, claimed and written
    together by `queue()`, in the batch's transaction. `emails` (one template) is kept for the
    sweep's run, so each shape is rendered once per run."""

    def __init__(
        self,
        subscriptions: Sequence[Subscription],
        *,
        emails: EmailBatch,
        today: date,
        now: datetime,
    ):
        # Read before anything of the batch changes: a deletion's notice reaches the tenant's
        # admins (the lifecycle queues it before the data goes).
        self.book = RecipientBook(
            tenants=[s.tenant for s in subscriptions],
            partners=[s.partner_of_record for s in subscriptions],
        )
        self.emails, self.today, self.now = emails, today, now
        self._notices: list[tuple[dict, Subscription, Recipient]] = []
        self._events: list[tuple[dict, Callable[[], None]]] = []

    def add(self, subscription: Subscription, *, event: str, days_before: int) -> None:
        """An e-mail about `event` to each of the subscription's recipients not yet sent one."""
        for recipient in self.book.recipients(
            tenant=subscription.tenant, partner=subscription.partner_of_record
        ):
            row = _ledger_row(subscription, event, days_before, recipient, self.now)
            self._notices.append((row, subscription, recipient))

    def add_webhook(
        self, subscription: Subscription, *, days_before: int, emit: Callable[[], None]
    ) -> None:
        """The notice's webhook event: `emit()` unless a sweep already emitted it."""
        row = _ledger_row(subscription, Event.NOTICE, days_before, None, self.now)
        self._events.append((row, emit))

    def queue(self) -> int:
        """Claim what was added since the last call (one INSERT), write the claimed e-mails (one
        INSERT) and link them to their ledger rows (one UPDATE), emit the claimed webhook
        events; the number of e-mails written."""
        notices, events, self._notices, self._events = self._notices, self._events, [], []
        rows = [row for row, *_ in notices] + [row for row, _ in events]
        claimed = ledger_claim(RenewalNotice, rows, key=_LEDGER_KEY)
        ledger_ids = []
        for row, subscription, recipient in notices:
            # Popped: a row claimed stands for one e-mail. None: another run (or sweep) has it.
            ledger_id = claimed.pop(tuple(row[name] for name in _LEDGER_KEY), None)
            if ledger_id is not None:
                notice_email_add(
                    self.emails,
                    subscription,
                    recipient,
                    event=row["event"],
                    days_before=row["days_before"],
                    today=self.today,
                )
                ledger_ids.append(ledger_id)
        emails = self.emails.queue()
        column_update(
            RenewalNotice,
            "email_id",
            {pk: email.pk for pk, email in zip(ledger_ids, emails, strict=True)},
        )
        for row, emit in events:
            if claimed.pop(tuple(row[name] for name in _LEDGER_KEY), None) is not None:
                emit()
        return len(emails)


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
    emails = EmailBatch("renewal_notice")
    sent = 0
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            batch = due_batch(
                Subscription.objects.filter(renewal_notice_on__lte=today),
                batch_size,
                order=("renewal_notice_on",),  # the index subscription_notice_due's
            )
            if not batch:
                return sent
            first_time(batch, seen)
            # Who listens for notices: one query per batch (and one more only when a partner does).
            audience = webhooks.Audience(
                "subscription.renewal_notice_due", [s.tenant_id for s in batch], today=today
            )
            notices = NoticeBatch(batch, emails=emails, today=today, now=now)
            for subscription in batch:
                subscription.renewal_notice_on = _subscription_notices(
                    subscription, today=today, offsets=offsets, notices=notices, audience=audience
                )
            sent += notices.queue()
            column_update(
                Subscription, "renewal_notice_on", {s.pk: s.renewal_notice_on for s in batch}
            )


def _subscription_notices(
    subscription: Subscription,
    *,
    today: date,
    offsets: Sequence[int],
    notices: NoticeBatch,
    audience: webhooks.Audience,
) -> date | None:
    """Add the subscription's due notice to the batch; the day of its next one."""
    end = subscription.end_date
    if subscription.state == State.DELETED or not in_lifecycle(subscription):
        return None
    threshold = due_threshold(end, today, offsets)
    if threshold is not None:
        notices.add(subscription, event=Event.NOTICE, days_before=threshold)
        if audience.partners(subscription.tenant_id):
            notices.add_webhook(
                subscription,
                days_before=threshold,
                emit=lambda: webhooks.renewal_notice_due(audience, subscription, threshold, today),
            )
    return schedule.next_notice_on(end, today, offsets)


def notice_schedule_changed() -> int:
    """Ops changed the notice days: every subscription that may still get a notice is looked at
    again by the next sweep (the ledger keeps it from repeating one already sent)."""
    today = timezone.localdate()
    return (
        Subscription.objects.exclude(state=State.DELETED)
        .filter(end_date__gte=today, ended_by_direct_billing=False, billed_directly=False)
        .update(renewal_notice_on=today)
    )
