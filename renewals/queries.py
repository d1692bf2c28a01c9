"""Reads the renewals pages share: the partner's renewal list and its filters."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from portal.models import Partner
from tenants.lifecycle import state_label, subscription_state
from tenants.models import Subscription

State = Subscription.State

WINDOWS = ("7", "30", "60", "expired", "disabled")
STATES = (State.ACTIVE, State.EXPIRED, State.DISABLED)


def partner_subscriptions(partner: Partner) -> QuerySet[Subscription]:
    """Every subscription the partner created or is partner of record for, still renewable
    (not deleted, not replaced by direct billing, not billed directly: nothing to renew)."""
    return (
        Subscription.objects.filter(Q(created_by_partner=partner) | Q(partner_of_record=partner))
        .exclude(state=State.DELETED)
        .filter(ended_by_direct_billing=False, billed_directly=False)
    )


def _state_range(state: str, today: date) -> Q:
    """The end dates that give `state` today (the dates decide, as on every page)."""
    disabled_from = today - timedelta(days=settings.RENEWAL_DISABLED_AFTER_DAYS)
    deleted_from = today - timedelta(days=settings.RENEWAL_DELETED_AFTER_DAYS)
    if state == State.ACTIVE:
        return Q(end_date__gte=today)
    if state == State.EXPIRED:
        return Q(end_date__lt=today, end_date__gt=disabled_from)
    return Q(end_date__lte=disabled_from, end_date__gt=deleted_from)


def renewal_list(
    partner: Partner, *, today: date, window: str = "", state: str = ""
) -> QuerySet[Subscription]:
    """The partner's renewal list, soonest end first, filtered by window and state."""
    rows = partner_subscriptions(partner).filter(
        end_date__gt=today - timedelta(days=settings.RENEWAL_DELETED_AFTER_DAYS)
    )
    if window in ("7", "30", "60"):
        rows = rows.filter(end_date__gte=today, end_date__lte=today + timedelta(days=int(window)))
    elif window in ("expired", "disabled"):
        rows = rows.filter(_state_range(window, today))
    if state in STATES:
        rows = rows.filter(_state_range(state, today))
    return rows.select_related("tenant", "product", "partner_of_record").order_by("end_date", "pk")


@dataclass(frozen=True)
class RenewalRow:
    subscription: Subscription
    state: str
    days_left: int

    @property
    def state_label(self) -> str:
        return state_label(self.subscription, self.state)


def renewal_row(subscription: Subscription, today: date) -> RenewalRow:
    """The state the pages show, and the days left: after today, up to the end date (0 on the
    last day) — the prepaid days a switch to direct billing today gives up."""
    return RenewalRow(
        subscription,
        subscription_state(subscription, today),
        (subscription.end_date - today).days,
    )
