"""A subscription's lifecycle as a function of its end date (design §5), for every page.

The end date is the last day of service. Counted in days after it: expired from day 1 (grace:
still fully usable), disabled from RENEWAL_DISABLED_AFTER_DAYS (only admins sign in, nothing can
be assigned), deleted on RENEWAL_DELETED_AFTER_DAYS. The renewals app's lifecycle sweep applies
these states (and their e-mails and effects); pages read them from here so that they say the
same thing before the sweep has run.
"""

from datetime import date, timedelta

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tenants.models import Subscription

State = Subscription.State

LIFECYCLE_ORDER = [State.ACTIVE, State.EXPIRED, State.DISABLED, State.DELETED]


def expired_on(end_date: date) -> date:
    return end_date + timedelta(days=1)


def disabled_on(end_date: date) -> date:
    return end_date + timedelta(days=settings.RENEWAL_DISABLED_AFTER_DAYS)


def deleted_on(end_date: date) -> date:
    return end_date + timedelta(days=settings.RENEWAL_DELETED_AFTER_DAYS)


def lifecycle_state_on(end_date: date, today: date) -> str:
    """The state the dates give: a function of the end date only, so a late run of the
    lifecycle sweep never skips one."""
    if today <= end_date:
        return State.ACTIVE
    if today < disabled_on(end_date):
        return State.EXPIRED
    if today < deleted_on(end_date):
        return State.DISABLED
    return State.DELETED


def subscription_state(subscription: Subscription, today: date) -> str:
    """The state a page or a rule goes by: the later of the recorded one and the one the dates
    give (a subscription past day 30 is disabled before the sweep records it; a deleted one stays
    deleted). A directly billed subscription renews on its own with the vendor: always active."""
    if subscription.billed_directly:
        return State.ACTIVE
    by_dates = lifecycle_state_on(subscription.end_date, today)
    return max(subscription.state, by_dates, key=LIFECYCLE_ORDER.index)


def in_lifecycle(subscription: Subscription) -> bool:
    """Whether the subscription goes through notices and the lifecycle: not when it is billed
    directly (it renews on its own), nor when a switch to direct billing ended it."""
    return not (subscription.billed_directly or subscription.ended_by_direct_billing)


def state_label(subscription: Subscription, state: str) -> str:
    """The state as pages name it."""
    if subscription.ended_by_direct_billing:
        return str(_("Ended (direct billing)"))
    if subscription.billed_directly:
        return str(_("Active (billed directly)"))
    return str(State(state).label)


def next_change(end_date: date, today: date) -> tuple[str, date] | None:
    """What happens next to a subscription ending on `end_date`, and when: (state, day), or
    None once it is deleted."""
    for state, day in (
        (State.EXPIRED, expired_on(end_date)),
        (State.DISABLED, disabled_on(end_date)),
        (State.DELETED, deleted_on(end_date)),
    ):
        if day > today:
            return state, day
    return None
