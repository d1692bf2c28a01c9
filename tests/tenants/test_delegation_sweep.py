"""The daily delegated-admin sweep: offers past 90 days, end dates, auto-extension, and each
end-of-term notice once per relationship, end date, threshold and recipient."""

import datetime
import threading
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from post_office.models import Email

from portal.models import User
from tenants.delegation.sweep import delegation_sweep
from tenants.models import DelegationNotice, DelegationOffer, DelegationRelationship, TenantUser
from tests.factories import (
    DelegationOfferFactory,
    DelegationRelationshipFactory,
    TenantFactory,
)

D = datetime.date


def relationship(northwind, contoso, ends_on, **extra):
    return DelegationRelationshipFactory(
        partner=northwind, tenant=contoso, starts_on=D(2026, 1, 1), ends_on=ends_on, **extra
    )


def notices():
    return sorted(
        (n.threshold, n.recipient) for n in DelegationNotice.objects.order_by("threshold")
    )


def test_each_notice_goes_once_to_both_sides(northwind, contoso, partner_admin):
    relationship(northwind, contoso, D(2026, 6, 30))
    for day in (D(2026, 5, 31), D(2026, 5, 31), D(2026, 6, 1), D(2026, 6, 23)):
        delegation_sweep(today=day)
    assert notices() == [
        (7, "megan@contoso.example"), (7, "partner@northwind.example"),
        (30, "megan@contoso.example"), (30, "partner@northwind.example"),
    ]  # fmt: skip
    assert Email.objects.count() == 4
    french = Email.objects.filter(to=["megan@contoso.example"]).first()
    assert "se termine" in french.subject


def test_after_downtime_only_the_latest_threshold_goes(northwind, contoso, partner_admin):
    relationship(northwind, contoso, D(2026, 6, 30))
    delegation_sweep(today=D(2026, 6, 29))  # 1 day left: the 30 and 7 are stale
    assert {n.threshold for n in DelegationNotice.objects.all()} == {1}


def test_on_the_day_then_expired_and_access_is_not_restored(northwind, contoso, partner_admin):
    rel = relationship(northwind, contoso, D(2026, 6, 30))
    delegation_sweep(today=D(2026, 6, 30))
    assert {n.threshold for n in DelegationNotice.objects.all()} == {0}
    rel.refresh_from_db()
    assert rel.state == "active"
    assert delegation_sweep(today=D(2026, 7, 1))["expired"] == 1
    rel.refresh_from_db()
    assert rel.state == "expired"
    delegation_sweep(today=D(2026, 7, 2))
    rel.refresh_from_db()
    assert rel.state == "expired"


def test_auto_extend_moves_the_end_by_180_days_on_the_last_day(northwind, contoso, partner_admin):
    rel = relationship(northwind, contoso, D(2026, 6, 30), auto_extend=True)
    assert delegation_sweep(today=D(2026, 6, 30))["extended"] == 1
    rel.refresh_from_db()
    assert (rel.state, rel.ends_on) == ("active", D(2026, 12, 27))
    # The thresholds start over for the new end date.
    delegation_sweep(today=D(2026, 11, 27))
    assert DelegationNotice.objects.filter(ends_on=D(2026, 12, 27), threshold=30).count() == 2


def test_global_administrator_never_auto_extends(northwind, contoso, partner_admin):
    rel = relationship(northwind, contoso, D(2026, 6, 30), auto_extend=True, roles=["global_admin"])
    delegation_sweep(today=D(2026, 6, 30))
    delegation_sweep(today=D(2026, 7, 1))
    rel.refresh_from_db()
    assert (rel.state, rel.ends_on) == ("expired", D(2026, 6, 30))


def test_a_terminated_relationship_gets_no_notice(northwind, contoso, partner_admin):
    relationship(northwind, contoso, D(2026, 6, 30), state="terminated")
    delegation_sweep(today=D(2026, 6, 23))
    assert notices() == []


def test_offers_unanswered_for_90_days_expire(northwind, contoso, partner_admin):
    with time_machine.travel(datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.UTC)):
        offer = DelegationOfferFactory(partner=northwind, tenant=contoso, created_by=partner_admin)
    assert delegation_sweep(today=D(2026, 3, 31))["offers_expired"] == 0
    out = StringIO()
    call_command("delegation_sweep", "--date", "2026-04-02", stdout=out)
    assert "1 offer(s) expired" in out.getvalue()
    offer.refresh_from_db()
    assert offer.state == DelegationOffer.State.EXPIRED


@pytest.mark.postgres
def test_parallel_sweeps_send_each_notice_once(transactional_db, northwind, contoso, partner_admin):
    for n in range(5):
        tenant = TenantFactory(created_by_partner=northwind)
        user = User.objects.create_user(f"admin{n}@example.com", "x")
        TenantUser.objects.create(
            tenant=tenant, user=user, first_name="A", last_name="B", email=user.email,
            is_admin=True,
        )  # fmt: skip
        relationship(northwind, tenant, D(2026, 6, 30))
    relationship(northwind, contoso, D(2026, 6, 30))
    barrier = threading.Barrier(8)
    failures = []

    def sweep():
        try:
            barrier.wait(timeout=30)
            delegation_sweep(today=D(2026, 6, 23))
        except Exception as error:  # any exception fails the test
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    # 6 relationships, each to (the partner's admin + the tenant's admin), each once.
    assert DelegationNotice.objects.count() == 12
    assert Email.objects.count() == 12
    assert DelegationRelationship.objects.filter(state="active").count() == 6
