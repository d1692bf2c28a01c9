"""Reads the renewals pages share: the partner's renewal list and its filters."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet
from django.utils.translation import gettext

from portal.models import Partner
from tenants.access import Permission, partner_customers
from tenants.lifecycle import reached_q, state_label, state_q, subscription_state
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


@dataclass(frozen=True)
class RenewalRow:
    subscription: Subscription
    state: str
    days_left: int

    @property
    def state_label(self) -> str:
        return state_label(self.subscription, self.state)

    @property
    def days_left_shown(self) -> int | str:
        """The list's "Days left": the number, or "ended" once the end date has passed. The page
        and its CSV export both show this."""
        return self.days_left if self.days_left >= 0 else gettext("ended")


def renewal_row(subscription: Subscription, today: date) -> RenewalRow:
    """The state the pages show, and the days left: after today, up to the end date (0 on the
    last day) — the prepaid days a switch to direct billing today gives up."""
    return RenewalRow(
        subscription,
        subscription_state(subscription, today),
        (subscription.end_date - today).days,
    )
