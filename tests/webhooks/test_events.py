"""Every event of the catalogue, emitted by the service that makes the change: it reaches the
partner's receiver once, signed, with the resource as the API returns it to that partner;
another partner's endpoint and an endpoint that did not ask for it get nothing; a rolled-back
change sends nothing; a sweep run twice sends each event once."""

import datetime
import functools

import jsonschema
import pytest
import time_machine
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from portal.models import WebhookDelivery, WebhookEvent
from portal.webhooks.delivery import webhook_deliveries_sweep
from portal.webhooks.events import EVENT_TYPES
from portal.webhooks.services import webhook_endpoint_create, webhook_event_emit
from renewals.services import lifecycle_advance, notice_schedule_changed, renewal_notices_send
from tenants import webhooks
from tenants.access import customer_access
from tenants.delegation.offers import OfferDetails, offer_answer, offer_send, offer_withdraw
from tenants.delegation.relationships import relationship_terminate
from tenants.delegation.sweep import delegation_sweep
from tenants.models import Subscription, Tenant
from tenants.services import partner_of_record_set
from tests.factories import (
    DelegationRelationshipFactory,
    ProductFactory,
    SubscriptionFactory,
    TenantFactory,
)
from tests.helpers import api_client, api_key, standard

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
TODAY = START.date()
END = datetime.date(2026, 6, 30)
DAY = datetime.timedelta(days=1)
State = Subscription.State


@pytest.fixture
def clock():
    """The clock stands still (the API's "now" and the event's are the same moment); a test
    moves it with `clock.move_to`."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def hooks(clock, receiver, partner_admin, other_partner_admin):
    """Northwind's endpoint for every event (/northwind), Fabrikam's (/fabrikam: another partner)
    and a second Northwind endpoint that wants only `delegation_offer.sent` (/quiet: an endpoint
    that did not ask for the other events), all at the receiver, which knows their secrets."""
    endpoints = {}
    for name, user, types in [
        ("northwind", partner_admin, list(EVENT_TYPES)),
        ("fabrikam", other_partner_admin, list(EVENT_TYPES)),
        ("quiet", partner_admin, ["delegation_offer.sent"]),
    ]:
        endpoint, secret = webhook_endpoint_create(
            membership=user.partner_membership,
            url=f"{receiver.url}/{name}",
            event_types=types,
        )
        receiver.secrets.append(secret)
        endpoints[name] = (endpoint, secret)
    return endpoints


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """`with sent():` — the change commits (for the test), so its deliveries go out at once."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def arrived(receiver, hooks, name="northwind") -> list[dict]:
    """The webhooks the endpoint `name` received, each verified with its own secret only."""
    found = []
    for request in receiver.received:
        if request.path == f"/hooks/{name}":
            assert request.verified_by == [hooks[name][1]]
            found.append(request.json)
    return found


def types(receiver, hooks, name="northwind") -> list[str]:
    return [body["type"] for body in arrived(receiver, hooks, name)]


def only(receiver, hooks, type: str, name="northwind") -> dict:
    """The one webhook of `type` the endpoint received (checks it came once, as documented)."""
    bodies = [body for body in arrived(receiver, hooks, name) if body["type"] == type]
    assert len(bodies) == 1, [body["type"] for body in arrived(receiver, hooks, name)]
    assert_documented(bodies[0])
    return bodies[0]


@functools.cache
def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _component(ref: str) -> dict:
    return _schema()["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def assert_documented(body: dict) -> None:
    """The body is what the schema's webhook of its type says, with no field it does not name."""
    schema = _schema()
    post = schema["webhooks"][body["type"]]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    jsonschema.validate(
        body,
        {"$ref": ref, "components": schema["components"]},
        cls=jsonschema.Draft202012Validator,
    )
    envelope = _component(ref)
    assert set(body) == set(envelope["properties"])
    assert set(body["data"]) == set(
        _component(envelope["properties"]["data"]["$ref"])["properties"]
    )


def api_get(user, path: str) -> dict:
    response = api_client(api_key(user)).get(f"/api/v1/{path}")
    assert response.status_code == 200, response.content
    return response.json()


def subscription_out(user, subscription) -> dict:
    """The subscription as the API answers it (SubscriptionOut: the detail without its
    timeline)."""
    detail = api_get(user, f"subscriptions/{subscription.pk}/")
    return {k: v for k, v in detail.items() if k not in {"timeline", "next_change", "replaced_by"}}


def nothing_else(receiver, hooks):
    """Fabrikam (another partner) and the endpoint that did not ask got nothing."""
    assert arrived(receiver, hooks, "fabrikam") == []
    assert arrived(receiver, hooks, "quiet") == []


# --- Customers and keys ----------------------------------------------------------------------


def test_a_new_customer_arrives_as_the_api_shows_it(
    hooks, receiver, sent, make_contoso, partner_admin
):
    with sent():
        tenant = make_contoso(5)
    body = only(receiver, hooks, "customer.created")
    assert body["partner_id"] == "1000001" and body["customer_id"] == tenant.pk
    assert body["data"] == {"customer": api_get(partner_admin, f"customers/{tenant.pk}/")}
    assert types(receiver, hooks) == ["customer.created"]
    nothing_else(receiver, hooks)


def test_licenses_added_carry_the_api_answer_and_the_subscription_after(
    hooks, receiver, sent, make_contoso, make_keys, partner_admin
):
    tenant = make_contoso(5)
    receiver.received.clear()
    client = api_client(api_key(partner_admin))
    with sent():
        answer = client.post(
            f"/api/v1/customers/{tenant.pk}/add-licenses/", {"keys": make_keys(2, seats=3)}
        )
    assert answer.status_code == 200, answer.content
    body = only(receiver, hooks, "subscription.licenses_added")
    subscription = standard(tenant)
    assert subscription.seats == 11
    assert body["data"] == {
        "keys_applied": answer.json(),
        "subscriptions": [subscription_out(partner_admin, subscription)],
    }
    assert types(receiver, hooks) == ["subscription.licenses_added"]
    nothing_else(receiver, hooks)


def test_a_renewal_of_a_lapsed_subscription_is_renewed_and_reactivated(
    hooks, receiver, sent, make_contoso, make_keys, partner_admin, clock
):
    tenant = make_contoso(5)
    subscription = standard(tenant)
    clock.move_to(datetime.datetime.combine(subscription.end_date + 40 * DAY, START.timetz()))
    with sent():
        lifecycle_advance()  # recorded as disabled (day 30)
    receiver.received.clear()
    client = api_client(api_key(partner_admin))
    with sent():
        answer = client.post(
            f"/api/v1/customers/{tenant.pk}/renew/", {"keys": make_keys(1, seats=5)}
        )
    assert answer.status_code == 200, answer.content
    assert types(receiver, hooks) == ["subscription.renewed", "subscription.state_changed"]
    after = subscription_out(partner_admin, subscription)
    assert after["state"]["code"] == "active"
    assert only(receiver, hooks, "subscription.renewed")["data"] == {
        "keys_applied": answer.json(),
        "subscriptions": [after],
    }
    assert only(receiver, hooks, "subscription.state_changed")["data"] == {
        "from": "disabled",
        "to": "active",
        "subscription": after,
    }
    nothing_else(receiver, hooks)


# --- The sweeps ------------------------------------------------------------------------------


@pytest.fixture
def subscribe(contoso, northwind):
    """subscribe(end_date) -> Contoso's Business Standard, of Northwind's record."""
    from renewals.models import NoticeOffset

    for days in (60, 30, 7, 1):
        NoticeOffset.objects.get_or_create(days_before=days)

    def make(end_date, **extra):
        return SubscriptionFactory(
            tenant=contoso,
            product=ProductFactory(),
            start_date=datetime.date(2025, 7, 1),
            end_date=end_date,
            partner_of_record=northwind,
            renewal_notice_on=datetime.date(2000, 1, 1),
            **extra,
        )

    return make


def on(clock, day: datetime.date) -> datetime.date:
    clock.move_to(datetime.datetime.combine(day, START.timetz()))
    return day


def test_each_renewal_notice_goes_once_per_subscription_and_threshold(
    hooks, receiver, sent, subscribe, clock, partner_admin
):
    subscription = subscribe(END)
    with sent():
        renewal_notices_send(today=on(clock, END - 30 * DAY))
    thirty = subscription_out(partner_admin, subscription)
    for day in (END - 30 * DAY, END - 20 * DAY, END - 7 * DAY):
        with sent():
            renewal_notices_send(today=on(clock, day))
    # Ops change the notice days: every subscription is looked at again; the ledger holds.
    notice_schedule_changed()
    with sent():
        renewal_notices_send(today=END - 7 * DAY)
    notices = [
        b for b in arrived(receiver, hooks) if b["type"] == "subscription.renewal_notice_due"
    ]
    assert [b["data"]["days_before"] for b in notices] == [30, 7]
    for body in notices:
        assert_documented(body)
    assert notices[0]["data"] == {"days_before": 30, "subscription": thirty}
    assert notices[1]["data"]["subscription"] == subscription_out(partner_admin, subscription)
    nothing_else(receiver, hooks)


def test_the_lifecycle_sends_each_change_of_state_once(
    hooks, receiver, sent, subscribe, clock, partner_admin
):
    subscription = subscribe(END)
    for day in (END + DAY, END + DAY, END + 30 * DAY, END + 30 * DAY, END + 120 * DAY):
        with sent():
            lifecycle_advance(today=on(clock, day))
    changes = [b["data"] for b in arrived(receiver, hooks)]
    assert [(c["from"], c["to"]) for c in changes] == [
        ("active", "expired"),
        ("expired", "disabled"),
        ("disabled", "deleted"),
    ]
    assert changes[-1]["subscription"] == subscription_out(partner_admin, subscription)
    assert changes[-1]["subscription"]["state"]["code"] == "deleted"
    nothing_else(receiver, hooks)


def test_a_late_lifecycle_run_sends_every_change_it_makes(hooks, receiver, sent, subscribe, clock):
    subscribe(END)
    with sent():
        lifecycle_advance(today=on(clock, END + 200 * DAY))
    with sent():
        lifecycle_advance(today=END + 200 * DAY)
    assert [(b["data"]["from"], b["data"]["to"]) for b in arrived(receiver, hooks)] == [
        ("active", "expired"),
        ("expired", "disabled"),
        ("disabled", "deleted"),
    ]


# --- Direct billing and the partner of record ------------------------------------------------


def test_the_switch_to_direct_billing_carries_both_subscriptions(
    hooks, receiver, sent, subscribe, partner_admin
):
    old = subscribe(END)
    with sent():
        answer = api_client(api_key(partner_admin)).post(
            f"/api/v1/subscriptions/{old.pk}/direct-billing/", {"confirm": True}
        )
    assert answer.status_code == 201, answer.content
    new = Subscription.objects.get(pk=answer.json()["new_subscription"]["id"])
    assert only(receiver, hooks, "subscription.direct_billing")["data"] == {
        "subscription": subscription_out(partner_admin, old),
        "new_subscription": subscription_out(partner_admin, new),
        "prepaid_days_lost": answer.json()["prepaid_days_lost"],
    }
    assert types(receiver, hooks) == ["subscription.direct_billing"]
    nothing_else(receiver, hooks)


def test_a_new_partner_of_record_is_told_to_the_old_and_the_new_partner(
    hooks, receiver, sent, subscribe, contoso_admin, fabrikam, partner_admin, other_partner_admin
):
    subscription = subscribe(END)
    with sent():
        partner_of_record_set(
            access=customer_access(contoso_admin), subscription=subscription, partner=fabrikam
        )
    change = {
        "from": {"partner_id": "1000001", "name": "Northwind Partners"},
        "to": {"partner_id": "1000002", "name": "Fabrikam Resellers"},
    }
    northwind_body = only(receiver, hooks, "subscription.partner_of_record_changed")
    fabrikam_body = only(receiver, hooks, "subscription.partner_of_record_changed", "fabrikam")
    assert northwind_body["data"] == {
        **change,
        "subscription": subscription_out(partner_admin, subscription),
    }
    assert fabrikam_body["data"] == {
        **change,
        "subscription": subscription_out(other_partner_admin, subscription),
    }
    assert fabrikam_body["data"]["subscription"]["partner_of_record"]["is_you"] is True
    assert northwind_body["partner_id"] == "1000001" and fabrikam_body["partner_id"] == "1000002"
    assert northwind_body["id"] != fabrikam_body["id"]
    assert arrived(receiver, hooks, "quiet") == []
    # Removed: Fabrikam, the partner of record until now, hears it too.
    receiver.received.clear()
    with sent():
        partner_of_record_set(
            access=customer_access(contoso_admin), subscription=subscription, partner=None
        )
    assert (
        only(receiver, hooks, "subscription.partner_of_record_changed", "fabrikam")["data"]["to"]
        is None
    )
    assert only(receiver, hooks, "subscription.partner_of_record_changed")


# --- Delegated administration ----------------------------------------------------------------


def offer_to(partner_admin, tenant, roles=("user_admin",)):
    return offer_send(
        membership=partner_admin.partner_membership,
        tenant=tenant,
        details=OfferDetails(roles=list(roles), duration_days=30, auto_extend=False, message="Hi"),
    )


def test_an_offer_sent_then_withdrawn(hooks, receiver, sent, contoso, partner_admin):
    with sent():
        offer = offer_to(partner_admin, contoso)
    assert only(receiver, hooks, "delegation_offer.sent")["data"] == {
        "offer": api_get(partner_admin, f"offers/{offer.pk}/")
    }
    # Northwind's two endpoints get the one event (the same webhook-id).
    assert only(receiver, hooks, "delegation_offer.sent", "quiet") == only(
        receiver, hooks, "delegation_offer.sent"
    )
    with sent():
        offer_withdraw(membership=partner_admin.partner_membership, offer=offer)
    body = only(receiver, hooks, "delegation_offer.withdrawn")
    assert body["data"] == {"offer": api_get(partner_admin, f"offers/{offer.pk}/")}
    assert body["data"]["offer"]["state"] == "withdrawn" and body["customer_id"] == contoso.pk
    assert arrived(receiver, hooks, "fabrikam") == []


def test_an_offer_declined(hooks, receiver, sent, contoso, contoso_admin, partner_admin):
    offer = offer_to(partner_admin, contoso)
    receiver.received.clear()
    with sent():
        offer_answer(access=customer_access(contoso_admin), offer=offer, accept=False)
    assert types(receiver, hooks) == ["delegation_offer.declined"]
    assert only(receiver, hooks, "delegation_offer.declined")["data"] == {
        "offer": api_get(partner_admin, f"offers/{offer.pk}/")
    }
    nothing_else(receiver, hooks)


def test_an_offer_accepted_carries_its_relationship_and_ends_the_one_it_replaces(
    hooks, receiver, sent, contoso, contoso_admin, partner_admin
):
    first = offer_answer(
        access=customer_access(contoso_admin), offer=offer_to(partner_admin, contoso), accept=True
    )
    offer = offer_to(partner_admin, contoso, roles=("helpdesk",))
    receiver.received.clear()
    with sent():
        relationship = offer_answer(access=customer_access(contoso_admin), offer=offer, accept=True)
    assert types(receiver, hooks) == [
        "delegation_relationship.terminated",
        "delegation_offer.accepted",
    ]
    assert only(receiver, hooks, "delegation_offer.accepted")["data"] == {
        "offer": api_get(partner_admin, f"offers/{offer.pk}/"),
        "relationship": api_get(partner_admin, f"relationships/{relationship.pk}/"),
    }
    assert only(receiver, hooks, "delegation_relationship.terminated")["data"] == {
        "relationship": api_get(partner_admin, f"relationships/{first.pk}/"),
        "by": "customer",
        "replaced_by_offer": offer.pk,
    }
    nothing_else(receiver, hooks)


def test_a_relationship_terminated_by_either_side(
    hooks, receiver, sent, contoso, contoso_admin, northwind, partner_admin
):
    ours = DelegationRelationshipFactory(partner=northwind, tenant=contoso)
    with sent():
        answer = api_client(api_key(partner_admin)).post(
            f"/api/v1/relationships/{ours.pk}/terminate/"
        )
    assert answer.status_code == 200, answer.content
    assert only(receiver, hooks, "delegation_relationship.terminated")["data"] == {
        "relationship": answer.json(),
        "by": "partner",
        "replaced_by_offer": None,
    }
    receiver.received.clear()
    theirs = DelegationRelationshipFactory(partner=northwind, tenant=contoso)
    with sent():
        relationship_terminate(relationship=theirs, by=customer_access(contoso_admin))
    body = only(receiver, hooks, "delegation_relationship.terminated")
    assert body["data"]["by"] == "customer"
    assert body["data"]["relationship"] == api_get(partner_admin, f"relationships/{theirs.pk}/")
    nothing_else(receiver, hooks)


def test_the_delegation_sweep_sends_each_expiry_and_extension_once(
    hooks, receiver, sent, contoso, northwind, partner_admin, clock
):
    offer = offer_to(partner_admin, contoso)
    extending = DelegationRelationshipFactory(
        partner=northwind, tenant=contoso, auto_extend=True, ends_on=TODAY + 100 * DAY
    )
    ending = DelegationRelationshipFactory(
        partner=northwind,
        tenant=TenantFactory(name="Fourth Coffee", created_by_partner=northwind),
        ends_on=TODAY + 95 * DAY,
    )
    receiver.received.clear()
    on(clock, TODAY + 91 * DAY)
    for _run in range(2):
        with sent():
            delegation_sweep()
    assert only(receiver, hooks, "delegation_offer.expired")["data"] == {
        "offer": api_get(partner_admin, f"offers/{offer.pk}/")
    }
    on(clock, TODAY + 96 * DAY)
    for _run in range(2):
        with sent():
            delegation_sweep()
    assert only(receiver, hooks, "delegation_relationship.expired")["data"] == {
        "relationship": api_get(partner_admin, f"relationships/{ending.pk}/")
    }
    on(clock, TODAY + 100 * DAY)
    for _run in range(2):
        with sent():
            delegation_sweep()
    extended = only(receiver, hooks, "delegation_relationship.extended")["data"]
    assert extended == {
        "relationship": api_get(partner_admin, f"relationships/{extending.pk}/"),
        "from": (TODAY + 100 * DAY).isoformat(),
        "to": (TODAY + 280 * DAY).isoformat(),
    }
    assert types(receiver, hooks) == [
        "delegation_offer.expired",
        "delegation_relationship.expired",
        "delegation_relationship.extended",
    ]
    nothing_else(receiver, hooks)


# --- What is not sent, and what it costs -----------------------------------------------------


def test_a_change_rolled_back_after_its_event_sends_nothing(
    hooks, receiver, sent, make_contoso, monkeypatch
):
    def emit_then_fail(**kwargs):
        event = webhook_event_emit(**kwargs)
        assert event is not None  # written, in the service's transaction
        raise RuntimeError("the service fails after its event")

    monkeypatch.setattr(webhooks, "webhook_event_emit", emit_then_fail)
    with sent(), pytest.raises(RuntimeError):
        make_contoso(5)
    assert not Tenant.objects.exists()
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert webhook_deliveries_sweep() == 0
    assert receiver.received == []


def test_nothing_is_built_for_a_partner_nobody_listens_for(northwind):
    def never():
        raise AssertionError("the payload is built only for an endpoint that wants it")

    assert webhook_event_emit(type="customer.created", partner=northwind, payload=never) is None
    assert not WebhookEvent.objects.exists()


def test_a_sweep_nobody_listens_to_asks_once_per_batch(subscribe, contoso):
    subscribe(END)
    for n in range(5):
        SubscriptionFactory(
            tenant=contoso,
            product=ProductFactory(sku=f"SKU-{n}", name=f"Product {n}"),
            end_date=END,
            renewal_notice_on=datetime.date(2000, 1, 1),
        )
    with CaptureQueriesContext(transaction.get_connection()) as queries:
        renewal_notices_send(today=END - 30 * DAY, batch_size=2)
    asked = [q["sql"] for q in queries.captured_queries if "portal_webhookendpoint" in q["sql"]]
    assert len(asked) == 3  # 6 subscriptions due, 2 a batch: one question per batch
    assert not WebhookEvent.objects.exists()


def test_every_event_of_the_catalogue_is_documented_as_a_webhook():
    webhooks = _schema()["webhooks"]
    assert list(webhooks) == list(EVENT_TYPES)
    for type, label in EVENT_TYPES.items():
        post = webhooks[type]["post"]
        assert post["summary"] == str(label)
        envelope = _component(post["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert envelope["properties"]["type"]["enum"] == [type]
        assert _component(envelope["properties"]["data"]["$ref"])["properties"], type
