"""The customers' API (tenants/api.py): the list and a customer as the pages show them, a customer
created from product keys in one call, and keys applied to a customer with a dry run — through
the same selectors, tenant rule and services as the pages, all or nothing."""

import base64
import datetime
import threading
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from post_office.models import Email

from keys.codec import format_key
from keys.models import ProductKey, Redemption
from portal.models import ApiKey, AuditEvent
from tenants.models import License, Tenant, TenantUser
from tenants.selectors import NO_END_DATE, customer_rows, partner_customer_list
from tests.factories import (
    DelegationRelationshipFactory,
    ProductFactory,
    SubscriptionFactory,
    TenantFactory,
)
from tests.helpers import api_client, api_key, contoso_details, standard

CUSTOMERS = "/api/v1/customers/"


def customer_url(tenant, action: str = "") -> str:
    return f"{CUSTOMERS}{tenant.pk}/{action + '/' if action else ''}"


def creation(keys, **overrides) -> dict:
    """The one call's body: the keys and the step-2 fields (Contoso, Megan its admin)."""
    return {"keys": list(keys), **contoso_details(**overrides)}


def states(keys) -> set[str]:
    return {ProductKey.objects.matching(key).get().state for key in keys}


# --- The schema's examples ---------------------------------------------------------------------


def example(operation_id: str, status: str = "200") -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for methods in schema["paths"].values():
        for operation in methods.values():
            if operation.get("operationId") == operation_id:
                content = operation["responses"][status]["content"]["application/json"]
                (only,) = content["examples"].values()
                return only["value"]
    raise AssertionError(f"no operation {operation_id}")


def assert_same_fields(real, documented, where="answer"):
    """The real answer has exactly the example's fields, at every level the example fills."""
    if isinstance(documented, dict):
        assert isinstance(real, dict), where
        assert set(real) == set(documented), f"{where}: {set(real) ^ set(documented)}"
        for name, value in documented.items():
            if value is not None and real[name] is not None:
                assert_same_fields(real[name], value, f"{where}.{name}")
    elif isinstance(documented, list) and documented and real:
        assert_same_fields(real[0], documented[0], f"{where}[0]")


# --- The list ----------------------------------------------------------------------------------


@pytest.fixture
def reader(partner_admin):
    return api_client(api_key(partner_admin, "customers:read"))


def test_the_list_is_the_pages_list_with_what_the_partner_may_do(
    reader, make_contoso, fabrikam, northwind
):
    contoso = make_contoso(seats=5)
    TenantFactory(name="Theirs", domain_prefix="theirs", created_by_partner=fabrikam)
    response = reader.get(CUSTOMERS)
    assert response.status_code == 200
    (customer,) = response.json()["results"]
    assert customer["id"] == contoso.pk
    assert (customer["name"], customer["domain"], customer["country"]) == (
        "Contoso",
        "contoso.cloudsuite.example",
        "FR",
    )
    assert customer["created_by_me"] and customer["may_redeem"] and customer["may_read_users"]
    (subscription,) = customer["subscriptions"]
    assert (subscription["sku"], subscription["seats"], subscription["seats_used"]) == (
        "BUS-STD",
        5,
        1,
    )
    assert subscription["state"] == "active"
    assert customer["next_end_date"] == subscription["end_date"]
    assert response.json()["next"] is None
    assert_same_fields(response.json(), example("customers_list"))


def test_search_order_and_filters(reader, northwind, fabrikam, products):
    early = TenantFactory(
        name="Tailspin Toys", domain_prefix="tailspin", created_by_partner=northwind
    )
    SubscriptionFactory(tenant=early, end_date=datetime.date(2027, 1, 31))
    late = TenantFactory(
        name="Adatum", domain_prefix="adatum", country="DE", created_by_partner=northwind
    )
    SubscriptionFactory(tenant=late, end_date=datetime.date(2027, 6, 30))
    empty = TenantFactory(name="Bellows", domain_prefix="bellows", created_by_partner=northwind)
    # Fabrikam's customer, of which Northwind is partner of record.
    recorded = TenantFactory(name="Coho", domain_prefix="coho", created_by_partner=fabrikam)
    SubscriptionFactory(
        tenant=recorded, partner_of_record=northwind, end_date=datetime.date(2027, 3, 1)
    )

    def names(**params):
        response = reader.get(CUSTOMERS, params)
        assert response.status_code == 200, response.json()
        return [c["name"] for c in response.json()["results"]]

    assert names() == ["Adatum", "Bellows", "Coho", "Tailspin Toys"]
    assert names(sort="end") == ["Tailspin Toys", "Coho", "Adatum", "Bellows"]
    # The same order as the page's, from the same selector.
    assert names(sort="end") == [t.name for t in partner_customer_list(northwind, "", "end")]
    assert names(q="tail toys") == ["Tailspin Toys"]
    assert names(q="megan") == []
    assert names(country="de") == ["Adatum"]
    assert names(has_subscriptions="true") == ["Adatum", "Coho", "Tailspin Toys"]
    assert names(has_subscriptions="false") == ["Bellows"]
    assert names(created_by_me="false") == ["Coho"]
    assert names(created_by_me="true", sort="end") == ["Tailspin Toys", "Adatum", "Bellows"]
    assert empty.pk in [c["id"] for c in reader.get(CUSTOMERS).json()["results"]]
    bad = reader.get(CUSTOMERS, {"sort": "size", "has_subscriptions": "maybe"})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"sort", "has_subscriptions"}


def test_the_rows_next_end_date_is_the_one_the_list_sorts_by(reader, northwind, fabrikam):
    """The next end date in two forms: SQL where the list sorts and filters on it
    (selectors.partner_next_end), and read off each row's subscriptions for what it shows
    (selectors.customer_hints). Both say the same for every way a partner reaches a customer."""

    def customer(name, ends, created_by=northwind, **subscription):
        tenant = TenantFactory(name=name, domain_prefix=name.lower(), created_by_partner=created_by)
        for number, end in enumerate(ends):
            SubscriptionFactory(
                tenant=tenant,
                product=ProductFactory(sku=f"SKU-{number}"),
                end_date=datetime.date(*end),
                **subscription,
            )
        return tenant

    customer("Created", [(2027, 5, 1), (2027, 2, 1)])
    customer("Bare", [])
    customer("Recorded", [(2027, 3, 1)], created_by=fabrikam, partner_of_record=northwind)
    for name, roles in (("Billing", ["billing_reader"]), ("Helpdesk", ["helpdesk"])):
        tenant = customer(name, [(2027, 4, 1)], created_by=fabrikam, partner_of_record=None)
        DelegationRelationshipFactory(partner=northwind, tenant=tenant, roles=roles)
    rows = customer_rows(northwind, partner_customer_list(northwind, order="end"))
    shown = {row.name: row.next_end_date for row in rows}
    assert shown == {
        "Created": datetime.date(2027, 2, 1),
        "Recorded": datetime.date(2027, 3, 1),
        "Billing": datetime.date(2027, 4, 1),
        "Helpdesk": None,  # its roles do not read subscriptions
        "Bare": None,
    }
    for row in rows:
        assert row.end_order == (row.next_end_date or NO_END_DATE), row.name
    assert [row.name for row in rows if not row.sees_subscriptions] == ["Helpdesk"]
    listed = reader.get(CUSTOMERS, {"sort": "end"}).json()["results"]
    assert [(c["name"], c["next_end_date"]) for c in listed] == [
        (name, end and end.isoformat()) for name, end in shown.items()
    ]
    with_some = reader.get(CUSTOMERS, {"has_subscriptions": "true"}).json()["results"]
    assert {c["name"] for c in with_some} == {"Created", "Recorded", "Billing"}


def test_the_cursor_walks_ties_forward_and_back(reader, northwind, products):
    # Names and end dates shared by many customers, and customers with no end date at all.
    for n in range(7):
        tenant = TenantFactory(name="Same", domain_prefix=f"same{n}", created_by_partner=northwind)
        if n % 3:
            SubscriptionFactory(tenant=tenant, end_date=datetime.date(2027, 1, 1))
    for sort in ("name", "end"):
        expected = [t.pk for t in partner_customer_list(northwind, "", sort)]
        seen, url, pages = [], f"{CUSTOMERS}?sort={sort}&page_size=2", []
        while url:
            page = reader.get(url).json()
            pages.append(page)
            seen += [c["id"] for c in page["results"]]
            url = page["next"]
        assert seen == expected
        back, url = [], pages[-1]["previous"]
        while url:
            page = reader.get(url).json()
            back = [c["id"] for c in page["results"]] + back
            url = page["previous"]
        assert back + [c["id"] for c in pages[-1]["results"]] == expected
    for position in ("[7]", '["Same","x"]', "{}"):
        cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
        assert reader.get(CUSTOMERS, {"cursor": cursor}).status_code == 404


def test_the_list_runs_the_same_queries_for_1_and_many_customers(
    reader, northwind, products, django_assert_num_queries
):
    def make(count):
        for _ in range(count):
            tenant = TenantFactory(created_by_partner=northwind)
            SubscriptionFactory(tenant=tenant)

    make(1)
    reader.get(CUSTOMERS)  # the key's "last used" is written once a minute at most
    # The key, the customers, their subscriptions, and the partner's standing in the page's
    # customers (tenants.access.partner_standings: those it created or is partner of record for,
    # its relationships in force there).
    with django_assert_num_queries(5):
        assert len(reader.get(CUSTOMERS).json()["results"]) == 1
    make(30)
    with django_assert_num_queries(5):
        assert len(reader.get(CUSTOMERS).json()["results"]) == 31


def test_a_relationship_without_billing_roles_hides_the_subscriptions(
    reader, northwind, fabrikam, products
):
    theirs = TenantFactory(
        name="Fourth Coffee", domain_prefix="fourth", created_by_partner=fabrikam
    )
    SubscriptionFactory(tenant=theirs)
    DelegationRelationshipFactory(partner=northwind, tenant=theirs, roles=["helpdesk"])
    (customer,) = reader.get(CUSTOMERS).json()["results"]
    assert customer["subscriptions"] is None and customer["next_end_date"] is None
    assert not customer["may_read_subscriptions"] and not customer["may_redeem"]
    assert customer["may_read_users"] and not customer["created_by_me"]
    detail = reader.get(customer_url(theirs)).json()
    assert detail["subscriptions"] is None and not detail["may_redeem"]
    assert detail["relationship"]["roles"] == ["helpdesk"]


def test_the_list_needs_its_scope(partner_admin, db):
    client = api_client(api_key(partner_admin, "keys:check"))
    response = client.get(CUSTOMERS)
    assert response.status_code == 403
    assert response.json()["required_scope"] == "customers:read"
    assert client.get(f"{CUSTOMERS}1/").status_code == 403


# --- A customer --------------------------------------------------------------------------------


def test_the_detail_shows_subscriptions_and_admins(reader, make_contoso):
    contoso = make_contoso(seats=5)
    response = reader.get(customer_url(contoso))
    assert response.status_code == 200
    customer = response.json()
    assert customer["admins"] == [
        {
            "id": TenantUser.objects.get(email="megan@contoso.example").pk,
            "first_name": "Megan",
            "last_name": "Bowen",
            "email": "megan@contoso.example",
            "activated": False,
        }
    ]
    assert customer["subscriptions"][0]["seats_used"] == 1
    assert customer["relationship"] is None
    assert_same_fields(customer, example("customers_retrieve"))
    megan = TenantUser.objects.get(email="megan@contoso.example").user
    megan.set_password("portal-demo")
    megan.save()
    assert reader.get(customer_url(contoso)).json()["admins"][0]["activated"] is True


def test_another_partners_customer_is_404(reader, fabrikam):
    theirs = TenantFactory(name="Theirs", domain_prefix="theirs", created_by_partner=fabrikam)
    response = reader.get(customer_url(theirs))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert reader.get(f"{CUSTOMERS}999999/").status_code == 404


# --- A customer from product keys, in one call -------------------------------------------------


@pytest.fixture
def writer(partner_admin, countries):
    return api_client(api_key(partner_admin, "customers:write", "customers:read"))


def test_one_call_creates_the_customer_and_sends_the_emails(
    writer, partner_admin, make_keys, products
):
    keys = make_keys(2, seats=3) + make_keys(1, sku="BUS-PREM", seats=5)
    # As typed from a card: with hyphens, in lower case.
    typed = [format_key(keys[0]).lower(), *keys[1:]]
    response = writer.post(CUSTOMERS, creation(typed), format="json")
    assert response.status_code == 201, response.json()
    tenant = Tenant.objects.get()
    assert response["Location"] == f"/api/v1/customers/{tenant.pk}/"
    customer = response.json()
    assert (customer["id"], customer["domain"], customer["language"]) == (
        tenant.pk,
        "contoso.cloudsuite.example",
        "fr",
    )
    assert {s["sku"]: s["seats"] for s in customer["subscriptions"]} == {
        "BUS-STD": 6,
        "BUS-PREM": 5,
    }
    assert states(keys) == {"redeemed"}
    assert Redemption.objects.get().state == Redemption.State.COMPLETED
    # The browser flow's e-mails: the admin's activation and the partner's confirmation.
    assert sorted(e.to[0] for e in Email.objects.all()) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    created = AuditEvent.objects.get(action="tenant.created")
    assert created.api_key == ApiKey.objects.get()
    assert_same_fields(customer, example("customers_create", "201"))


def test_the_fields_are_checked_before_any_key(writer, make_keys, settings):
    settings.KEY_GUESS_LIMIT_PER_USER = 1
    keys = make_keys(1)
    response = writer.post(
        CUSTOMERS,
        creation([*keys, "not a key", ""], admin_phone="call me", language="xx"),
        format="json",
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"].endswith(":invalid")
    assert problem["errors"]["admin_phone"] == [
        "Enter a phone number with 6 to 20 digits, for example +33 1 23 45 67 89."
    ]
    assert "language" in problem["errors"] and "keys" in problem["errors"]
    assert states(keys) == {"available"} and not Redemption.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="key.").exists()


def test_the_pages_messages_come_in_the_language_asked(partner_admin, countries, make_keys):
    client = api_client(api_key(partner_admin, "customers:write"), language="fr")
    revoked = make_keys(1)
    ProductKey.objects.matching(revoked[0]).update(state="revoked", revoked_at=timezone.now())
    bad_phone = client.post(CUSTOMERS, creation(revoked, admin_phone="x"), format="json")
    assert bad_phone.json()["errors"]["admin_phone"] == [
        "Entrez un numéro de téléphone de 6 à 20 chiffres, par exemple +33 1 23 45 67 89."
    ]
    refused = client.post(CUSTOMERS, creation(revoked), format="json")
    assert refused.json()["keys"][0]["message"].startswith("Cette clé de produit a été révoquée.")


def test_a_bad_key_among_good_ones_reserves_none(writer, make_keys):
    good = make_keys(2)
    malformed = good[0][:3] + "O" + good[0][4:]
    unknown = make_keys(1)[0]
    ProductKey.objects.matching(unknown).update(state="revoked", revoked_at=timezone.now())
    response = writer.post(
        CUSTOMERS, creation([good[0], malformed, good[1], unknown]), format="json"
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"].endswith(":keys_refused")
    assert set(problem["errors"]["keys"]) == {"1", "3"}
    first, second = problem["keys"]
    assert first["index"] == 1
    assert first["format_error"] == {"code": "character", "position": 4, "character": "O"}
    assert "never use the letters" in first["message"]
    assert second == {
        "index": 3,
        "message": "This product key has been revoked. Contact the distributor who sold it to you.",
        "format_error": None,
    }
    assert states(good) == {"available"}
    assert not Redemption.objects.exists() and not Tenant.objects.exists()


def test_a_prefix_taken_before_the_call_is_a_field_error(writer, make_keys, northwind):
    TenantFactory(domain_prefix="contoso", created_by_partner=northwind)
    keys = make_keys(1)
    response = writer.post(CUSTOMERS, creation(keys), format="json")
    assert response.status_code == 400
    assert "already taken" in response.json()["errors"]["domain_prefix"][0]
    assert states(keys) == {"available"} and not Redemption.objects.exists()


def test_a_prefix_taken_during_the_call_leaves_every_key_available(
    writer, make_keys, northwind, monkeypatch
):
    # Another partner takes the prefix between the form's check and the creation.
    monkeypatch.setattr("tenants.forms.domain_prefix_problem", lambda prefix: None)
    TenantFactory(name="Early bird", domain_prefix="contoso", created_by_partner=northwind)
    keys = make_keys(3)
    response = writer.post(CUSTOMERS, creation(keys), format="json")
    assert response.status_code == 400
    assert "already taken" in response.json()["errors"]["domain_prefix"][0]
    assert states(keys) == {"available"}
    assert Tenant.objects.get().name == "Early bird"
    assert Redemption.objects.get().state == Redemption.State.CANCELLED
    assert not Email.objects.exists()


def test_the_guessing_limit_answers_429(writer, settings, make_keys):
    settings.KEY_GUESS_LIMIT_PER_USER = 1
    unknown = make_keys(2)
    ProductKey.objects.filter(state="available").delete()
    response = writer.post(CUSTOMERS, creation(unknown), format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.json()["type"].endswith(":key_guess_limit")


def test_creating_needs_its_scope(reader, make_keys, countries):
    response = reader.post(CUSTOMERS, creation(make_keys(1)), format="json")
    assert response.status_code == 403


def test_the_same_idempotency_key_makes_one_customer(writer, make_keys):
    keys = make_keys(1)
    first = writer.post(CUSTOMERS, creation(keys), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    again = writer.post(CUSTOMERS, creation(keys), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Tenant.objects.count() == 1
    # Where the customer is, as the first answer said.
    assert again["Location"] == first["Location"] == f"{CUSTOMERS}{first.json()['id']}/"
    other = writer.post(
        CUSTOMERS, creation(keys, name="Fabrikam"), format="json", HTTP_IDEMPOTENCY_KEY="order-1"
    )
    assert other.status_code == 422
    assert other.json()["type"].endswith(":idempotency_key_reused")


def test_the_release_before_can_still_keep_its_answers(writer, partner_admin):
    """Migrations come before the new code (docs/production.md, "Upgrades"): the release before
    writes its idempotency claims without `location`, which the database then fills in."""
    key = ApiKey.objects.filter(created_by=partner_admin).first()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO portal_idempotentrequest (api_key_id, key, fingerprint, created_at) "
            "VALUES (%s, 'old-release', 'x', now()) RETURNING location",
            [key.pk],
        )
        assert cursor.fetchone() == ("",)


def test_a_claim_refused_for_another_reason_is_not_retried_forever(
    writer, partner_admin, monkeypatch
):
    from django.db import IntegrityError

    from portal.api import idempotency

    tries = []

    def refused(**fields):
        tries.append(fields["key"])
        raise IntegrityError("null value in column")

    monkeypatch.setattr(idempotency.IdempotentRequest.objects, "create", refused)
    key = ApiKey.objects.filter(created_by=partner_admin).first()
    with pytest.raises(IntegrityError):
        idempotency._claim(key, "k", "x")
    assert tries == ["k", "k", "k"]


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_with_one_idempotency_key_make_one_customer(
    partner_admin, countries, make_keys, monkeypatch
):
    from tenants.services import tenants as services

    raw = api_key(partner_admin, "customers:write", "customers:read")
    body = creation(make_keys(1))
    create = services.tenant_create

    def slow_create(**kwargs):
        threading.Event().wait(0.5)  # the other request arrives while this one runs
        return create(**kwargs)

    monkeypatch.setattr(services, "tenant_create", slow_create)
    start, answers = threading.Barrier(2), []

    def send():
        try:
            start.wait()
            answers.append(
                api_client(raw).post(CUSTOMERS, body, format="json", HTTP_IDEMPOTENCY_KEY="once")
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses in ([201, 201], [201, 409])
    if statuses == [201, 201]:
        assert any(answer.get("Idempotent-Replayed") == "true" for answer in answers)
    assert Tenant.objects.count() == 1


# --- Add licenses, renew -----------------------------------------------------------------------


@pytest.fixture
def contoso5(make_contoso):
    return make_contoso(seats=5)


@pytest.fixture
def applier(partner_admin):
    return api_client(api_key(partner_admin, "subscriptions:write"))


def test_a_dry_run_changes_nothing_and_holds_no_key(applier, contoso5, make_keys):
    keys = make_keys(2, seats=3)
    before = AuditEvent.objects.filter(action__startswith="subscription.").count()
    Email.objects.all().delete()
    response = applier.post(
        customer_url(contoso5, "add-licenses"), {"keys": keys, "dry_run": True}, format="json"
    )
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert (preview["dry_run"], preview["applied"], preview["intent"]) == (
        True,
        False,
        "add_licenses",
    )
    (row,) = preview["products"]
    assert (row["before"]["seats"], row["after"]["seats"], row["key_count"]) == (5, 11, 2)
    assert row["subscription"] == standard(contoso5).pk
    assert standard(contoso5).seats == 5
    assert states(keys) == {"available"}
    assert Redemption.objects.filter(state=Redemption.State.DRAFT).count() == 0
    assert AuditEvent.objects.filter(action__startswith="subscription.").count() == before
    assert not Email.objects.exists()
    assert_same_fields(preview, example("customers_add_licenses"))


def test_adding_licenses_applies_and_tells_the_customer(applier, contoso5, make_keys):
    keys = make_keys(2, seats=3)
    Email.objects.all().delete()
    response = applier.post(customer_url(contoso5, "add-licenses"), {"keys": keys}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["applied"] is True
    assert standard(contoso5).seats == 11
    assert states(keys) == {"redeemed"}
    assert "megan@contoso.example" in {e.to[0] for e in Email.objects.all()}
    event = AuditEvent.objects.get(action="subscription.licenses_added")
    assert event.api_key == ApiKey.objects.get()


def test_applying_twice_with_one_idempotency_key_applies_once(applier, contoso5, make_keys):
    body = {"keys": make_keys(1, seats=2)}
    url = customer_url(contoso5, "add-licenses")
    first = applier.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="po-77")
    again = applier.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="po-77")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert standard(contoso5).seats == 7


def test_a_key_acting_as_an_agent_adds_licenses(partner_admin, contoso5, make_keys):
    client = api_client(api_key(partner_admin, "subscriptions:write", role="agent"))
    response = client.post(
        customer_url(contoso5, "add-licenses"), {"keys": make_keys(1, seats=2)}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert standard(contoso5).seats == 7


@pytest.fixture
def crowded(contoso5):
    """Contoso's 5 seats with 3 licenses: Megan (admin), Alex, then Lynne (the latest)."""
    subscription = standard(contoso5)
    for minutes, first in enumerate(["Alex", "Lynne"], start=1):
        person = TenantUser.objects.create(
            tenant=contoso5,
            first_name=first,
            last_name="Doe",
            email=f"{first.lower()}@contoso.example",
        )
        License.objects.create(
            subscription=subscription,
            tenant_user=person,
            assigned_at=subscription.created_at + datetime.timedelta(minutes=minutes),
        )
    return contoso5


def test_a_renewal_for_fewer_seats_is_dry_run_then_confirmed(applier, crowded, make_keys):
    url = customer_url(crowded, "renew")
    keys = make_keys(1, seats=2)
    preview = applier.post(url, {"keys": keys, "dry_run": True}, format="json").json()
    (row,) = preview["products"]
    assert row["fewer_seats"] and row["seats_missing"] == 3
    lynne = License.objects.get(tenant_user__first_name="Lynne")
    assert [lic["name"] for lic in row["licenses_lost"]] == ["Lynne Doe"]
    assert row["licenses_lost"][0]["license"] == lynne.pk
    assert (preview["users_losing"], preview["licenses_removed"]) == (1, [lynne.pk])
    assert_same_fields(preview, example("customers_renew"))

    refused = applier.post(url, {"keys": keys}, format="json")
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"].endswith(":fewer_seats_unconfirmed")
    assert problem["problems"] == [
        "Confirm that 1 user loses their license before applying these keys."
    ]
    assert problem["preview"]["licenses_removed"] == [lynne.pk]
    assert states(keys) == {"available"} and standard(crowded).seats == 5

    stale = applier.post(
        url, {"keys": keys, "fewer_seats_confirmed": True, "licenses_removed": [1]}, format="json"
    )
    assert stale.status_code == 422 and states(keys) == {"available"}

    confirmed = applier.post(
        url,
        {"keys": keys, "fewer_seats_confirmed": True, "licenses_removed": [lynne.pk]},
        format="json",
    )
    assert confirmed.status_code == 200, confirmed.json()
    assert standard(crowded).seats == 2
    assert not License.objects.filter(pk=lynne.pk).exists()
    assert states(keys) == {"redeemed"}


def test_a_product_problem_applies_nothing(applier, contoso5, make_keys, products):
    products["BUS-STD"].max_seats = 10
    products["BUS-STD"].save()
    keys = make_keys(1, seats=6)
    response = applier.post(customer_url(contoso5, "add-licenses"), {"keys": keys}, format="json")
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith(":keys_not_applicable")
    assert "allows at most 10 seats" in problem["problems"][0]
    assert problem["preview"]["blocked"] is True
    assert states(keys) == {"available"} and standard(contoso5).seats == 5


def test_a_bad_key_among_good_ones_is_reserved_for_nobody(applier, contoso5, make_keys):
    good = make_keys(2)
    response = applier.post(
        customer_url(contoso5, "renew"), {"keys": [good[0], good[0][:-1], good[1]]}, format="json"
    )
    assert response.status_code == 400
    problem = response.json()
    assert [k["index"] for k in problem["keys"]] == [1]
    assert problem["keys"][0]["format_error"]["code"] == "length"
    assert states(good) == {"available"}


def test_keys_for_another_partners_customer_are_404(applier, fabrikam, make_keys, products):
    theirs = TenantFactory(name="Theirs", domain_prefix="theirs", created_by_partner=fabrikam)
    keys = make_keys(1)
    response = applier.post(customer_url(theirs, "add-licenses"), {"keys": keys}, format="json")
    assert response.status_code == 404
    assert states(keys) == {"available"}


def test_applying_needs_its_scope_and_valid_fields(partner_admin, contoso5, make_keys, applier):
    reader = api_client(api_key(partner_admin, "customers:read", "customers:write"))
    url = customer_url(contoso5, "renew")
    assert reader.post(url, {"keys": make_keys(1)}, format="json").status_code == 403
    bad = applier.post(
        url, {"keys": [], "dry_run": "perhaps", "licenses_removed": ["x"]}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"keys", "dry_run", "licenses_removed"}
