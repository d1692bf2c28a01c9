"""Webhooks' API (scope webhooks:manage): endpoints, their secrets shown once, the test event a
real receiver verifies, rotation, enable/disable, delete, the delivery log and Resend — the
Webhooks page's rules, forms and services, audited with the key."""

import datetime

import pytest
import time_machine

from portal.models import (
    ApiKey,
    AuditEvent,
    IdempotentRequest,
    PartnerMembership,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal.webhooks.events import EVENT_TYPES, TEST_EVENT
from portal.webhooks.secrets import secret_decrypt
from portal.webhooks.services import (
    endpoint_disable,
    webhook_endpoint_create,
    webhook_event_emit,
)
from tests.helpers import api_client, api_key, assert_documented, problem_type

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

API = "/api/v1/webhooks"
ENDPOINTS = f"{API}/endpoints/"
State = WebhookDelivery.State
START = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=datetime.UTC)


def endpoint_url(endpoint, action: str = "") -> str:
    return f"{ENDPOINTS}{endpoint.pk}/{action}"


def delivery_url(delivery, action: str = "") -> str:
    return f"{API}/deliveries/{delivery.pk}/{action}"


@pytest.fixture
def api(partner_admin):
    """Northwind's admin's key, acting as an admin, with webhooks:manage only."""
    return api_client(api_key(partner_admin, "webhooks:manage", name="CRM sync"))


@pytest.fixture
def fabrikam_api(other_partner_admin):
    return api_client(api_key(other_partner_admin, "webhooks:manage"))


@pytest.fixture
def no_loopback(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False


@pytest.fixture
def hooks(partner_admin, receiver):
    """Northwind's endpoint at the receiver (created on the page's side: the service)."""
    endpoint, secret = webhook_endpoint_create(
        membership=partner_admin.partner_membership,
        url=receiver.url,
        event_types=["customer.created", "subscription.renewed"],
        description="Our CRM",
    )
    receiver.secrets = [secret]
    return endpoint


def emit(partner, type="customer.created"):
    return webhook_event_emit(type=type, partner=partner, payload={"customer": {"id": 1}})


def body(url: str) -> dict:
    return {"url": url, "event_types": ["customer.created"], "description": "CRM"}


# --- Adding an endpoint ---------------------------------------------------------------------


def test_it_adds_an_endpoint_whose_secret_signs_the_test_event(
    api, partner_admin, receiver, django_capture_on_commit_callbacks
):
    response = api.post(ENDPOINTS, body(receiver.url), format="json")
    assert response.status_code == 201, response.content
    assert_documented(response, f"{API}/endpoints/", "post")
    endpoint = WebhookEndpoint.objects.get()
    created = response.json()
    assert response["Location"] == f"/api/v1/webhooks/endpoints/{endpoint.pk}/"
    assert created["id"] == endpoint.pk and created["url"] == receiver.url
    assert created["event_types"] == ["customer.created"] and created["enabled"]
    assert created["created_by"] == partner_admin.email
    assert created["secret"].startswith("whsec_")
    assert created["secret"] == secret_decrypt(endpoint.secret_encrypted)
    # Shown once: never on a later read, nor in the list.
    read = api.get(response["Location"])
    assert read.status_code == 200 and "secret" not in read.json()
    assert "secret" not in api.get(ENDPOINTS).json()["results"][0]

    receiver.secrets = [created["secret"]]
    with django_capture_on_commit_callbacks(execute=True):
        tested = api.post(endpoint_url(endpoint, "test/"))
    assert tested.status_code == 202, tested.content
    (request,) = receiver.received
    assert request.verified_by == [created["secret"]]
    assert request.json["type"] == TEST_EVENT
    assert request.webhook_id == tested.json()["webhook_id"]
    assert tested.json()["event_type"] == TEST_EVENT and tested.json()["endpoint"] == endpoint.pk


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:8000/in", "only sent to https"),
        ("https://127.0.0.1/in", "private or local network"),
        ("https://10.0.0.1/in", "private or local network"),
        ("https://169.254.169.254/latest/meta-data/", "private or local network"),
        ("not a url", "valid https"),
    ],
)
def test_a_url_on_a_private_or_loopback_address_is_422_with_the_field(api, no_loopback, url, words):
    response = api.post(ENDPOINTS, body(url), format="json")
    assert response.status_code == 422
    assert problem_type(response) == "endpoint_refused"
    assert list(response.json()["errors"]) == ["url"]
    assert words in response.json()["errors"]["url"][0]
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="webhook").exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"url": ""}, "url", "This field is required."),
        ({"event_types": []}, "event_types", "Choose at least one event."),
        ({"event_types": ["customer.deleted"]}, "event_types", "Select a valid choice."),
        ({"event_types": [TEST_EVENT]}, "event_types", "Select a valid choice."),
        ({"event_types": "customer.created"}, "event_types", "Enter a list of values."),
        ({"description": "x" * 201}, "description", "at most 200 characters"),
    ],
)
def test_it_refuses_what_the_page_refuses_with_its_messages(api, receiver, fields, field, message):
    response = api.post(ENDPOINTS, body(receiver.url) | fields, format="json")
    assert response.status_code == 400 and problem_type(response) == "invalid"
    assert message in response.json()["errors"][field][0]
    assert not WebhookEndpoint.objects.exists()


def test_the_same_idempotency_key_adds_one_endpoint_and_never_keeps_its_secret(api, receiver):
    first = api.post(ENDPOINTS, body(receiver.url), format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    again = api.post(ENDPOINTS, body(receiver.url), format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert WebhookEndpoint.objects.count() == 1
    secret = first.json()["secret"]
    # The replay is the first answer but for the secret, which is shown once only: the copy
    # kept for replays never held it.
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() | {"secret": None}
    assert again["Location"] == first["Location"]
    kept = IdempotentRequest.objects.get()
    assert kept.response["secret"] is None and secret not in str(kept.response)


# --- Reading, changing, deleting ------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 5])
def test_the_endpoint_list_runs_a_fixed_number_of_queries(
    api, partner_admin, receiver, rows, django_assert_num_queries
):
    for n in range(rows):
        webhook_endpoint_create(
            membership=partner_admin.partner_membership,
            url=f"{receiver.url}/{n}",
            event_types=["customer.created"],
        )
    api.get(ENDPOINTS)  # the key's "last used" is written once a minute
    with django_assert_num_queries(2):  # the key, the page of endpoints
        response = api.get(ENDPOINTS)
    assert len(response.json()["results"]) == rows
    assert_documented(response, f"{API}/endpoints/")


def test_it_lists_the_partners_endpoints_newest_first(api, partner_admin, receiver):
    for n in range(3):
        with time_machine.travel(START + datetime.timedelta(minutes=n)):
            webhook_endpoint_create(
                membership=partner_admin.partner_membership,
                url=f"{receiver.url}/{n}",
                event_types=["customer.created"],
            )
    page = api.get(ENDPOINTS, {"page_size": 2}).json()
    assert [row["url"][-1] for row in page["results"]] == ["2", "1"]
    rest = api.get(page["next"]).json()
    assert [row["url"][-1] for row in rest["results"]] == ["0"] and rest["next"] is None


def test_it_reads_and_changes_only_the_fields_sent(api, hooks, receiver):
    read = api.get(endpoint_url(hooks))
    assert read.status_code == 200
    assert_documented(read, f"{API}/endpoints/{{endpoint_id}}/")
    response = api.patch(endpoint_url(hooks), {"description": "Billing sync"}, format="json")
    assert response.status_code == 200, response.content
    assert_documented(response, f"{API}/endpoints/{{endpoint_id}}/", "patch")
    hooks.refresh_from_db()
    assert (hooks.description, hooks.url) == ("Billing sync", receiver.url)
    assert hooks.event_types == ["customer.created", "subscription.renewed"]
    response = api.patch(
        endpoint_url(hooks), {"event_types": ["subscription.renewed"]}, format="json"
    )
    assert response.json()["event_types"] == ["subscription.renewed"]
    assert response.json()["description"] == "Billing sync"
    assert AuditEvent.objects.filter(action="webhook_endpoint.changed").count() == 2


def test_a_change_to_a_private_address_is_422_and_changes_nothing(api, hooks, no_loopback):
    response = api.patch(endpoint_url(hooks), {"url": "https://10.1.2.3/in"}, format="json")
    assert response.status_code == 422 and problem_type(response) == "endpoint_refused"
    assert "private or local network" in response.json()["errors"]["url"][0]
    response = api.patch(endpoint_url(hooks), {"event_types": []}, format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["event_types"]
    assert WebhookEndpoint.objects.get().url == hooks.url


def test_it_deletes_an_endpoint_with_its_log(api, hooks, northwind):
    emit(northwind)
    response = api.delete(endpoint_url(hooks))
    assert response.status_code == 204
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert api.get(endpoint_url(hooks)).status_code == 404
    assert AuditEvent.objects.get(action="webhook_endpoint.deleted").details["url"] == hooks.url


# --- Secrets, enabling, disabling -----------------------------------------------------------


def test_a_rotated_secret_is_shown_once_and_both_sign_for_a_day(
    api, hooks, receiver, django_capture_on_commit_callbacks
):
    old = receiver.secrets[0]
    traveller = time_machine.travel(START)  # ticking: the receiver's thread runs on
    traveller.start()
    response = api.post(endpoint_url(hooks, "rotate-secret/"))
    assert response.status_code == 200, response.content
    assert_documented(response, f"{API}/endpoints/{{endpoint_id}}/rotate-secret/", "post")
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert response.json()["previous_secret_expires_at"].startswith("2026-11-26T10:00:00")
    assert "secret" not in api.get(endpoint_url(hooks)).json()

    receiver.secrets = [old, new]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(endpoint_url(hooks, "test/")).status_code == 202
    traveller.stop()
    (request,) = receiver.received
    assert request.verified_by == [old, new]


def test_it_disables_and_enables_an_endpoint(api, hooks, northwind, partner_admin):
    emit(northwind)  # waiting: it fails when the endpoint is disabled
    response = api.post(endpoint_url(hooks, "disable/"))
    assert response.status_code == 200
    assert_documented(response, f"{API}/endpoints/{{endpoint_id}}/disable/", "post")
    body = response.json()
    assert not body["enabled"] and body["disabled_at"]
    assert body["disabled_reason"] == f"Disabled by {partner_admin.email}."
    assert WebhookDelivery.objects.get().state == State.FAILED
    # Disabled already: the same answer, nothing more.
    assert api.post(endpoint_url(hooks, "disable/")).json() == body

    response = api.post(endpoint_url(hooks, "enable/"))
    assert response.status_code == 200
    assert_documented(response, f"{API}/endpoints/{{endpoint_id}}/enable/", "post")
    assert response.json()["enabled"] and response.json()["disabled_reason"] == ""
    actions = AuditEvent.objects.order_by("id").values_list("action", flat=True)
    assert list(actions)[-2:] == ["webhook_endpoint.disabled", "webhook_endpoint.enabled"]


def test_every_change_is_audited_with_the_key(api, receiver, partner_admin):
    created = api.post(ENDPOINTS, body(receiver.url), format="json").json()
    path = f"{ENDPOINTS}{created['id']}/"
    api.patch(path, {"description": "Billing"}, format="json")
    for action in ("rotate-secret/", "disable/", "enable/", "test/"):
        assert api.post(path + action).status_code in {200, 202}
    api.delete(path)
    key = ApiKey.objects.get(name="CRM sync")
    events = AuditEvent.objects.order_by("id")
    assert [event.action for event in events] == [
        "api_key.created",
        "webhook_endpoint.created",
        "webhook_endpoint.changed",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.disabled",
        "webhook_endpoint.enabled",
        "webhook_endpoint.tested",
        "webhook_endpoint.deleted",
    ]
    for event in events[1:]:
        assert (event.api_key, event.actor) == (key, partner_admin), event.action
        assert "CRM sync" in event.actor_label
    # No secret in the audit trail.
    assert not any("whsec_" in str(event.details) for event in events)


# --- The delivery log, Resend ---------------------------------------------------------------


@pytest.fixture
def log(hooks, northwind):
    """Three deliveries: customer.created delivered, subscription.renewed failed, a
    customer.created waiting."""
    deliveries = []
    for n, (type_, state) in enumerate(
        [
            ("customer.created", State.DELIVERED),
            ("subscription.renewed", State.FAILED),
            ("customer.created", State.QUEUED),
        ]
    ):
        with time_machine.travel(START + datetime.timedelta(minutes=n)):
            emit(northwind, type_)
        delivery = WebhookDelivery.objects.order_by("-id").first()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=state)
        delivery.refresh_from_db()
        deliveries.append(delivery)
    return deliveries


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [2, 1, 0]),
        ({"event": "customer.created"}, [2, 0]),
        ({"outcome": "delivered"}, [0]),
        ({"outcome": "failed"}, [1]),
        ({"outcome": "pending"}, [2]),
        ({"event": "customer.created", "outcome": "failed"}, []),
        ({"event": TEST_EVENT}, []),
    ],
)
def test_the_log_filters_by_event_and_outcome(api, hooks, log, query, expected):
    response = api.get(endpoint_url(hooks, "deliveries/"), query)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [log[i].pk for i in expected]


def test_a_filter_that_is_not_a_choice_is_400(api, hooks, log):
    response = api.get(endpoint_url(hooks, "deliveries/"), {"outcome": "lost"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["outcome"]


@pytest.mark.parametrize("rows", [1, 5])
def test_the_log_runs_a_fixed_number_of_queries(
    api, hooks, northwind, rows, django_assert_num_queries
):
    for _n in range(rows):
        emit(northwind)
    api.get(endpoint_url(hooks, "deliveries/"))  # the key's "last used" is written once a minute
    # The key, the endpoint, the page of deliveries with their events.
    with django_assert_num_queries(3):
        response = api.get(endpoint_url(hooks, "deliveries/"))
    assert len(response.json()["results"]) == rows
    assert_documented(response, f"{API}/endpoints/{{endpoint_id}}/deliveries/")


def test_a_delivery_shows_each_try(api, hooks, log):
    delivered = log[0]
    WebhookAttempt.objects.create(
        delivery=delivered, status_code=503, duration_ms=212, response_excerpt="Unavailable"
    )
    WebhookAttempt.objects.create(
        delivery=delivered, status_code=None, duration_ms=10_000, error="Timed out."
    )
    response = api.get(delivery_url(delivered))
    assert response.status_code == 200
    assert_documented(response, f"{API}/deliveries/{{delivery_id}}/")
    body = response.json()
    assert body["webhook_id"] == delivered.event_id and body["state"] == "delivered"
    assert body["next_attempt_at"] is None
    assert [
        (t["status_code"], t["duration_ms"], t["response_excerpt"], t["error"])
        for t in body["tries"]
    ] == [
        (503, 212, "Unavailable", ""),
        (None, 10_000, "", "Timed out."),
    ]


def test_resend_sends_a_delivery_again_with_the_same_webhook_id(
    api, hooks, log, receiver, django_capture_on_commit_callbacks
):
    failed = log[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(delivery_url(failed, "resend/"))
    assert response.status_code == 202, response.content
    assert_documented(response, f"{API}/deliveries/{{delivery_id}}/resend/", "post")
    assert response.json()["state"] == "queued" and response.json()["attempts"] == 0
    assert receiver.ids == [failed.event_id] and receiver.received[0].verified_by
    failed.refresh_from_db()
    assert failed.state == State.DELIVERED
    event = AuditEvent.objects.get(action="webhook_delivery.resent")
    assert event.api_key is not None and event.details["webhook_id"] == failed.event_id


def test_resend_is_409_while_pending_or_when_the_endpoint_is_disabled(api, hooks, log):
    waiting = log[2]
    response = api.post(delivery_url(waiting, "resend/"))
    assert response.status_code == 409 and problem_type(response) == "delivery_pending"
    assert response.json()["state"] == "queued"
    endpoint_disable(endpoint=hooks, actor=None, reason="A day of failures.")
    response = api.post(delivery_url(log[0], "resend/"))
    assert response.status_code == 409 and problem_type(response) == "endpoint_disabled"
    assert "Enable the endpoint first" in response.json()["detail"]
    assert not AuditEvent.objects.filter(action="webhook_delivery.resent").exists()


def test_a_test_event_is_sent_to_a_disabled_endpoint_and_can_be_resent(
    api, hooks, receiver, django_capture_on_commit_callbacks
):
    endpoint_disable(endpoint=hooks, actor=None, reason="A day of failures.")
    with django_capture_on_commit_callbacks(execute=True):
        tested = api.post(endpoint_url(hooks, "test/"))
    assert tested.status_code == 202
    assert_documented(tested, f"{API}/endpoints/{{endpoint_id}}/test/", "post")
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(delivery_url(delivery, "resend/")).status_code == 202
    assert receiver.ids == [delivery.event_id, delivery.event_id]


# --- Who may -------------------------------------------------------------------------------


def test_another_partners_endpoints_and_deliveries_are_404(fabrikam_api, hooks, log):
    delivery = log[0]
    for method, path in [
        ("get", endpoint_url(hooks)),
        ("patch", endpoint_url(hooks)),
        ("delete", endpoint_url(hooks)),
        ("post", endpoint_url(hooks, "rotate-secret/")),
        ("post", endpoint_url(hooks, "disable/")),
        ("post", endpoint_url(hooks, "test/")),
        ("get", endpoint_url(hooks, "deliveries/")),
        ("get", delivery_url(delivery)),
        ("post", delivery_url(delivery, "resend/")),
    ]:
        response = getattr(fabrikam_api, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path)
        assert problem_type(response) == "not_found"
    assert fabrikam_api.get(ENDPOINTS).json()["results"] == []
    hooks.refresh_from_db()
    assert hooks.enabled and WebhookDelivery.objects.filter(event__type=TEST_EVENT).count() == 0


def test_a_key_acting_as_an_agent_is_refused(partner_admin, hooks):
    agent_key = api_client(api_key(partner_admin, role=PartnerMembership.Role.AGENT))
    response = agent_key.get(ENDPOINTS)
    assert response.status_code == 403 and problem_type(response) == "insufficient_scope"
    assert response.json()["required_scope"] == "webhooks:manage"
    assert (
        agent_key.post(ENDPOINTS, body("https://hooks.example/"), format="json").status_code == 403
    )


def test_a_key_whose_creator_is_no_longer_an_admin_is_refused(api, partner_admin, hooks):
    PartnerMembership.objects.filter(user=partner_admin).update(role=PartnerMembership.Role.AGENT)
    response = api.post(endpoint_url(hooks, "disable/"))
    assert response.status_code == 403 and problem_type(response) == "insufficient_scope"
    hooks.refresh_from_db()
    assert hooks.enabled


# --- The catalogue -------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "label"), [("en", "Customer created"), ("fr", "Client créé")])
def test_the_catalogue_names_each_event_in_the_requests_language(partner_admin, language, label):
    client = api_client(api_key(partner_admin, "webhooks:manage"), language=language)
    response = client.get(f"{API}/event-types/")
    assert response.status_code == 200 and response["Content-Language"] == language
    assert_documented(response, f"{API}/event-types/")
    types = response.json()
    assert [row["type"] for row in types] == list(EVENT_TYPES)
    assert types[0] == {"type": "customer.created", "label": label}


def test_a_secret_is_never_shown_again(api, receiver):
    created = api.post(ENDPOINTS, body(receiver.url), format="json").json()
    rotated = api.post(f"{ENDPOINTS}{created['id']}/rotate-secret/").json()
    for path in (ENDPOINTS, f"{ENDPOINTS}{created['id']}/"):
        text = api.get(path).content.decode()
        assert created["secret"] not in text and rotated["secret"] not in text
