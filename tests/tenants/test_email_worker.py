"""The e-mails really travel through the broker: a Celery worker on Redis delivers the outbox."""

import pytest
from django.core import mail
from post_office.models import STATUS, Email

from tenants.services import tenant_create
from tests.helpers import real_worker_running, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def test_a_worker_on_redis_sends_the_emails_after_commit(
    transactional_db, partner_admin, northwind, make_keys, redeem, tenant_details, countries
):
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    with real_worker_running():
        tenant_create(redemption=redemption, user=partner_admin, details=tenant_details())
        wait_for(lambda: len(mail.outbox) >= 2, 30)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    assert list(Email.objects.values_list("status", flat=True)) == [STATUS.sent, STATUS.sent]
