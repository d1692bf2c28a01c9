"""Partners' endpoints: only public https addresses, checked again at each try; secrets shown
once and stored encrypted; every change audited."""

import socket

import pytest
from django.db import transaction

from portal.models import AuditEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from portal.webhooks import addresses
from portal.webhooks.secrets import secret_decrypt
from portal.webhooks.services import (
    WebhookError,
    webhook_endpoint_change,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_event_emit,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PUBLIC = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch):
    """What names resolve to: set `dns[name] = address`."""
    answers = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def no_loopback(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # the cloud's metadata service
        "100.64.0.1",  # carrier-grade NAT
        "224.0.0.1",
        "0.0.0.0",  # noqa: S104 (an address refused, not one listened on)
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
    ],
)
def test_hosts_resolving_to_private_or_local_addresses_are_refused(dns, no_loopback, address):
    dns["hooks.example"] = address
    problem = addresses.url_problem("https://hooks.example/in")
    assert problem and "private or local network" in problem


def test_a_public_https_url_is_accepted(dns, no_loopback):
    dns["hooks.example"] = PUBLIC
    assert addresses.url_problem("https://hooks.example/in") is None
    target = addresses.url_target("https://hooks.example:8443/in?x=1")
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example",
        8443,
        "/in?x=1",
        PUBLIC,
    )


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example/in", "only sent to https"),
        ("ftp://hooks.example/in", "valid https"),
        ("https://user:pw@hooks.example/in", "user name or password"),
        ("https:///in", "valid https"),
        ("https://hooks.example:99999/", "valid URL"),
        ("http://127.0.0.1:8000/in", "only sent to https"),
        ("http://localhost:8000/in", "only sent to https"),
    ],
)
def test_other_urls_are_refused(dns, no_loopback, url, words):
    dns["hooks.example"] = PUBLIC
    assert words in addresses.url_problem(url)


def test_an_unknown_host_is_refused(no_loopback):
    assert "could not be found" in addresses.url_problem("https://nothing.invalid/")


def test_loopback_is_allowed_only_by_the_setting_and_only_for_loopback(dns, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    assert addresses.url_problem("http://127.0.0.1:8000/in") is None
    assert addresses.url_problem("http://localhost:8000/in") is None
    dns["hooks.example"] = "127.0.0.1"
    assert "private or local" in addresses.url_problem("https://hooks.example/in")
    dns["localhost"] = "10.0.0.1"
    assert "private or local" in addresses.url_problem("http://localhost:8000/in")


def test_registering_a_private_address_is_refused(dns, no_loopback, partner_admin):
    dns["hooks.example"] = "10.0.0.1"
    with pytest.raises(WebhookError) as refused:
        webhook_endpoint_create(
            membership=partner_admin.partner_membership,
            url="https://hooks.example/in",
            event_types=["customer.created"],
        )
    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()


def test_an_address_that_turns_private_after_registration_gets_nothing(
    dns, endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    dns["localhost"] = "127.0.0.1"
    WebhookEndpoint.objects.update(url=receiver.url.replace("127.0.0.1", "localhost"))
    dns["localhost"] = "10.0.0.1"  # DNS rebinding: the name now points inside
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        webhook_event_emit(type="customer.created", partner=northwind, payload={})
    assert receiver.received == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None and "private or local" in attempt.error
    assert WebhookDelivery.objects.get().state == WebhookDelivery.State.QUEUED


def test_the_connection_goes_to_the_address_checked(dns, endpoint, receiver, monkeypatch):
    """The name is resolved once per try: the socket connects to that answer, and the Host
    header still names the host."""
    dns["localhost"] = "127.0.0.1"
    connected = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        connected.append(address[0])
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    url = receiver.url.replace("127.0.0.1", "localhost")
    target = addresses.url_target(url)
    answer = addresses.post(target, b"{}", {"Content-Type": "application/json"})
    assert answer.status_code == 200 and connected == ["127.0.0.1"]
    assert receiver.received[0].headers["host"] == f"localhost:{target.port}"


def test_creating_shows_the_secret_once_and_stores_it_encrypted(partner_admin, endpoint, receiver):
    (secret,) = receiver.secrets
    assert secret.startswith("whsec_") and len(secret) > 40
    stored = WebhookEndpoint.objects.get()
    assert secret not in stored.secret_encrypted
    assert secret_decrypt(stored.secret_encrypted) == secret
    assert stored.event_types == ["customer.created", "subscription.renewed"]
    assert stored.created_by == partner_admin


def test_agents_and_other_partners_do_not_manage_endpoints(
    endpoint, partner_agent, other_partner_admin
):
    with pytest.raises(WebhookError):
        webhook_endpoint_create(
            membership=partner_agent.partner_membership,
            url="http://127.0.0.1:9/",
            event_types=["customer.created"],
        )
    with pytest.raises(WebhookError):
        webhook_endpoint_disable(endpoint=endpoint, actor=other_partner_admin)


def test_changing_an_endpoint_checks_the_new_url_and_is_audited(
    dns, endpoint, partner_admin, partner_agent, other_partner_admin
):
    dns["hooks.example"] = PUBLIC
    webhook_endpoint_change(
        endpoint=endpoint,
        actor=partner_admin,
        url="  https://hooks.example/in  ",
        event_types=["subscription.renewed", "customer.created", "subscription.direct_billing"],
        description="  Billing sync  ",
    )
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description) == ("https://hooks.example/in", "Billing sync")
    # In the catalogue's order, whatever the order asked.
    assert endpoint.event_types == [
        "customer.created",
        "subscription.renewed",
        "subscription.direct_billing",
    ]
    event = AuditEvent.objects.get(action="webhook_endpoint.changed")
    assert event.actor == partner_admin and event.details["event_types"] == endpoint.event_types
    dns["hooks.example"] = "10.0.0.1"
    for actor, url, events, field in [
        (partner_admin, "https://hooks.example/other", ["customer.created"], "url"),
        (partner_admin, "https://93.184.215.14/in", ["nothing.happened"], "event_types"),
        (partner_agent, "https://93.184.215.14/in", ["customer.created"], None),
        (other_partner_admin, "https://93.184.215.14/in", ["customer.created"], None),
    ]:
        with pytest.raises(WebhookError) as refused:
            webhook_endpoint_change(
                endpoint=endpoint, actor=actor, url=url, event_types=events, description="x"
            )
        assert refused.value.field == field
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description) == ("https://hooks.example/in", "Billing sync")
    assert AuditEvent.objects.filter(action="webhook_endpoint.changed").count() == 1


def test_unknown_event_types_are_refused(partner_admin):
    for event_types in ([], ["customer.created", "nothing.happened"]):
        with pytest.raises(WebhookError) as refused:
            webhook_endpoint_create(
                membership=partner_admin.partner_membership,
                url="http://127.0.0.1:9/",
                event_types=event_types,
            )
        assert refused.value.field == "event_types"


def test_every_change_is_audited(endpoint, partner_admin):
    from portal.webhooks.services import webhook_endpoint_secret_rotate, webhook_endpoint_test

    webhook_endpoint_secret_rotate(endpoint=endpoint, actor=partner_admin)
    assert webhook_endpoint_disable(endpoint=endpoint, actor=partner_admin)
    assert not webhook_endpoint_disable(endpoint=endpoint, actor=partner_admin)
    assert webhook_endpoint_enable(endpoint=endpoint, actor=partner_admin)
    webhook_endpoint_test(endpoint=endpoint, actor=partner_admin)
    webhook_endpoint_delete(endpoint=endpoint, actor=partner_admin)
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "webhook_endpoint.created",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.disabled",
        "webhook_endpoint.enabled",
        "webhook_endpoint.tested",
        "webhook_endpoint.deleted",
    ]
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_ops_see_deliveries_and_their_tries_in_the_admin(
    client, staff, endpoint, receiver, northwind, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        webhook_event_emit(type="customer.created", partner=northwind, payload={"a": 1})
    client.force_login(staff)
    delivery = WebhookDelivery.objects.get()
    assert client.get("/admin/portal/webhookdelivery/").status_code == 200
    page = client.get(f"/admin/portal/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert b"customer.created" in page.content and b"200" in page.content
    page = client.get(f"/admin/portal/webhookendpoint/{endpoint.pk}/change/")
    assert page.status_code == 200
    assert receiver.secrets[0].encode() not in page.content
    response = client.post(
        "/admin/portal/webhookendpoint/",
        {"action": "disable", "_selected_action": [endpoint.pk]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.enabled
