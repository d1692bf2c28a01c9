"""A whole year, one day at a time, for several subscriptions: every notice and every state
change happens on its day, once."""

import datetime
from datetime import date, timedelta

import time_machine
from post_office.models import Email

from portal.models import AuditEvent
from renewals.models import RenewalNotice
from renewals.services import lifecycle_advance, renewal_notices_send
from tenants.models import Subscription

START = date(2026, 1, 1)
State = Subscription.State


def test_a_year_of_sweeps(subscribe, northwind):
    with time_machine.travel(datetime.datetime(2026, 1, 1, 6, tzinfo=datetime.UTC), tick=False):
        ends = {
            "early": subscribe(date(2026, 2, 10), sku="A"),  # 60-day threshold already past
            "spring": subscribe(date(2026, 5, 31), sku="B"),
            "summer": subscribe(date(2026, 8, 15), sku="C"),
            "renewed": subscribe(date(2026, 4, 30), sku="D"),
            "late": subscribe(date(2027, 6, 30), sku="E"),  # nothing this year
        }
        for subscription in ends.values():
            # As created: the sweep works out the schedule on its first run.
            Subscription.objects.filter(pk=subscription.pk).update(renewal_notice_on=START)
    renewed = ends["renewed"]
    day = START
    while day <= date(2026, 12, 31):
        with time_machine.travel(
            datetime.datetime.combine(day, datetime.time(6), tzinfo=datetime.UTC), tick=False
        ):
            if day == date(2026, 4, 20):
                # Renewed with a key ten days before its end (keys_apply's writes).
                Subscription.objects.filter(pk=renewed.pk).update(
                    end_date=date(2027, 4, 30), renewal_notice_on=day
                )
            # Beat runs several times a day: the second run finds nothing.
            for _run in range(2):
                renewal_notices_send(today=day)
                lifecycle_advance(today=day)
        day += timedelta(days=1)

    def sent(subscription):
        return sorted(
            (row.created_at.date(), row.event, row.days_before)
            for row in RenewalNotice.objects.filter(
                subscription=subscription, recipient_email="partner@northwind.example"
            )
        )

    # Created 40 days before its end: the most recent threshold (60) goes out on the first day.
    early_end = date(2026, 2, 10)
    assert sent(ends["early"]) == [
        (START, "notice", 60),
        (early_end - timedelta(days=30), "notice", 30),
        (early_end - timedelta(days=7), "notice", 7),
        (early_end - timedelta(days=1), "notice", 1),
        (early_end + timedelta(days=1), "expired", 0),
        (early_end + timedelta(days=30), "disabled", 0),
        (early_end + timedelta(days=120), "deleted", 0),
    ]
    for key in ("spring", "summer"):
        end = ends[key].end_date
        expected = [(end - timedelta(days=d), "notice", d) for d in (60, 30, 7, 1)]
        expected += [
            (end + timedelta(days=1), "expired", 0),
            (end + timedelta(days=30), "disabled", 0),
            (end + timedelta(days=120), "deleted", 0),
        ]
        assert sent(ends[key]) == sorted(expected), key
    # Renewed in the middle of its schedule: its old end's 60 and 30, then the new end's 60.
    old, new = date(2026, 4, 30), date(2027, 4, 30)
    assert sent(renewed) == [
        (old - timedelta(days=60), "notice", 60),
        (old - timedelta(days=30), "notice", 30),
    ]
    assert (
        sorted(
            RenewalNotice.objects.filter(subscription=renewed).values_list("end_date", flat=True)
        )
        == [old] * 4
    )
    renewed.refresh_from_db()
    assert renewed.state == State.ACTIVE and renewed.renewal_notice_on == new - timedelta(days=60)
    assert sent(ends["late"]) == []
    # The customer's admin got the same as the partner, each e-mail once.
    assert RenewalNotice.objects.filter(recipient_email="megan@contoso.example").count() == (
        RenewalNotice.objects.filter(recipient_email="partner@northwind.example").count()
    )
    assert Email.objects.count() == RenewalNotice.objects.count() == 2 * (7 + 7 + 7 + 2)
    # Spring's deletion removed the customer's users only once no subscription was alive.
    assert AuditEvent.objects.filter(action="subscription.deleted").count() == 3
