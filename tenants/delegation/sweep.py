"""The daily sweep of delegated administration (design §4), as four sweeps: offers unanswered for
90 days expire, relationships on their last day auto-extend, relationships past their end date
expire, and both sides get their end-of-term notices. `delegation_sweep` runs them in that order
(the periodic task and `manage.py delegation_sweep --date`).

Each claims its rows one by one with a conditional UPDATE or a row lock, so a second sweep
running at the same moment (two beats by mistake) does nothing twice; notices are claimed in the
ledger (`portal.ledger`).
"""

import datetime

from django.db import transaction
from django.utils import timezone

from portal.emails import EmailBatch
from portal.ledger import due_threshold, ledger_claim
from portal.services import audit_log
from tenants import webhooks
from tenants.delegation.emails import notice_email_add
from tenants.delegation.offers import offer_expire
from tenants.models import (
    AUTO_EXTEND_DAYS,
    NOTICE_THRESHOLDS,
    DelegatedRole,
    DelegationNotice,
    DelegationOffer,
    DelegationRelationship,
)
from tenants.selectors import RecipientBook

# Relationships whose notices are claimed and written per transaction.
NOTICE_BATCH_SIZE = 200


def offers_expire(now) -> int:
    """Offers unanswered for 90 days."""
    due = DelegationOffer.objects.overdue(now).select_related("partner", "tenant")
    return sum(offer_expire(offer, now) for offer in list(due))


def relationships_extend(today: datetime.date) -> int:
    """Auto-extension, on the last day. Never for global administrator (refused at the offer
    already), and never for a relationship whose end date has passed: that one expires and is
    not silently restored."""
    extended = 0
    due = DelegationRelationship.objects.active().filter(auto_extend=True, ends_on=today)
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            locked = (
                DelegationRelationship.objects.select_for_update(of=("self",))
                .select_related("partner", "tenant")
                .get(pk=pk)
            )
            if (
                locked.state != DelegationRelationship.State.ACTIVE
                or locked.ends_on != today
                or DelegatedRole.GLOBAL_ADMIN in locked.roles
            ):
                continue
            old = locked.ends_on
            locked.ends_on = old + datetime.timedelta(days=AUTO_EXTEND_DAYS)
            locked.save(update_fields=["ends_on"])
            audit_log(
                action="delegation_relationship.extended",
                target=locked,
                partner=locked.partner,
                tenant=locked.tenant,
                details={"from": old.isoformat(), "to": locked.ends_on.isoformat()},
            )
            webhooks.relationship_event(
                locked, "extended", **{"from": old.isoformat(), "to": locked.ends_on.isoformat()}
            )
            extended += 1
    return extended


def relationships_expire(today: datetime.date, now) -> int:
    """Past the end date: expired (access had already ended: the tenant rule reads the dates)."""
    expired = 0
    past = DelegationRelationship.objects.active().filter(ends_on__lt=today)
    for pk in list(past.values_list("pk", flat=True)):
        with transaction.atomic():
            if past.filter(pk=pk).update(state=DelegationRelationship.State.EXPIRED, ended_at=now):
                relationship = DelegationRelationship.objects.select_related(
                    "partner", "tenant"
                ).get(pk=pk)
                audit_log(
                    action="delegation_relationship.expired",
                    target=relationship,
                    partner=relationship.partner,
                    tenant=relationship.tenant,
                )
                webhooks.relationship_event(relationship, "expired")
                expired += 1
    return expired


def notices_send(today: datetime.date, batch_size: int = NOTICE_BATCH_SIZE) -> int:
    """30, 7, 1 days before the end and on the day, each once per relationship, end date,
    threshold and recipient (the ledger). After downtime, only the latest threshold reached.

    A batch of relationships at a time, in one transaction: recipients read with two queries,
    every notice claimed with one INSERT (in the relationships' order, so that two sweeps
    claiming the same notices wait for each other rather than deadlock), the claimed e-mails
    written with one more, each shape rendered once per run (EmailBatch)."""
    horizon = today + datetime.timedelta(days=max(NOTICE_THRESHOLDS))
    soon = (
        DelegationRelationship.objects.active()
        .filter(ends_on__gte=today, ends_on__lte=horizon)
        .select_related("partner", "tenant")
        .order_by("pk")
    )
    due = [
        (relationship, threshold)
        for relationship in soon
        if (threshold := due_threshold(relationship.ends_on, today, NOTICE_THRESHOLDS)) is not None
    ]
    emails = EmailBatch("delegation_update")
    sent = 0
    for start in range(0, len(due), batch_size):
        with transaction.atomic():
            sent += _notices_batch(due[start : start + batch_size], today=today, emails=emails)
    return sent


def _notices_batch(
    due: list[tuple[DelegationRelationship, int]], *, today: datetime.date, emails: EmailBatch
) -> int:
    book = RecipientBook(tenants=[r.tenant for r, _ in due], partners=[r.partner for r, _ in due])
    now = timezone.now()
    notices = [
        (
            {
                "relationship": relationship.pk,
                "ends_on": relationship.ends_on,
                "threshold": threshold,
                "recipient": recipient.email,
                "sent_at": now,
            },
            relationship,
            recipient,
        )
        for relationship, threshold in due
        for recipient in book.both_sides(tenant=relationship.tenant, partner=relationship.partner)
    ]
    key = ("relationship", "threshold", "recipient")
    claimed = ledger_claim(DelegationNotice, [row for row, *_ in notices], key=key)
    for row, relationship, recipient in notices:
        # Popped: a claimed row stands for one e-mail (an address on both sides gets the
        # partner's, as before). Absent: a re-run, a retry or a parallel sweep has it.
        if claimed.pop(tuple(row[name] for name in key), None) is not None:
            notice_email_add(emails, relationship, recipient, today=today)
    return len(emails.queue())


def delegation_sweep(*, today: datetime.date | None = None) -> dict[str, int]:
    """What the periodic task runs daily (and `manage.py delegation_sweep --date`)."""
    now = (
        timezone.now()
        if today is None
        else datetime.datetime.combine(today, datetime.time.min, tzinfo=datetime.UTC)
    )
    today = today or timezone.localdate(now)
    return {
        "offers_expired": offers_expire(now),
        "extended": relationships_extend(today),
        "expired": relationships_expire(today, now),
        "notices": notices_send(today),
    }
