"""The e-mails of "Create my account" are written with the tenant and survive a broker outage."""

import contextlib

import pytest
from django.core import mail
from post_office.models import STATUS, Email

from portal.celery import app as celery_app
from portal.outbox import outbox_deliver
from tenants.models import Tenant
from tenants.services import tenant_create
from tenants.services import tenants as services
from tests.helpers import contoso_details

FORM = contoso_details(language="en")


@pytest.fixture
def redemption(partner_admin, northwind, make_keys, redeem, countries):
    return redeem(partner_admin, northwind, *make_keys(1))


def test_it_writes_both_emails_in_the_tenants_transaction(
    partner_admin, redemption, tenant_details
):
    tenant_create(redemption=redemption, user=partner_admin, details=tenant_details())
    assert sorted(Email.objects.values_list("to", flat=True)) == [
        ["megan@contoso.example"],
        ["partner@northwind.example"],
    ]
    assert set(Email.objects.values_list("status", flat=True)) == {STATUS.queued}


def test_a_failure_after_the_emails_were_queued_leaves_neither_tenant_nor_email(
    partner_admin, redemption, tenant_details, monkeypatch
):
    real = services.tenant_created_email_queue

    def queue_then_fail(**kwargs):
        real(**kwargs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "tenant_created_email_queue", queue_then_fail)
    with pytest.raises(RuntimeError):
        tenant_create(redemption=redemption, user=partner_admin, details=tenant_details())
    assert not Tenant.objects.exists()
    assert not Email.objects.exists()


@contextlib.contextmanager
def broker_down():
    """Tasks go to a broker where nothing listens (port 1: a real refused connection), as in
    production rather than run in place."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager

    def new_connections():
        # Celery keeps the broker connections of its first publish in a pool: without this, the
        # address below would not be used (or, afterwards, would stay in use).
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    conf.broker_url, conf.task_always_eager = "redis://127.0.0.1:1/0", False
    new_connections()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager = saved
        new_connections()


@pytest.mark.redis
@pytest.mark.postgres
def test_it_creates_the_account_and_keeps_the_emails_while_the_broker_is_down(
    transactional_db, client, partner_admin, redemption
):
    # Real commits, so the kick after commit runs inside the request, as in production.
    client.force_login(partner_admin)
    with broker_down():
        response = client.post(f"/partner/redeem/{redemption.pk}/customer/", FORM)
    tenant = Tenant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/partner/customers/{tenant.pk}/created/"
    assert Email.objects.filter(status=STATUS.queued).count() == 2
    assert mail.outbox == []
    # The broker is back: the periodic pickup sends both.
    assert outbox_deliver() == 2
    assert sorted(m.to[0] for m in mail.outbox) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]


def test_plain_text_is_not_html_escaped_and_html_is(partner_admin, redemption, tenant_details):
    tenant_create(
        redemption=redemption, user=partner_admin, details=tenant_details(name="Dupont & Co")
    )
    outbox_deliver()
    for message in mail.outbox:
        html = message.alternatives[0].content
        assert "Dupont & Co" in message.subject
        assert "Dupont & Co" in message.body
        assert "&amp;" not in message.subject + message.body
        assert "Dupont &amp; Co" in html
        assert "Dupont & Co" not in html
