"""The subscriptions API: the renewal list, a subscription's timeline, the switch to direct
billing — the renewals pages' reads and rules, through a key."""

from datetime import date, timedelta

import pytest
from drf_spectacular.generators import SchemaGenerator
from post_office.models import Email

from portal.models import ApiKey, AuditEvent
from tenants.models import License, Subscription
from tests.factories import (
    DelegationRelationshipFactory,
    ProductFactory,
    SubscriptionFactory,
    TenantFactory,
)
from tests.helpers import api_client, api_key

TODAY = date(2026, 6, 1)
LIST = "/api/v1/subscriptions/"


def detail_url(pk: int) -> str:
    return f"/api/v1/subscriptions/{pk}/"


def switch_url(pk: int) -> str:
    return f"/api/v1/subscriptions/{pk}/direct-billing/"


@pytest.fixture
def today(time_machine):
    """The clock on TODAY before any key is made (a key expires 30 days after it is made)."""
    time_machine.move_to(TODAY)
    return TODAY


@pytest.fixture
def subscribe(today, contoso, northwind):
    """subscribe(end_date, sku=..., tenant=..., **fields) -> a subscription of Northwind's record
    in Contoso (by default), with the seeded renewal notice days."""
    from renewals.models import NoticeOffset

    for days in (60, 30, 7, 1):
        NoticeOffset.objects.get_or_create(days_before=days)

    def make(end_date: date, sku="BUS-STD", tenant=None, **extra):
        extra.setdefault("partner_of_record", northwind)
        return SubscriptionFactory(
            tenant=tenant or contoso,
            product=ProductFactory(sku=sku, name=f"Product {sku}"),
            start_date=min(end_date, date(2025, 1, 1)),
            end_date=end_date,
            **extra,
        )

    return make


@pytest.fixture
def reader(today, partner_admin):
    return api_client(api_key(partner_admin, "subscriptions:read"))


@pytest.fixture
def writer(today, partner_admin):
    return api_client(api_key(partner_admin, "subscriptions:read", "subscriptions:write"))


def listed(client, query: str = "") -> list[int]:
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


# --- The list -----------------------------------------------------------------------------


def test_it_lists_the_renewal_list_soonest_end_first_with_each_rows_facts(
    reader, subscribe, contoso, alex
):
    later = subscribe(TODAY + timedelta(days=50), sku="B")
    sooner = subscribe(TODAY + timedelta(days=5), sku="A", seats=3)
    License.objects.create(subscription=sooner, tenant_user=alex)
    response = reader.get(LIST)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [sooner.pk, later.pk]
    assert rows[0] == {
        "id": sooner.pk,
        "customer": {"id": contoso.pk, "name": "Contoso", "domain": contoso.domain},
        "product": {"sku": "A", "name": "Product A"},
        "seats": 3,
        "seats_used": 1,
        "start_date": "2025-01-01",
        "end_date": "2026-06-06",
        "state": {"code": "active", "label": "Active"},
        "days_left": 5,
        "partner_of_record": {
            "partner_id": "1000001",
            "name": "Northwind Partners",
            "is_you": True,
        },
        "billed_directly": False,
        "ended_by_direct_billing": False,
        "actions": {"may_renew": True, "may_switch_to_direct_billing": True},
    }
    assert rows[1]["seats_used"] == 0


def test_the_filters_are_the_pages(reader, subscribe):
    week = subscribe(TODAY + timedelta(days=5), sku="A")
    month = subscribe(TODAY + timedelta(days=30), sku="B")  # the 30th day is within 30 days
    two_months = subscribe(TODAY + timedelta(days=50), sku="C")
    later = subscribe(TODAY + timedelta(days=61), sku="D")
    expired = subscribe(TODAY - timedelta(days=3), sku="E")
    disabled = subscribe(TODAY - timedelta(days=45), sku="F")
    subscribe(TODAY - timedelta(days=200), sku="G")  # deleted by its dates: not listed
    assert listed(reader) == [disabled.pk, expired.pk, week.pk, month.pk, two_months.pk, later.pk]
    assert listed(reader, "window=7") == [week.pk]
    assert listed(reader, "window=30") == [week.pk, month.pk]
    assert listed(reader, "window=60") == [week.pk, month.pk, two_months.pk]
    assert listed(reader, "window=expired") == [expired.pk]
    assert listed(reader, "window=disabled") == [disabled.pk]
    assert listed(reader, "state=active") == [week.pk, month.pk, two_months.pk, later.pk]
    assert listed(reader, "state=expired") == [expired.pk]
    assert listed(reader, "state=disabled") == [disabled.pk]
    assert listed(reader, "window=7&state=expired") == []


def test_the_filters_follow_the_clock(reader, subscribe, time_machine):
    subscription = subscribe(TODAY + timedelta(days=10))
    assert listed(reader, "window=7") == []
    time_machine.move_to(TODAY + timedelta(days=3))
    assert listed(reader, "window=7") == [subscription.pk]
    time_machine.move_to(TODAY + timedelta(days=11))  # the day after the end date: grace
    assert listed(reader, "window=7") == []
    row = reader.get(f"{LIST}?state=expired").json()["results"][0]
    assert row["state"] == {"code": "expired", "label": "Expired (grace period)"}
    assert row["days_left"] == -1


def test_a_filter_the_page_does_not_offer_is_a_field_error_in_the_clients_language(
    today, partner_admin
):
    raw = api_key(partner_admin, "subscriptions:read")
    response = api_client(raw).get(f"{LIST}?window=45&state=gone")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith(":invalid")
    assert body["errors"] == {
        "window": ["Select a valid choice. 45 is not one of the available choices."],
        "state": ["Select a valid choice. gone is not one of the available choices."],
    }
    french = api_client(raw, language="fr").get(f"{LIST}?window=45").json()
    assert french["errors"]["window"][0].startswith("Sélectionnez un choix valide.")


def test_it_lists_only_what_the_tenant_rule_lets_the_partner_read(
    reader, subscribe, northwind, fabrikam
):
    ours = subscribe(TODAY + timedelta(days=5), sku="A")
    theirs = TenantFactory(created_by_partner=fabrikam)
    subscribe(TODAY + timedelta(days=5), sku="B", tenant=theirs, partner_of_record=fabrikam)
    helped = TenantFactory(created_by_partner=fabrikam)
    subscribe(TODAY + timedelta(days=5), sku="C", tenant=helped, partner_of_record=fabrikam)
    DelegationRelationshipFactory(partner=northwind, tenant=helped, roles=["helpdesk"])
    billed = TenantFactory(created_by_partner=fabrikam)
    read = subscribe(TODAY + timedelta(days=6), sku="D", tenant=billed, partner_of_record=fabrikam)
    DelegationRelationshipFactory(partner=northwind, tenant=billed, roles=["billing_reader"])
    subscribe(TODAY + timedelta(days=7), sku="E", billed_directly=True, partner_of_record=None)
    rows = reader.get(LIST).json()["results"]
    assert [row["id"] for row in rows] == [ours.pk, read.pk]
    # A billing reader reads: it neither redeems keys nor switches (the pages' rules).
    assert rows[1]["actions"] == {"may_renew": False, "may_switch_to_direct_billing": False}
    assert rows[1]["partner_of_record"] == {
        "partner_id": "1000002",
        "name": "Fabrikam Resellers",
        "is_you": False,
    }


def test_a_key_acting_as_an_agent_may_renew_but_not_switch(today, subscribe, partner_admin):
    subscribe(TODAY + timedelta(days=5))
    agent = api_client(api_key(partner_admin, "subscriptions:read", role="agent"))
    (row,) = agent.get(LIST).json()["results"]
    assert row["actions"] == {"may_renew": True, "may_switch_to_direct_billing": False}


def test_the_cursor_pages_through_every_row_once_in_order(reader, subscribe):
    ends = [5, 5, 5, 8, 9, 9, 12]  # ties on the end date are ordered by ID
    made = [subscribe(TODAY + timedelta(days=d), sku=f"S{i}").pk for i, d in enumerate(ends)]
    seen, url, pages = [], f"{LIST}?page_size=3", 0
    while url:
        body = reader.get(url).json()
        assert len(body["results"]) <= 3
        seen += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    assert seen == made and pages == 3
    # And back: the previous page of the last is the middle one.
    last = reader.get(f"{LIST}?page_size=3").json()
    middle = reader.get(last["next"]).json()
    assert [row["id"] for row in reader.get(middle["previous"]).json()["results"]] == made[:3]


def test_the_list_costs_the_same_queries_for_one_row_and_many(
    reader, subscribe, northwind, fabrikam, django_assert_num_queries
):
    subscribe(TODAY + timedelta(days=5), sku="A")
    reader.get(LIST)  # the key's "last used" is written once a minute: not in the count
    with django_assert_num_queries(4) as first:  # key, list, tenants of record, relationships
        assert len(reader.get(LIST).json()["results"]) == 1
    for index in range(12):
        subscribe(
            TODAY + timedelta(days=index),
            sku=f"M{index}",
            tenant=TenantFactory(created_by_partner=northwind),
        )
    for index in range(4):  # customers of another partner, under Northwind's relationships
        tenant = TenantFactory(created_by_partner=fabrikam)
        subscribe(
            TODAY + timedelta(days=index), sku=f"D{index}", tenant=tenant, partner_of_record=None
        )
        roles = ["billing_reader"] if index % 2 else ["global_admin"]
        DelegationRelationshipFactory(partner=northwind, tenant=tenant, roles=roles)
    with django_assert_num_queries(len(first.captured_queries)):
        rows = reader.get(LIST).json()["results"]
    assert len(rows) == 17
    # Under a global administrator relationship the partner admin may switch: the same rule as
    # the subscription's page, asked for every row without a query per row.
    switchable = {row["customer"]["id"] for row in rows if row["actions"][
        "may_switch_to_direct_billing"
    ]}  # fmt: skip
    assert len(switchable) == 1 + 12 + 2


def test_the_list_needs_the_read_scope(today, partner_admin):
    response = api_client(api_key(partner_admin, "customers:read")).get(LIST)
    assert response.status_code == 403
    assert response.json()["required_scope"] == "subscriptions:read"


# --- A subscription ----------------------------------------------------------------------


def test_the_detail_has_the_timelines_dated_events(reader, subscribe, partner_admin):
    subscription = subscribe(TODAY + timedelta(days=45))
    response = reader.get(detail_url(subscription.pk))
    assert response.status_code == 200
    body = response.json()
    end = TODAY + timedelta(days=45)
    assert [(event["kind"], event["date"], event["past"]) for event in body["timeline"]] == [
        ("notice", (end - timedelta(days=60)).isoformat(), True),
        ("today", TODAY.isoformat(), False),
        ("notice", (end - timedelta(days=30)).isoformat(), False),
        ("notice", (end - timedelta(days=7)).isoformat(), False),
        ("notice", (end - timedelta(days=1)).isoformat(), False),
        ("end", end.isoformat(), False),
        ("expired", (end + timedelta(days=1)).isoformat(), False),
        ("disabled", (end + timedelta(days=30)).isoformat(), False),
        ("deleted", (end + timedelta(days=120)).isoformat(), False),
    ]
    assert body["timeline"][0]["label"] == "Renewal notice (60 days before the end)"
    assert body["next_change"] == {"state": "expired", "date": "2026-07-17"}
    assert body["replaced_by"] is None
    assert body["days_left"] == 45
    french = api_client(api_key(partner_admin, "subscriptions:read"), language="fr")
    labels = [
        event["label"] for event in french.get(detail_url(subscription.pk)).json()["timeline"]
    ]
    assert "Today" not in labels  # the request's language


def test_another_partners_subscription_is_404(today, subscribe, fabrikam, other_partner_admin):
    subscription = subscribe(TODAY + timedelta(days=45))
    client = api_client(api_key(other_partner_admin, "subscriptions:read"))
    response = client.get(detail_url(subscription.pk))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert client.get(detail_url(subscription.pk + 1000)).status_code == 404
    # Under a helpdesk relationship it sees users, not subscriptions: still 404.
    relationship = DelegationRelationshipFactory(
        partner=fabrikam, tenant=subscription.tenant, roles=["helpdesk"]
    )
    assert client.get(detail_url(subscription.pk)).status_code == 404
    relationship.roles = ["billing_reader"]
    relationship.save()
    assert client.get(detail_url(subscription.pk)).status_code == 200


def test_the_detail_needs_the_read_scope(today, subscribe, partner_admin):
    subscription = subscribe(TODAY + timedelta(days=45))
    client = api_client(api_key(partner_admin, "subscriptions:write"))
    assert client.get(detail_url(subscription.pk)).status_code == 403


# --- Direct billing ------------------------------------------------------------------------


def test_a_partner_admins_key_switches_as_the_page_does(writer, subscribe, contoso, alex):
    subscription = subscribe(TODAY + timedelta(days=10))
    License.objects.create(subscription=subscription, tenant_user=alex)
    response = writer.post(switch_url(subscription.pk), {"confirm": True}, format="json")
    assert response.status_code == 201, response.json()
    new = Subscription.objects.get(billed_directly=True)
    assert response["Location"] == detail_url(new.pk)
    assert response.json() == {
        "dry_run": False,
        "subscription": subscription.pk,
        "ended": False,
        "end_date": "2026-06-11",
        "prepaid_end_date": "2026-06-01",
        "prepaid_days_lost": 10,
        "new_subscription": {
            "id": new.pk,
            "product": {"sku": "BUS-STD", "name": "Product BUS-STD"},
            "seats": 5,
            "start_date": "2026-06-01",
            "end_date": "2027-05-31",
            "billed_directly": True,
        },
    }
    subscription.refresh_from_db()
    assert subscription.ended_by_direct_billing and subscription.end_date == TODAY
    assert list(new.licenses.values_list("tenant_user", flat=True)) == [alex.pk]
    event = AuditEvent.objects.get(action="subscription.direct_billing")
    assert event.actor.email == "partner@northwind.example"
    assert event.api_key == ApiKey.objects.get()
    assert event.details["prepaid_days_lost"] == 10
    assert event.details["capacity"] == "partner"
    assert sorted(to[0] for to in Email.objects.values_list("to", flat=True)) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    # The old subscription now points to its replacement and has no timeline.
    old = writer.get(detail_url(subscription.pk)).json()
    assert old["replaced_by"] == new.pk and old["timeline"] == [] and old["next_change"] is None
    assert old["state"]["label"] == "Ended (direct billing)"
    assert old["actions"] == {"may_renew": False, "may_switch_to_direct_billing": False}
    assert writer.get(detail_url(new.pk)).json()["state"]["label"] == "Active (billed directly)"


def test_a_dry_run_shows_the_confirmation_and_changes_nothing(writer, subscribe):
    subscription = subscribe(TODAY + timedelta(days=10))
    response = writer.post(switch_url(subscription.pk), {"dry_run": True}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True
    assert (body["prepaid_days_lost"], body["end_date"], body["prepaid_end_date"]) == (
        10,
        "2026-06-11",
        "2026-06-01",
    )
    assert body["new_subscription"] == {
        "id": None,
        "product": {"sku": "BUS-STD", "name": "Product BUS-STD"},
        "seats": 5,
        "start_date": "2026-06-01",
        "end_date": "2027-05-31",
        "billed_directly": True,
    }
    subscription.refresh_from_db()
    assert subscription.end_date == TODAY + timedelta(days=10)
    assert not subscription.ended_by_direct_billing
    assert Subscription.objects.count() == 1
    assert not AuditEvent.objects.filter(action="subscription.direct_billing").exists()
    assert not Email.objects.exists()


def test_an_ended_subscription_switches_without_losing_days(writer, subscribe):
    subscription = subscribe(TODAY - timedelta(days=40))  # disabled: switching reactivates
    body = writer.post(switch_url(subscription.pk), {"dry_run": True}, format="json").json()
    assert body["ended"] is True and body["prepaid_days_lost"] == 0
    assert body["prepaid_end_date"] == body["end_date"] == "2026-04-22"


def test_a_key_acting_as_an_agent_is_answered_404_as_the_page_answers_an_agent(
    today, subscribe, partner_admin
):
    subscription = subscribe(TODAY + timedelta(days=10))
    agent = api_client(
        api_key(partner_admin, "subscriptions:read", "subscriptions:write", role="agent")
    )
    for body in ({"confirm": True}, {"dry_run": True}):
        response = agent.post(switch_url(subscription.pk), body, format="json")
        assert response.status_code == 404
        assert response.json()["type"].endswith(":not_found")
    assert Subscription.objects.count() == 1 and not Email.objects.exists()


def test_another_partners_subscription_cannot_switch(
    today, subscribe, other_partner_admin, fabrikam
):
    subscription = subscribe(TODAY + timedelta(days=10))
    client = api_client(api_key(other_partner_admin, "subscriptions:write"))
    assert (
        client.post(switch_url(subscription.pk), {"confirm": True}, format="json").status_code
        == 404
    )
    # Reading its subscriptions (billing reader) does not let it switch either.
    DelegationRelationshipFactory(
        partner=fabrikam, tenant=subscription.tenant, roles=["billing_reader"]
    )
    assert (
        client.post(switch_url(subscription.pk), {"confirm": True}, format="json").status_code
        == 404
    )
    assert Subscription.objects.count() == 1


def test_under_a_global_administrator_relationship_the_partner_admins_key_switches(
    today, subscribe, other_partner_admin, fabrikam
):
    from tenants.models import ActivityLog

    subscription = subscribe(TODAY + timedelta(days=10))
    DelegationRelationshipFactory(
        partner=fabrikam, tenant=subscription.tenant, roles=["global_admin"]
    )
    client = api_client(api_key(other_partner_admin, "subscriptions:write"))
    assert (
        client.post(switch_url(subscription.pk), {"confirm": True}, format="json").status_code
        == 201
    )
    entry = ActivityLog.objects.get(action="subscription.direct_billing")
    assert (entry.partner, entry.actor) == (fabrikam, other_partner_admin)


def test_a_subscription_that_cannot_switch_any_more_is_409_with_the_pages_message(
    writer, subscribe
):
    deleted = subscribe(TODAY - timedelta(days=200))
    for body in ({"confirm": True}, {"dry_run": True}):
        response = writer.post(switch_url(deleted.pk), body, format="json")
        assert response.status_code == 409
        assert response.json()["type"].endswith(":direct_billing_refused")
        assert (
            response.json()["detail"]
            == "This subscription cannot switch to direct billing any more."
        )
    switched = subscribe(TODAY + timedelta(days=10), sku="B")
    assert writer.post(switch_url(switched.pk), {"confirm": True}, format="json").status_code == 201
    assert writer.post(switch_url(switched.pk), {"confirm": True}, format="json").status_code == 409


def test_a_bad_body_is_a_field_error(writer, subscribe):
    subscription = subscribe(TODAY + timedelta(days=10))
    response = writer.post(switch_url(subscription.pk), {"dry_run": "perhaps"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["dry_run"]
    assert Subscription.objects.count() == 1


def test_switching_needs_the_write_scope(reader, subscribe):
    subscription = subscribe(TODAY + timedelta(days=10))
    response = reader.post(switch_url(subscription.pk), {"dry_run": True}, format="json")
    assert response.status_code == 403
    assert response.json()["required_scope"] == "subscriptions:write"


def test_the_same_idempotency_key_switches_once(writer, subscribe):
    subscription = subscribe(TODAY + timedelta(days=10))
    headers = {"Idempotency-Key": "switch-contoso"}
    first = writer.post(
        switch_url(subscription.pk), {"confirm": True}, format="json", headers=headers
    )
    again = writer.post(
        switch_url(subscription.pk), {"confirm": True}, format="json", headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Subscription.objects.filter(billed_directly=True).count() == 1
    assert AuditEvent.objects.filter(action="subscription.direct_billing").count() == 1


# --- The schema's examples are real responses ----------------------------------------------


def _example(path: str, method: str, code: str) -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    content = schema["paths"][path][method]["responses"][code]["content"]["application/json"]
    (example,) = content["examples"].values()
    return example["value"]


def same_keys(example, real, where="") -> None:
    """The same keys at every level (lists: their first item; null stands for an object)."""
    if isinstance(example, dict) and isinstance(real, dict):
        assert set(example) == set(real), where
        for name in example:
            same_keys(example[name], real[name], f"{where}.{name}")
    elif isinstance(example, list) and isinstance(real, list) and example and real:
        same_keys(example[0], real[0], f"{where}[0]")


def test_the_examples_have_the_keys_of_real_responses(writer, subscribe, alex):
    subscription = subscribe(TODAY + timedelta(days=10))
    License.objects.create(subscription=subscription, tenant_user=alex)
    listed_example = _example("/api/v1/subscriptions/", "get", "200")
    listed_real = writer.get(LIST).json()
    same_keys(listed_example, listed_real)
    assert listed_real["results"] and listed_real["results"][0]["partner_of_record"]
    detail_example = _example("/api/v1/subscriptions/{id}/", "get", "200")
    detail_real = writer.get(detail_url(subscription.pk)).json()
    same_keys(detail_example, detail_real)
    switch_example = _example("/api/v1/subscriptions/{id}/direct-billing/", "post", "201")
    dry_run = writer.post(switch_url(subscription.pk), {"dry_run": True}, format="json").json()
    same_keys(switch_example, dry_run)
    switched = writer.post(switch_url(subscription.pk), {"confirm": True}, format="json").json()
    same_keys(switch_example, switched)


# --- The list's rule is the tenant rule --------------------------------------------------------


def test_the_lists_tenant_rule_answers_as_tenant_access_for_each_tenant(
    today, subscribe, northwind, fabrikam, partner_admin
):
    from django.http import Http404

    from tenants.access import Permission, partner_tenant_accesses, tenant_access

    created = TenantFactory(created_by_partner=northwind)
    of_record = TenantFactory(created_by_partner=fabrikam)
    subscribe(TODAY, tenant=of_record)
    both = TenantFactory(created_by_partner=northwind)
    DelegationRelationshipFactory(partner=northwind, tenant=both, roles=["billing_reader"])
    delegated = TenantFactory(created_by_partner=fabrikam)
    DelegationRelationshipFactory(partner=northwind, tenant=delegated, roles=["global_admin"])
    theirs = TenantFactory(created_by_partner=fabrikam)
    ids = [tenant.pk for tenant in (created, of_record, both, delegated, theirs)]

    def standing(access):
        return access and (access.capacity, access.permissions, access.relationship, access.tenant)

    def one_by_one(pk):
        try:
            return tenant_access(user=partner_admin, tenant_id=pk, permission=Permission.READ)
        except Http404:
            return None

    together = partner_tenant_accesses(partner_admin, ids)
    assert set(together) == set(ids) - {theirs.pk}
    for pk in ids:
        assert standing(together.get(pk)) == standing(one_by_one(pk)), pk


def test_an_empty_body_switches_nothing(writer, subscribe):
    """An irreversible act needs `confirm: true` (or `dry_run: true` to look first)."""
    subscription = subscribe(TODAY + timedelta(days=10))
    response = writer.post(switch_url(subscription.pk), {}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["confirm"]
    assert Subscription.objects.count() == 1 and not Email.objects.exists()
