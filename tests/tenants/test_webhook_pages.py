"""The Webhooks page: partner admins add endpoints (the secret shown once), edit, replace the
secret, disable, enable, delete and test them, and read each endpoint's delivery log."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.models import AuditEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent
from portal.webhooks.events import TEST_EVENT
from portal.webhooks.secrets import secret_decrypt
from portal.webhooks.services import webhook_endpoint_create

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PAGE = "/partner/webhooks/"
ADD = "/partner/webhooks/add/"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")
State = WebhookDelivery.State


@pytest.fixture
def admin_client(client, partner_admin):
    client.force_login(partner_admin)
    return client


def _form(**overrides) -> dict:
    data = {
        "url": "http://127.0.0.1:9/hooks",  # loopback: allowed in tests (WEBHOOKS_ALLOW_LOOPBACK)
        "description": "Billing sync",
        "event_types": ["customer.created", "subscription.renewed"],
    }
    data.update(overrides)
    return data


def _endpoint(partner_admin, url="http://127.0.0.1:9/hooks", **kwargs) -> WebhookEndpoint:
    endpoint, _secret = webhook_endpoint_create(
        membership=partner_admin.partner_membership,
        url=url,
        event_types=kwargs.pop("event_types", ["customer.created"]),
        **kwargs,
    )
    return endpoint


def _deliveries(endpoint, count: int, state=State.DELIVERED, type="customer.created"):
    """`count` deliveries to `endpoint`, as the worker leaves them (no network)."""
    events = WebhookEvent.objects.bulk_create(
        [WebhookEvent(type=type, partner=endpoint.partner, payload={"n": n}) for n in range(count)]
    )
    return WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event,
                endpoint=endpoint,
                state=state,
                attempts=0 if state == State.QUEUED else 1,
                last_status_code={State.DELIVERED: 200, State.FAILED: 500}.get(state),
            )
            for event in events
        ]
    )


def _count(client, url: str) -> int:
    """The queries of one signed-in request: 3 for the session, the person (with their
    membership and the header's look-ups: renewals.auth's get_user; the lifecycle's sign-in rule
    asks nothing more of a partner user) and their second factor; the rest is the page's."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# --- Who sees the page ---------------------------------------------------------------------


def test_it_explains_webhooks_when_there_are_none(admin_client):
    page = admin_client.get(PAGE)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="webhooks-empty"' in body
    assert 'href="/api/docs/"' in body and "webhook-signature" in body
    assert f'href="{ADD}"' in body
    assert f'href="{PAGE}"' in body  # the Partner menu's entry


def test_agents_and_others_have_no_webhooks_page(client, partner_agent, nobody, partner_admin):
    endpoint = _endpoint(partner_admin)
    client.force_login(partner_agent)
    assert f'href="{PAGE}"' not in client.get("/partner/").content.decode()
    for url in (PAGE, ADD, f"{PAGE}{endpoint.pk}/", f"{PAGE}{endpoint.pk}/rotate-secret/"):
        assert client.get(url).status_code == 403, url
    assert client.post(ADD, _form()).status_code == 403
    assert client.post(f"{PAGE}{endpoint.pk}/disable/").status_code == 403
    client.force_login(nobody)
    assert client.get(PAGE).status_code == 403
    assert Client().get(PAGE).status_code == 302  # to the sign-in page
    endpoint.refresh_from_db()
    assert endpoint.enabled and WebhookEndpoint.objects.count() == 1


def test_the_list_shows_each_endpoint_and_its_state(admin_client, partner_admin):
    quiet = _endpoint(partner_admin, description="Our CRM")
    failing = _endpoint(
        partner_admin,
        url="http://localhost:9/in",
        event_types=["customer.created", "subscription.renewed", "subscription.direct_billing"],
    )
    WebhookEndpoint.objects.filter(pk=failing.pk).update(failing_since=timezone.now())
    off = _endpoint(partner_admin, url="http://127.0.0.1:10/off")
    WebhookEndpoint.objects.filter(pk=off.pk).update(
        enabled=False, disabled_reason="Every try failed for 24 hours."
    )
    body = admin_client.get(PAGE).content.decode()
    assert 'data-testid="webhook-endpoints"' in body
    for endpoint in (quiet, failing, off):
        assert f'href="{PAGE}{endpoint.pk}/"' in body
    assert "Our CRM" in body and "1 event" in body and "3 events" in body
    assert body.count('data-testid="failing-since"') == 1
    assert "Every try failed for 24 hours." in body
    assert partner_admin.email in body  # created by


# --- Adding an endpoint --------------------------------------------------------------------


def test_adding_an_endpoint_shows_its_secret_once(admin_client, partner_admin):
    page = admin_client.post(ADD, _form())
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    secret = SECRET.search(page.content.decode()).group(0)
    endpoint = WebhookEndpoint.objects.get()
    assert secret_decrypt(endpoint.secret_encrypted) == secret
    assert (endpoint.url, endpoint.description, endpoint.event_types) == (
        "http://127.0.0.1:9/hooks",
        "Billing sync",
        ["customer.created", "subscription.renewed"],
    )
    assert endpoint.created_by == partner_admin
    assert AuditEvent.objects.filter(action="webhook_endpoint.created").count() == 1
    assert "only time it is shown" in page.content.decode()
    for later in (PAGE, f"{PAGE}{endpoint.pk}/", f"{PAGE}{endpoint.pk}/edit/"):
        body = admin_client.get(later).content.decode()
        assert secret not in body and not SECRET.search(body), later


def test_a_bad_url_keeps_what_was_typed(admin_client):
    page = admin_client.post(ADD, _form(url="ftp://hooks.example/in"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "data-error-summary" in body and "Enter a valid https:// URL." in body
    assert 'value="ftp://hooks.example/in"' in body and 'value="Billing sync"' in body
    assert re.search(r'value="subscription\.renewed"[^>]*checked', body)
    assert not re.search(r'value="subscription\.direct_billing"[^>]*checked', body)
    assert not SECRET.search(body)
    assert not WebhookEndpoint.objects.exists()


def test_no_event_chosen_is_refused(admin_client):
    body = admin_client.post(ADD, _form(event_types=[])).content.decode()
    assert "Choose at least one event." in body and 'value="Billing sync"' in body
    assert not WebhookEndpoint.objects.exists()


def test_a_private_address_is_refused(admin_client):
    body = admin_client.post(ADD, _form(url="https://10.0.0.1/in")).content.decode()
    assert "private or local network" in body and 'value="https://10.0.0.1/in"' in body
    assert not WebhookEndpoint.objects.exists()


def test_adding_asks_for_a_fresh_second_factor(admin_client, settings):
    later = timezone.now() + timedelta(minutes=settings.MFA_STEP_UP_MINUTES + 1)
    with time_machine.travel(later):
        response = admin_client.post(ADD, _form())
    assert response.status_code == 302 and response["Location"].startswith("/accounts/verify/")
    assert not WebhookEndpoint.objects.exists()


# --- The endpoint's page -------------------------------------------------------------------


def test_editing_changes_url_events_and_description(admin_client, partner_admin, settings):
    endpoint = _endpoint(partner_admin, description="Old")
    edit = f"{PAGE}{endpoint.pk}/edit/"
    form = admin_client.get(edit).content.decode()
    assert 'value="http://127.0.0.1:9/hooks"' in form and 'value="Old"' in form
    later = timezone.now() + timedelta(minutes=settings.MFA_STEP_UP_MINUTES + 1)
    with time_machine.travel(later):
        # Only the description and events: no step-up.
        same_url = admin_client.post(edit, _form(description="New"))
        assert same_url.status_code == 302 and same_url["Location"] == f"{PAGE}{endpoint.pk}/"
        # Another address: where customers' data goes, asked like an addition.
        moved = admin_client.post(edit, _form(url="http://localhost:9/other"))
        assert moved["Location"].startswith("/accounts/verify/")
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description) == ("http://127.0.0.1:9/hooks", "New")
    assert endpoint.event_types == ["customer.created", "subscription.renewed"]
    refused = admin_client.post(edit, _form(url="https://10.0.0.1/in"))
    assert "private or local network" in refused.content.decode()
    page = admin_client.post(edit, _form(url="http://localhost:9/other"), follow=True)
    assert "The endpoint was saved." in page.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "http://localhost:9/other"
    assert AuditEvent.objects.filter(action="webhook_endpoint.changed").count() == 2


def test_replacing_the_secret_asks_then_shows_the_new_one_once(
    admin_client, partner_admin, settings
):
    endpoint = _endpoint(partner_admin)
    old = secret_decrypt(endpoint.secret_encrypted)
    rotate = f"{PAGE}{endpoint.pk}/rotate-secret/"
    confirm = admin_client.get(rotate).content.decode()
    assert "24 hours" in confirm and not SECRET.search(confirm)
    later = timezone.now() + timedelta(minutes=settings.MFA_STEP_UP_MINUTES + 1)
    with time_machine.travel(later):
        assert admin_client.post(rotate)["Location"].startswith("/accounts/verify/")
    endpoint.refresh_from_db()
    assert secret_decrypt(endpoint.secret_encrypted) == old
    page = admin_client.post(rotate)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    new = SECRET.search(page.content.decode()).group(0)
    endpoint.refresh_from_db()
    assert new != old and secret_decrypt(endpoint.secret_encrypted) == new
    assert secret_decrypt(endpoint.previous_secret_encrypted) == old
    assert "The signing secret was replaced." in page.content.decode()
    body = admin_client.get(f"{PAGE}{endpoint.pk}/").content.decode()
    assert new not in body and old not in body and "the previous one also signs" in body


def test_disabling_and_enabling_again(admin_client, partner_admin):
    endpoint = _endpoint(partner_admin)
    page = admin_client.post(f"{PAGE}{endpoint.pk}/disable/", follow=True)
    assert "The endpoint was disabled" in page.content.decode()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and partner_admin.email in endpoint.disabled_reason
    assert f"{PAGE}{endpoint.pk}/enable/" in page.content.decode()
    again = admin_client.post(f"{PAGE}{endpoint.pk}/disable/", follow=True)
    assert "disabled already" in again.content.decode()
    page = admin_client.post(f"{PAGE}{endpoint.pk}/enable/", follow=True)
    assert "The endpoint was enabled" in page.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert admin_client.get(f"{PAGE}{endpoint.pk}/disable/").status_code == 405  # POST only


def test_deleting_asks_first(admin_client, partner_admin):
    endpoint = _endpoint(partner_admin)
    _deliveries(endpoint, 2)
    delete = f"{PAGE}{endpoint.pk}/delete/"
    confirm = admin_client.get(delete)
    assert confirm.status_code == 200 and endpoint.url in confirm.content.decode()
    assert WebhookEndpoint.objects.exists()
    page = admin_client.post(delete, follow=True)
    assert page.redirect_chain[-1][0] == PAGE
    assert "was deleted" in page.content.decode()
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert AuditEvent.objects.filter(action="webhook_endpoint.deleted").count() == 1


def test_a_test_event_reaches_the_receiver_and_the_log(
    admin_client, receiver, django_capture_on_commit_callbacks
):
    page = admin_client.post(ADD, _form(url=receiver.url))
    receiver.secrets = [SECRET.search(page.content.decode()).group(0)]
    endpoint = WebhookEndpoint.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        sent = admin_client.post(f"{PAGE}{endpoint.pk}/test/")
    assert sent.status_code == 302 and sent["Location"] == f"{PAGE}{endpoint.pk}/"
    (request,) = receiver.received
    assert request.verified_by == receiver.secrets and request.json["type"] == TEST_EVENT
    body = admin_client.get(sent["Location"]).content.decode()
    assert "A test event is on its way" in body and "delivery log" in body
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (
        State.DELIVERED,
        1,
        200,
    )
    assert f'data-testid="delivery-{delivery.pk}"' in body
    assert "Test event" in body and request.webhook_id in body
    detail = admin_client.get(f"{PAGE}{endpoint.pk}/deliveries/{delivery.pk}/").content.decode()
    assert "Answered 200" in detail and " ms" in detail
    assert re.search(r'<pre [^>]*data-testid="answer"><code>ok</code></pre>', detail)


def test_the_log_filters_by_event_and_outcome_and_pages_keep_them(admin_client, partner_admin):
    endpoint = _endpoint(partner_admin)
    failed = _deliveries(endpoint, 30, State.FAILED)
    _deliveries(endpoint, 3, State.DELIVERED)
    _deliveries(endpoint, 2, State.QUEUED, type="subscription.renewed")
    url = f"{PAGE}{endpoint.pk}/"
    everything = admin_client.get(url).content.decode()
    assert "35 deliveries" in everything and "Page 1 of 2" in everything
    page = admin_client.get(url, {"outcome": "failed"}).content.decode()
    assert "30 deliveries" in page
    assert 'href="?outcome=failed&amp;page=2#log"' in page
    second = admin_client.get(url, {"outcome": "failed", "page": 2}).content.decode()
    assert second.count('data-testid="delivery-') == 5
    assert f'data-testid="delivery-{failed[0].pk}"' in second  # the oldest, last
    waiting = admin_client.get(url, {"event": "subscription.renewed"}).content.decode()
    assert "2 deliveries" in waiting and "Subscription renewed" in waiting
    both = admin_client.get(url, {"event": "subscription.renewed", "outcome": "delivered"})
    assert 'data-testid="deliveries-empty"' in both.content.decode()
    assert "No delivery matches" in both.content.decode()
    ignored = admin_client.get(url, {"outcome": "lost"}).content.decode()
    assert "35 deliveries" in ignored


def test_resending_a_delivery(
    admin_client, partner_admin, receiver, django_capture_on_commit_callbacks
):
    endpoint = _endpoint(partner_admin, url=receiver.url)
    receiver.secrets = [secret_decrypt(endpoint.secret_encrypted)]
    (failed,) = _deliveries(endpoint, 1, State.FAILED)
    (waiting,) = _deliveries(endpoint, 1, State.QUEUED)
    log = admin_client.get(f"{PAGE}{endpoint.pk}/").content.decode()
    assert f"/deliveries/{failed.pk}/resend/" in log
    assert f"/deliveries/{waiting.pk}/resend/" not in log
    resend = f"{PAGE}{endpoint.pk}/deliveries/{failed.pk}/resend/"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(resend)
    assert response["Location"] == f"{PAGE}{endpoint.pk}/deliveries/{failed.pk}/"
    assert receiver.ids == [failed.event_id] and receiver.received[0].verified_by
    failed.refresh_from_db()
    assert failed.state == State.DELIVERED
    page = admin_client.get(response["Location"]).content.decode()
    assert "same webhook-id" in page and "Answered 200" in page
    assert AuditEvent.objects.filter(action="webhook_delivery.resent").count() == 1
    refused = admin_client.post(f"{PAGE}{endpoint.pk}/deliveries/{waiting.pk}/resend/", follow=True)
    assert "being sent already" in refused.content.decode()
    admin_client.post(f"{PAGE}{endpoint.pk}/disable/")
    refused = admin_client.post(resend, follow=True)
    assert "Enable the endpoint first" in refused.content.decode()
    assert len(receiver.received) == 1


def test_another_partners_endpoint_and_deliveries_are_not_found(
    client, partner_admin, other_partner_admin
):
    endpoint = _endpoint(partner_admin)
    (delivery,) = _deliveries(endpoint, 1, State.FAILED)
    theirs = _endpoint(other_partner_admin, url="http://127.0.0.1:10/theirs")
    client.force_login(other_partner_admin)
    base = f"{PAGE}{endpoint.pk}/"
    for url in ("", "edit/", "rotate-secret/", "delete/", f"deliveries/{delivery.pk}/"):
        assert client.get(base + url).status_code == 404, url
    for url in ("edit/", "rotate-secret/", "delete/", "disable/", "test/"):
        assert client.post(base + url, _form()).status_code == 404, url
    assert client.post(f"{base}deliveries/{delivery.pk}/resend/").status_code == 404
    # Its own endpoint does not open another's delivery either.
    mixed = f"{PAGE}{theirs.pk}/deliveries/{delivery.pk}/"
    assert client.get(mixed).status_code == 404
    assert client.post(f"{mixed}resend/").status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.url == "http://127.0.0.1:9/hooks"
    assert WebhookDelivery.objects.get(pk=delivery.pk).state == State.FAILED
    assert WebhookEvent.objects.filter(partner=endpoint.partner).count() == 1  # no test event
    assert base not in client.get(PAGE).content.decode()


# --- Query counts --------------------------------------------------------------------------


def test_the_list_does_not_grow_with_its_endpoints(admin_client, partner_admin):
    _endpoint(partner_admin)
    one = _count(admin_client, PAGE)
    for n in range(6):
        _endpoint(partner_admin, url=f"http://127.0.0.1:{20 + n}/hooks")
    assert _count(admin_client, PAGE) == one == 4  # the endpoints


def test_the_log_does_not_grow_with_its_deliveries(admin_client, partner_admin):
    endpoint = _endpoint(partner_admin)
    url = f"{PAGE}{endpoint.pk}/"
    _deliveries(endpoint, 1)
    one = _count(admin_client, url)
    _deliveries(endpoint, 30, State.FAILED)
    _deliveries(endpoint, 5, State.QUEUED, type=TEST_EVENT)
    assert _count(admin_client, url) == one == 6  # the endpoint, the count, the page
    assert _count(admin_client, f"{url}?outcome=failed&page=2") == one
