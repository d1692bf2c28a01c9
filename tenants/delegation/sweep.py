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

from portal.ledger import due_threshold, ledger_claim
from portal.services import audit_log
from tenants import webhooks
from tenants.delegation.emails import update_email_queue
from tenants.delegation.offers import offer_expire
from tenants.models import (
    AUTO_EXTEND_DAYS,
    NOTICE_THRESHOLDS,
    DelegatedRole,
    DelegationNotice,
    DelegationOffer,
    DelegationRelationship,
)
from tenants.selectors import both_sides


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


def _notice_claim(relationship: DelegationRelationship, threshold: int, recipient: str) -> bool:
    """Claim one notice in the ledger: False when a re-run, a retry or a sweep running at the
    same moment already has it."""
    row = {
        "relationship": relationship.pk,
        "ends_on": relationship.ends_on,
        "threshold": threshold,
        "recipient": recipient,
        "sent_at": timezone.now(),
    }
    return bool(ledger_claim(DelegationNotice, [row], key="recipient"))


def notices_send(today: datetime.date) -> int:
    """30, 7, 1 days before the end and on the day, each once per relationship, end date,
    threshold and recipient (the ledger). After downtime, only the latest threshold reached."""
    sent = 0
    horizon = today + datetime.timedelta(days=max(NOTICE_THRESHOLDS))
    soon = (
        DelegationRelationship.objects.active()
        .filter(ends_on__gte=today, ends_on__lte=horizon)
        .select_related("partner", "tenant", "offer")
    )
    for relationship in soon:
        threshold = due_threshold(relationship.ends_on, today, NOTICE_THRESHOLDS)
        if threshold is None:
            continue
        context = {
            "offer": relationship.offer,
            "relationship": relationship,
            "partner": relationship.partner,
            "tenant": relationship.tenant,
            "roles": relationship.role_choices,
            "days_left": (relationship.ends_on - today).days,
        }
        for recipient in both_sides(tenant=relationship.tenant, partner=relationship.partner):
            with transaction.atomic():
                if _notice_claim(relationship, threshold, recipient.email):
                    update_email_queue(recipient, event="notice", context=context)
                    sent += 1
    return sent


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
