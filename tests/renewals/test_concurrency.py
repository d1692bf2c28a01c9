"""Sweeps racing each other on PostgreSQL, an SMTP outage, and a real worker on Redis."""

import threading
from datetime import date, timedelta

import pytest
from django.core import mail
from django.db import connection
from post_office.models import STATUS, Email

from portal.outbox import outbox_deliver
from renewals.models import RenewalNotice
from renewals.services import lifecycle_advance, renewal_notices_send
from tests.helpers import real_worker_running, wait_for

END = date(2026, 6, 30)
pytestmark = [pytest.mark.postgres]


def _race(target, count: int):
    barrier = threading.Barrier(count)
    errors = []

    def run():
        try:
            barrier.wait()
            target()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_parallel_sweeps_send_each_notice_once(subscribe, countries):
    for index in range(30):
        subscribe(END + timedelta(days=index % 3), sku=f"P{index}")
    day = END - timedelta(days=7)
    _race(lambda: renewal_notices_send(today=day, batch_size=5), 6)
    assert RenewalNotice.objects.count() == 30 * 2
    assert Email.objects.count() == 30 * 2
    sent = {(tuple(to), subject) for to, subject in Email.objects.values_list("to", "subject")}
    assert len(sent) == 30 * 2


@pytest.mark.django_db(transaction=True)
def test_parallel_lifecycle_sweeps_apply_each_change_once(subscribe, countries):
    from portal.models import AuditEvent

    for index in range(20):
        subscribe(END, sku=f"L{index}")
    _race(lambda: lifecycle_advance(today=END + timedelta(days=31), batch_size=3), 5)
    assert AuditEvent.objects.filter(action="subscription.disabled").count() == 20
    assert AuditEvent.objects.filter(action="subscription.expired").count() == 20
    assert Email.objects.count() == 20 * 2


def test_an_smtp_outage_delays_the_notices_and_loses_none(subscribe, settings):
    subscribe(END)
    renewal_notices_send(today=END - timedelta(days=30))
    settings.EMAIL_BACKEND = "tests.mail_backends.DownBackend"
    outbox_deliver()
    assert mail.outbox == []
    # The sweep again, during the outage: nothing is queued twice.
    assert renewal_notices_send(today=END - timedelta(days=29)) == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Email.objects.update(scheduled_time=None)  # their retry is due
    for _ in range(3):
        outbox_deliver()
    assert sorted(m.to[0] for m in mail.outbox) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    assert set(Email.objects.values_list("status", flat=True)) == {STATUS.sent}


@pytest.mark.redis
def test_a_worker_on_redis_sends_the_notices(transactional_db, subscribe, countries):
    subscribe(END)
    with real_worker_running():
        renewal_notices_send(today=END - timedelta(days=1))
        wait_for(lambda: len(mail.outbox) >= 2, 30)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    assert list(Email.objects.values_list("status", flat=True)) == [STATUS.sent, STATUS.sent]
