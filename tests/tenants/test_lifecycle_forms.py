"""tenants.lifecycle holds a subscription's lifecycle dates in two forms: Python, for one row
(`lifecycle_state_on`), and SQL, for the queries (`state_q`, and the lifecycle sweep's
`lifecycle_due_q`). This walks every day of a year, for end dates before, in and after it, and
asserts that both forms say the same thing on every day, on PostgreSQL."""

from datetime import date, timedelta

import pytest

from tenants.lifecycle import LIFECYCLE_ORDER, lifecycle_due_q, lifecycle_state_on, state_q
from tenants.models import Subscription
from tests.factories import ProductFactory, TenantFactory

pytestmark = [pytest.mark.postgres]

State = Subscription.State
YEAR = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
# Every fourth day from before the year (deleted in January) to after it (active all year): each
# end date meets its boundaries on different days of the year, some on the first and last.
END_DATES = [date(2025, 8, 20) + timedelta(days=4 * n) for n in range(125)]


@pytest.fixture
def subscriptions(northwind):
    """One subscription per end date and per recorded state: the sweep's query looks at both."""
    tenants = {state: TenantFactory(created_by_partner=northwind) for state in LIFECYCLE_ORDER}
    products = [ProductFactory(sku=f"P{index}") for index in range(len(END_DATES))]
    return Subscription.objects.bulk_create(
        Subscription(
            tenant=tenants[state],
            product=product,
            seats=1,
            start_date=min(end, date(2025, 1, 1)),
            end_date=end,
            state=state,
        )
        for state in LIFECYCLE_ORDER
        for product, end in zip(products, END_DATES, strict=True)
    )


@pytest.mark.parametrize(("disabled_after", "deleted_after"), [(30, 120), (1, 2), (14, 45)])
def test_it_gives_the_same_state_in_python_and_in_sql_on_every_day_of_a_year(
    subscriptions, settings, disabled_after, deleted_after
):
    settings.RENEWAL_DISABLED_AFTER_DAYS = disabled_after
    settings.RENEWAL_DELETED_AFTER_DAYS = deleted_after
    wrong = []
    for today in YEAR:
        by_python = {end: lifecycle_state_on(end, today) for end in END_DATES}
        for state in LIFECYCLE_ORDER:
            in_sql = set(
                Subscription.objects.filter(state_q(state, today)).values_list(
                    "end_date", flat=True
                )
            )
            expected = {end for end, given in by_python.items() if given == state}
            if in_sql != expected:
                wrong.append((today, state, sorted(in_sql ^ expected)))
        due_in_sql = set(Subscription.objects.filter(lifecycle_due_q(today)).values_list("pk"))
        due = {
            (row.pk,)
            for row in subscriptions
            if LIFECYCLE_ORDER.index(row.state) < LIFECYCLE_ORDER.index(by_python[row.end_date])
        }
        if due_in_sql != due:
            wrong.append((today, "due", sorted(due_in_sql ^ due)))
    assert wrong == []
    # The walk met every state (expired has no day of its own when disabled comes on day 1).
    met = {lifecycle_state_on(end, day) for end in END_DATES for day in YEAR}
    assert met == set(LIFECYCLE_ORDER) - ({State.EXPIRED} if disabled_after == 1 else set())
