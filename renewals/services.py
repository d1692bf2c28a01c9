"""Renewal notices, the lifecycle after the end date, and direct billing (design §5).

Both sweeps claim their work row by row with `SELECT … FOR UPDATE SKIP LOCKED` (a second sweep
running at the same time takes other rows instead of waiting) and record each e-mail in the
ledger (`RenewalNotice`) with INSERT … ON CONFLICT DO NOTHING in the same transaction as the
outbox row: whatever fails, a notice is recorded and queued together, or neither is.
"""

import logging
from collections.abc import Sequence
from datetime import date

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.emails import email_queue
from portal.ledger import due_threshold, ledger_claim
from portal.models import User
from portal.services import audit_log
from renewals import schedule
from renewals.models import RenewalNotice
from tenants.access import Permission, TenantAccess
from tenants.activity import activity_record
from tenants.lifecycle import (
    LIFECYCLE_ORDER,
    deleted_on,
    disabled_on,
    expired_on,
    in_lifecycle,
    lifecycle_due_q,
    lifecycle_state_on,
    state_starts_on,
)
from tenants.models import License, Subscription, TenantUser
from tenants.selectors import Recipient, recipients
from tenants.services.tenants import subscription_end

logger = logging.getLogger(__name__)

State = Subscription.State
Event = RenewalNotice.Event

# Subscriptions claimed per transaction by a sweep: short transactions, few locks held.
BATCH_SIZE = 200


def _claim(
    subscription: Subscription,
    *,
    event: str,
    days_before: int,
    to: Sequence[Recipient],
    now,
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


def _renew_url(subscription: Subscription, recipient: Recipient) -> str:
    if recipient.for_partner:
        path = reverse("renewals:partner_subscription", args=[subscription.pk])
    else:
        path = reverse("renewals:customer_subscription", args=[subscription.pk])
    return path


def _send(
    subscription: Subscription,
    *,
    template: str,
    event: str,
    days_before: int,
    today: date,
    now,
    extra: dict | None = None,
) -> int:
    """Claim and queue one e-mail per recipient not yet e-mailed about this event."""
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
                "path": _renew_url(subscription, recipient),
                **(extra or {}),
            },
        )
        RenewalNotice.objects.filter(pk=claimed[recipient.email]).update(email_id=email.pk)
    return len(claimed)


def _due_batch(queryset, size: int) -> list[Subscription]:
    # No ORDER BY: the LIMIT stops the index scan after `size` rows instead of sorting every due
    # row first. Rows another sweep holds are skipped, not waited for.
    return list(
        queryset.select_for_update(skip_locked=True, of=("self",)).select_related(
            "tenant", "product", "partner_of_record"
        )[:size]
    )


class SweepLoop(RuntimeError):
    """A subscription came back in the same run: its next date was not moved past today."""


def _first_time(batch: list[Subscription], seen: set[int]) -> None:
    # Each row leaves the due set once handled (its date moves past today, or its state on);
    # meeting one again would mean a bug that loops for ever: stop instead.
    for subscription in batch:
        if subscription.pk in seen:
            raise SweepLoop(subscription.pk)
        seen.add(subscription.pk)


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
            batch = _due_batch(
                Subscription.objects.filter(renewal_notice_on__lte=today), batch_size
            )
            if not batch:
                return sent
            _first_time(batch, seen)
            for subscription in batch:
                sent += _subscription_notices(subscription, today=today, now=now, offsets=offsets)


def _subscription_notices(subscription: Subscription, *, today: date, now, offsets) -> int:
    sent = 0
    end = subscription.end_date
    next_on = None
    if subscription.state != State.DELETED and in_lifecycle(subscription):
        threshold = due_threshold(end, today, offsets)
        if threshold is not None:
            sent = _send(
                subscription,
                template="renewal_notice",
                event=Event.NOTICE,
                days_before=threshold,
                today=today,
                now=now,
            )
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


def lifecycle_advance(*, today: date | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Move every subscription to the state its end date gives on `today`; the number moved.

    A late run goes through every state it missed: each gets its audit event and its effects
    (deletion removes the data), and the recipients get one e-mail, about the state reached.
    """
    today = today or timezone.localdate()
    now = timezone.now()
    moved = 0
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            batch = _due_batch(
                Subscription.objects.filter(
                    lifecycle_due_q(today), ended_by_direct_billing=False, billed_directly=False
                ),
                batch_size,
            )
            if not batch:
                return moved
            _first_time(batch, seen)
            for subscription in batch:
                _subscription_advance(subscription, today=today, now=now)
                moved += 1


def _subscription_advance(subscription: Subscription, *, today: date, now) -> None:
    order = LIFECYCLE_ORDER
    target = lifecycle_state_on(subscription.end_date, today)
    before = subscription.state
    passed = order[order.index(before) + 1 : order.index(target) + 1]
    if target == State.DELETED:
        # Sent before the data goes: the tenant's admins are among the recipients.
        _send(subscription, template="lifecycle", event=target, days_before=0, today=today, now=now)
        removed = _subscription_delete_data(subscription)
    else:
        removed = {}
    subscription.state = target
    subscription.save(update_fields=["state"])
    tenant = subscription.tenant
    for state in passed:
        audit_log(
            action=(
                "subscription.expired"
                if state == State.EXPIRED
                else "subscription.disabled"
                if state == State.DISABLED
                else "subscription.deleted"
            ),
            actor=None,
            target=subscription,
            tenant=tenant,
            partner=subscription.partner_of_record,
            details={
                "end_date": subscription.end_date.isoformat(),
                "state": [before, str(state)],
                "due_on": state_starts_on(state, subscription.end_date).isoformat(),
                "run_on": today.isoformat(),
                **(removed if state == State.DELETED else {}),
            },
        )
        before = str(state)
    if target != State.DELETED:
        _send(subscription, template="lifecycle", event=target, days_before=0, today=today, now=now)


def _subscription_delete_data(subscription: Subscription) -> dict[str, int]:
    """Day 120: the subscription's licenses go; when no subscription of the tenant is left
    alive, its users and their portal accounts go too. The audit trail and the key records
    (SubscriptionKey, the subscription row itself) stay."""
    licenses, _ = License.objects.filter(subscription=subscription).delete()
    alive = (
        Subscription.objects.filter(tenant_id=subscription.tenant_id)
        .exclude(pk=subscription.pk)
        .exclude(state=State.DELETED)
        .exists()
    )
    users = 0
    if not alive:
        accounts = TenantUser.objects.filter(tenant_id=subscription.tenant_id)
        user_ids = [pk for pk in accounts.values_list("user_id", flat=True) if pk]
        users = accounts.count()
        License.objects.filter(tenant_user__tenant_id=subscription.tenant_id).delete()
        accounts.delete()
        # Only customer accounts: a partner user is never a tenant user.
        User.objects.filter(pk__in=user_ids, partner_membership__isnull=True).delete()
    return {"licenses_removed": licenses, "users_removed": users}


# Direct billing ------------------------------------------------------------------------------


class DirectBillingError(Exception):
    """Nothing changed: the message says why."""


def direct_billing_allowed(access: TenantAccess, subscription: Subscription) -> bool:
    """The tenant's admin, a partner admin of the subscription's partner of record, or a partner
    admin under a delegated-admin relationship whose roles allow it (global administrator).
    Partner agents never switch (design, "Access": a partner admin's action)."""
    if access.membership is not None and not access.membership.is_admin:
        return False
    if access.can(Permission.DIRECT_BILLING):
        return True
    return (
        access.membership is not None
        and access.membership.is_admin
        and subscription.partner_of_record_id is not None
        and subscription.partner_of_record_id == access.membership.partner_id
    )


def direct_billing_old_end(subscription: Subscription, today: date) -> date:
    """The prepaid subscription's new last day: today (the day of the switch is its last,
    already paid), or its first day when it starts later (an end never precedes a start); an
    already ended one keeps its end date."""
    return min(subscription.end_date, max(today, subscription.start_date))


def prepaid_days_lost(subscription: Subscription, today: date) -> int:
    """Prepaid days given up by switching today: the days after today up to the end date — the
    "days left" every page shows (0 on the last day and after it)."""
    return max((subscription.end_date - today).days, 0)


def direct_billing_open(subscription: Subscription, today: date) -> bool:
    """Whether the subscription may still switch: a prepaid one, active, expired or disabled
    (design §5: renewing reactivates a disabled one, and switching is a renewal through direct
    billing); not a deleted one, nor one already billed directly or ended by a switch."""
    if subscription.billed_directly or subscription.ended_by_direct_billing:
        return False
    state = lifecycle_state_on(subscription.end_date, today)
    return State.DELETED not in (state, subscription.state)


def direct_billing_switch(
    *, access: TenantAccess, subscription: Subscription, today: date | None = None
) -> Subscription:
    """ "Switch to direct billing": a new subscription of the same product and seats starts today
    for the product's term, billed directly (no partner of record, no notice, no lifecycle: it
    renews on its own); the prepaid one ends today (or keeps its past end date) and is marked.
    A disabled one may switch: the new subscription makes the tenant usable again. Its licenses
    move to the new one. Audit and e-mails in the same transaction. Raises DirectBillingError
    when the subscription cannot switch."""
    today = today or timezone.localdate()
    with transaction.atomic():
        locked = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("tenant", "product", "partner_of_record")
            .filter(pk=subscription.pk, tenant=access.tenant)
            .first()
        )
        if locked is None or not direct_billing_allowed(access, locked):
            raise DirectBillingError(_("You cannot switch this subscription to direct billing."))
        if not direct_billing_open(locked, today):
            raise DirectBillingError(
                _("This subscription cannot switch to direct billing any more.")
            )
        lost = prepaid_days_lost(locked, today)
        old_end = locked.end_date
        to = recipients(tenant=locked.tenant, partner=locked.partner_of_record)
        if access.user.email not in {recipient.email for recipient in to}:
            to.append(
                Recipient(
                    email=access.user.email,
                    language=access.user.language,
                    user=access.user,
                    for_partner=access.membership is not None,
                )
            )
        locked.end_date = direct_billing_old_end(locked, today)
        locked.ended_by_direct_billing = True
        # Ended on purpose: no renewal notice, no lifecycle e-mail about it.
        locked.renewal_notice_on = None
        locked.save(update_fields=["end_date", "ended_by_direct_billing", "renewal_notice_on"])
        new = Subscription.objects.create(
            tenant=locked.tenant,
            product=locked.product,
            seats=locked.seats,
            start_date=today,
            end_date=subscription_end(today, locked.product.term_months),
            created_by_partner=None,
            partner_of_record=None,
            billed_directly=True,
            renewal_notice_on=None,
        )
        License.objects.filter(subscription=locked).update(subscription=new)
        activity_record(
            access,
            action="subscription.direct_billing",
            target=locked,
            details={"prepaid_days_lost": lost, "new_end_date": new.end_date.isoformat()},
        )
        audit_log(
            action="subscription.direct_billing",
            actor=access.user,
            partner=access.partner,
            tenant=locked.tenant,
            target=locked,
            details={
                **access.audit_details,
                "prepaid_end_date": old_end.isoformat(),
                "end_date": locked.end_date.isoformat(),
                "prepaid_days_lost": lost,
                "new_subscription": new.pk,
                "new_end_date": new.end_date.isoformat(),
            },
        )
        for recipient in to:
            email_queue(
                template="direct_billing",
                to=[recipient.email],
                language=recipient.language,
                context={
                    "tenant": locked.tenant,
                    "product": locked.product,
                    "old_end_date": old_end,
                    "ended_on": locked.end_date,
                    "start_date": today,
                    "end_date": new.end_date,
                    "days_lost": lost,
                    "for_partner": recipient.for_partner,
                    "path": _renew_url(new, recipient),
                },
            )
    return new
