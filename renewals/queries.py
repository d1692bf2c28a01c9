"""Reads the renewals pages and the API share: the partner's renewal list and its filters, a
subscription through the tenant rule, and what a subscription's page shows (its timeline, what
happens next, what may be done)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet
from django.http import Http404

from portal.models import Partner, User
from renewals import schedule
from tenants.access import (
    Permission,
    SubscriptionActions,
    TenantAccess,
    partner_customers,
    partner_tenant_accesses,
    subscription_actions,
    subscription_of,
    tenant_access,
)
from tenants.lifecycle import (
    RenewalRow,
    in_lifecycle,
    next_change,
    reached_q,
    renewal_row,
    state_q,
)
from tenants.models import Subscription

State = Subscription.State

WINDOWS = ("7", "30", "60", "expired", "disabled")
STATES = (State.ACTIVE, State.EXPIRED, State.DISABLED)


def partner_subscriptions(partner: Partner, *, today: date) -> QuerySet[Subscription]:
    """The subscriptions of the partner's customers whose subscriptions it may read (the tenant
    rule: created the tenant, partner of record for one of its subscriptions, or a relationship
    in force whose roles allow it), still renewable (not deleted, not replaced by direct
    billing, not billed directly: nothing to renew)."""
    customers = partner_customers(partner, permission=Permission.SUBSCRIPTIONS_READ, today=today)
    return (
        Subscription.objects.filter(tenant__in=customers)
        .exclude(state=State.DELETED)
        .filter(ended_by_direct_billing=False, billed_directly=False)
    )


def renewal_list(
    partner: Partner, *, today: date, window: str = "", state: str = ""
) -> QuerySet[Subscription]:
    """The partner's renewal list, soonest end first, filtered by window and state (the dates
    decide the state, as on every page)."""
    rows = partner_subscriptions(partner, today=today).exclude(reached_q(State.DELETED, today))
    if window in ("7", "30", "60"):
        rows = rows.filter(end_date__gte=today, end_date__lte=today + timedelta(days=int(window)))
    elif window in ("expired", "disabled"):
        rows = rows.filter(state_q(window, today))
    if state in STATES:
        rows = rows.filter(state_q(state, today))
    return rows.select_related("tenant", "product", "partner_of_record").order_by("end_date", "pk")


def readable_subscription(user: User, pk: int) -> tuple[TenantAccess, Subscription]:
    """The subscription through the tenant rule, for a partner that may read the tenant's
    subscriptions (seats, dates, states): the same 404 for missing and forbidden. Reading the
    customer is not enough — a delegated helpdesk sees users, not subscriptions."""
    tenant_id = Subscription.objects.filter(pk=pk).values_list("tenant_id", flat=True).first()
    if tenant_id is None:
        raise Http404
    access = tenant_access(user=user, tenant_id=tenant_id, permission=Permission.SUBSCRIPTIONS_READ)
    return access, subscription_of(access, pk)


def renewal_list_actions(
    user: User, subscriptions: Iterable[Subscription], today: date
) -> dict[int, SubscriptionActions]:
    """{subscription id: actions} for a page of the renewal list, in a fixed number of queries
    (the tenant rule asked once for all the rows' tenants)."""
    subscriptions = list(subscriptions)
    accesses = partner_tenant_accesses(user, [row.tenant_id for row in subscriptions])
    return {
        row.pk: subscription_actions(accesses.get(row.tenant_id), row, today)
        for row in subscriptions
    }


def replacement(subscription: Subscription) -> Subscription | None:
    """The directly billed subscription that replaced one ended by the switch."""
    if not subscription.ended_by_direct_billing:
        return None
    return Subscription.objects.filter(
        tenant_id=subscription.tenant_id,
        product_id=subscription.product_id,
        billed_directly=True,
        ended_by_direct_billing=False,
    ).first()


@dataclass(frozen=True)
class SubscriptionOverview:
    """What a subscription's page shows. A prepaid subscription has its timeline and what happens
    next; a directly billed one (renews on its own) and one ended by the switch have no
    lifecycle to show."""

    row: RenewalRow
    lifecycle: bool
    timeline: list[schedule.TimelineEvent] | None
    next_change: tuple[str, date] | None
    replacement: Subscription | None
    actions: SubscriptionActions


def subscription_overview(
    access: TenantAccess, subscription: Subscription, today: date
) -> SubscriptionOverview:
    lifecycle = in_lifecycle(subscription)
    return SubscriptionOverview(
        row=renewal_row(subscription, today),
        lifecycle=lifecycle,
        timeline=schedule.timeline(subscription, today, schedule.notice_offsets())
        if lifecycle
        else None,
        next_change=next_change(subscription.end_date, today) if lifecycle else None,
        replacement=replacement(subscription),
        actions=subscription_actions(access, subscription, today),
    )
