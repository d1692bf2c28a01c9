"""The lifecycle after the end date (design §5): expired, disabled, deleted, each applied once,
with its audit event, its effects and one e-mail to the notice recipients. The dates are
tenants.lifecycle's; this sweep records them."""

from datetime import date

from django.db import transaction
from django.utils import timezone

from portal.emails import EmailBatch
from portal.models import User
from portal.services import audit_log
from renewals.services.batches import BATCH_SIZE, due_batch, first_time
from renewals.services.notices import NoticeBatch
from tenants import webhooks
from tenants.lifecycle import (
    LIFECYCLE_ORDER,
    lifecycle_due_q,
    lifecycle_state_on,
    state_starts_on,
)
from tenants.models import License, Subscription, TenantUser

State = Subscription.State


def lifecycle_advance(*, today: date | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Move every subscription to the state its end date gives on `today`; the number moved.

    A late run goes through every state it missed: each gets its audit event and its effects
    (deletion removes the data), and the recipients get one e-mail, about the state reached.
    """
    today = today or timezone.localdate()
    now = timezone.now()
    emails = EmailBatch("lifecycle")
    moved = 0
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            batch = due_batch(
                Subscription.objects.filter(
                    lifecycle_due_q(today), ended_by_direct_billing=False, billed_directly=False
                ),
                batch_size,
            )
            if not batch:
                return moved
            first_time(batch, seen)
            # Who listens for changes of state: one query per batch (one more if a partner does).
            audience = webhooks.Audience(
                "subscription.state_changed", [s.tenant_id for s in batch], today=today
            )
            notices = NoticeBatch(batch, emails=emails, today=today, now=now)
            for subscription in batch:
                _subscription_advance(subscription, today=today, audience=audience, notices=notices)
                moved += 1
            notices.queue()


def _subscription_advance(
    subscription: Subscription,
    *,
    today: date,
    audience: webhooks.Audience,
    notices: NoticeBatch,
) -> None:
    target = lifecycle_state_on(subscription.end_date, today)
    before = subscription.state
    passed = LIFECYCLE_ORDER[LIFECYCLE_ORDER.index(before) + 1 : LIFECYCLE_ORDER.index(target) + 1]
    if target == State.DELETED:
        # Queued (and claimed) before the data goes: the tenant's admins are among the
        # recipients, and their ledger rows name their accounts, which the deletion removes.
        notices.add(subscription, event=target, days_before=0)
        notices.queue()
        removed = _subscription_delete_data(subscription)
    else:
        removed = {}
    subscription.state = target
    subscription.save(update_fields=["state"])
    for state in passed:
        audit_log(
            # Literals: tests/portal/test_audit_labels.py reads every code written from here.
            action=(
                "subscription.expired"
                if state == State.EXPIRED
                else "subscription.disabled"
                if state == State.DISABLED
                else "subscription.deleted"
            ),
            actor=None,
            target=subscription,
            tenant=subscription.tenant,
            partner=subscription.partner_of_record,
            details={
                "end_date": subscription.end_date.isoformat(),
                "state": [before, str(state)],
                "due_on": state_starts_on(state, subscription.end_date).isoformat(),
                "run_on": today.isoformat(),
                **(removed if state == State.DELETED else {}),
            },
        )
        webhooks.state_changed(audience, subscription, before, state, today)
        before = str(state)
    if target != State.DELETED:
        notices.add(subscription, event=target, days_before=0)


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
