"""A subscription's lifecycle as a function of its end date (design §5): the one home of its
dates, in both forms — Python, for one row (`lifecycle_state_on`), and SQL, for the queries that
select by state (`state_q`, `reached_q`, and the lifecycle sweep's `lifecycle_due_q`). Both are
derived from `STARTS_AFTER`, and tests/tenants/test_lifecycle_forms.py walks a year to prove
that they agree on every day.

The end date is the last day of service. Counted in days after it: expired from day 1 (grace:
still fully usable), disabled from RENEWAL_DISABLED_AFTER_DAYS (only admins sign in, nothing can
be assigned), deleted on RENEWAL_DELETED_AFTER_DAYS. The renewals app's lifecycle sweep applies
these states (and their e-mails and effects); pages read them from here so that they say the
same thing before the sweep has run.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce
from itertools import pairwise
from operator import or_

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.models import Subscription

State = Subscription.State

LIFECYCLE_ORDER = [State.ACTIVE, State.EXPIRED, State.DISABLED, State.DELETED]


def starts_after(state: str) -> int:
    """The day after the end date on which `state` begins (0 for active: from the start).
    Read from the settings on every call: ops configure them, tests override them."""
    return {
        State.ACTIVE: 0,
        State.EXPIRED: 1,
        State.DISABLED: settings.RENEWAL_DISABLED_AFTER_DAYS,
        State.DELETED: settings.RENEWAL_DELETED_AFTER_DAYS,
    }[state]


def state_starts_on(state: str, end_date: date) -> date:
    return end_date + timedelta(days=starts_after(state))


def expired_on(end_date: date) -> date:
    return state_starts_on(State.EXPIRED, end_date)


def disabled_on(end_date: date) -> date:
    return state_starts_on(State.DISABLED, end_date)


def deleted_on(end_date: date) -> date:
    return state_starts_on(State.DELETED, end_date)


def lifecycle_state_on(end_date: date, today: date) -> str:
    """The state the dates give: a function of the end date only, so a late run of the
    lifecycle sweep never skips one. The latest state whose first day has come."""
    state = State.ACTIVE
    for later in LIFECYCLE_ORDER[1:]:
        if state_starts_on(later, end_date) <= today:
            state = later
    return state


# The same dates in SQL: ranges on `end_date`, so that the (state, end_date) index serves them.
# `state_starts_on(state, end) <= today`  ⇔  `end <= today - starts_after(state)`.


def reached_q(state: str, today: date) -> Q:
    """The subscriptions whose end date gives `state`, or a later one, on `today`."""
    if state == State.ACTIVE:
        return Q()
    return Q(end_date__lte=today - timedelta(days=starts_after(state)))


def state_q(state: str, today: date) -> Q:
    """The subscriptions whose end date gives exactly `state` on `today`: `lifecycle_state_on`
    in SQL."""
    following = LIFECYCLE_ORDER.index(state) + 1
    if following == len(LIFECYCLE_ORDER):
        return reached_q(state, today)
    next_from = today - timedelta(days=starts_after(LIFECYCLE_ORDER[following]))
    return reached_q(state, today) & Q(end_date__gt=next_from)


def lifecycle_due_q(today: date) -> Q:
    """The subscriptions whose recorded state is behind what their end date gives on `today`
    (what the lifecycle sweep moves on). Each branch is a range on the (state, end_date) index:
    the cost follows what is due."""
    return reduce(
        or_,
        (
            Q(state=state) & reached_q(following, today)
            for state, following in pairwise(LIFECYCLE_ORDER)
        ),
    )


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
    for state in LIFECYCLE_ORDER[1:]:
        day = state_starts_on(state, end_date)
        if day > today:
            return state, day
    return None


def direct_billing_open(subscription: Subscription, today: date) -> bool:
    """Whether the subscription may still switch to direct billing: a prepaid one, active,
    expired or disabled (design §5: renewing reactivates a disabled one, and switching is a
    renewal through direct billing); not a deleted one, nor one already billed directly or ended
    by a switch. Here, not in renewals.services: what a subscription's answers and payloads
    offer (tenants.access.subscription_actions) asks it too."""
    if subscription.billed_directly or subscription.ended_by_direct_billing:
        return False
    state = lifecycle_state_on(subscription.end_date, today)
    return State.DELETED not in (state, subscription.state)


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
