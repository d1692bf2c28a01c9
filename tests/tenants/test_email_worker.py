"""The e-mails really travel through the broker: a Celery worker on Redis delivers the outbox."""

import contextlib
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from post_office.models import STATUS, Email

from portal.celery import app
from tenants.services import tenant_create

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@contextlib.contextmanager
def real_worker_running():
    """Tasks go through Redis to a worker thread instead of running in place (the test default)."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()  # nothing left over from another run
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        app.conf.task_always_eager = eager


def test_a_worker_on_redis_sends_the_emails_after_commit(
    transactional_db, partner_admin, northwind, make_keys, redeem, tenant_details, countries
):
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    with real_worker_running():
        tenant_create(redemption=redemption, user=partner_admin, details=tenant_details())
        deadline = time.monotonic() + 30
        while len(mail.outbox) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    assert list(Email.objects.values_list("status", flat=True)) == [STATUS.sent, STATUS.sent]
