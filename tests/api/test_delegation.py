"""Delegated administration's API, the partner's side: offers, relationships, the activity log,
and the "via API" mark that acts done with a key leave in both sides' activity logs."""

import csv
import datetime
import io

import pytest
import time_machine
from django.utils import timezone
from post_office.models import Email

from portal.models import ApiKey, AuditEvent, PartnerMembership
from tenants.access import customer_access
from tenants.delegation.offers import OfferDetails, offer_answer, offer_send
from tenants.models import ActivityLog, DelegationOffer, DelegationRelationship
from tests.factories import DelegationOfferFactory, DelegationRelationshipFactory, TenantFactory
from tests.helpers import api_client, api_key, assert_documented, problem_type

OFFERS = "/api/v1/offers/"
RELATIONSHIPS = "/api/v1/relationships/"
ACTIVITY = "/api/v1/activity/"


def send(user, tenant, roles=("user_admin",), days=30):
    return offer_send(
        membership=user.partner_membership,
        tenant=tenant,
        details=OfferDetails(roles=list(roles), duration_days=days, auto_extend=False, message=""),
    )


def related(partner_admin, tenant, tenant_admin, roles=("user_admin",)):
    offer = send(partner_admin, tenant, roles=roles)
    return offer_answer(access=customer_access(tenant_admin), offer=offer, accept=True)


@pytest.fixture
def admin_api(partner_admin):
    """Northwind's admin's key, acting as an admin, with every scope."""
    return api_client(api_key(partner_admin))


@pytest.fixture
def agent_api(partner_admin):
    """A key of Northwind acting as an agent (every scope an agent's key may hold)."""
    return api_client(api_key(partner_admin, role=PartnerMembership.Role.AGENT))


@pytest.fixture
def fabrikam_api(other_partner_admin):
    return api_client(api_key(other_partner_admin))


# --- Sending offers --------------------------------------------------------------------------


def test_it_sends_an_offer_as_the_page_does(admin_api, partner_admin, contoso, contoso_admin):
    response = admin_api.post(
        OFFERS, {"customer": contoso.pk, "roles": ["helpdesk", "user_admin"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert_documented(response, "/api/v1/offers/", "post")
    offer = DelegationOffer.objects.get()
    body = response.json()
    assert body["id"] == offer.pk and body["customer"]["name"] == "Contoso"
    assert body["roles"] == ["user_admin", "helpdesk"]  # the catalog's order
    # What the page's form starts with: 730 days, and the message in the customer's language.
    assert (offer.duration_days, offer.created_by) == (730, partner_admin)
    assert offer.message.startswith("Bonjour") and "Northwind Partners" in offer.message
    assert body["state"] == "pending" and body["open"] and body["resend_after"]
    # The customer's admins get the page's e-mail, in their language.
    (email,) = Email.objects.all()
    assert email.to == [contoso_admin.email]
    assert "demande" in email.subject and "/customer/offer/" in email.message
    event = AuditEvent.objects.get(action="delegation_offer.sent")
    assert event.api_key == ApiKey.objects.get() and "API key" in event.actor_label


def test_a_message_sent_empty_stays_empty(admin_api, contoso):
    response = admin_api.post(
        OFFERS,
        {"customer": contoso.pk, "roles": ["helpdesk"], "duration_days": 60, "message": ""},
        format="json",
    )
    assert response.status_code == 201
    assert (DelegationOffer.objects.get().message, response.json()["duration_days"]) == ("", 60)


def test_the_same_idempotency_key_sends_one_offer(admin_api, contoso):
    body = {"customer": contoso.pk, "roles": ["helpdesk"]}
    first = admin_api.post(OFFERS, body, format="json", HTTP_IDEMPOTENCY_KEY="offer-1")
    again = admin_api.post(OFFERS, body, format="json", HTTP_IDEMPOTENCY_KEY="offer-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert DelegationOffer.objects.count() == 1 and Email.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"roles": []}, "roles", "This field is required."),
        ({"roles": ["owner"]}, "roles", "Select a valid choice."),
        ({"duration_days": 0}, "duration_days", "The duration is from 1 to 730 days."),
        ({"duration_days": 731}, "duration_days", "The duration is from 1 to 730 days."),
        (
            {"roles": ["global_admin"], "auto_extend": True},
            "auto_extend",
            "A relationship with the global administrator role cannot auto-extend",
        ),
        ({"customer": None}, "customer", "This field is required."),
    ],
)
def test_it_refuses_what_the_page_refuses_with_its_messages(
    admin_api, contoso, body, field, message
):
    response = admin_api.post(
        OFFERS, {"customer": contoso.pk, "roles": ["helpdesk"], **body}, format="json"
    )
    assert response.status_code == 400
    assert problem_type(response) == "invalid"
    assert message in response.json()["errors"][field][0]
    assert not DelegationOffer.objects.exists() and not Email.objects.exists()


def test_another_partners_customer_is_not_a_choice(admin_api, other_partner_admin, fabrikam):
    tailspin = TenantFactory(name="Tailspin", created_by_partner=fabrikam)
    response = admin_api.post(
        OFFERS, {"customer": tailspin.pk, "roles": ["helpdesk"]}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["customer"]


def test_a_second_offer_while_one_is_pending_is_409_naming_it(admin_api, partner_admin, contoso):
    pending = send(partner_admin, contoso)
    response = admin_api.post(OFFERS, {"customer": contoso.pk, "roles": ["helpdesk"]})
    assert response.status_code == 409 and problem_type(response) == "offer_pending"
    assert response.json()["pending_offer"] == pending.pk
    assert "already pending" in response.json()["detail"]


def test_a_key_acting_as_an_agent_hears_the_pages_reason(agent_api, partner_agent, contoso, client):
    response = agent_api.post(OFFERS, {"customer": contoso.pk, "roles": ["helpdesk"]})
    assert response.status_code == 403 and problem_type(response) == "offer_not_allowed"
    client.force_login(partner_agent)
    page_reason = client.get("/partner/delegated-admin/").context["problem"]
    assert response.json()["detail"] == page_reason
    assert "Ask one of them: partner@northwind.example." in page_reason
    assert response.json()["required_scope"] == "delegation:write"
    assert not DelegationOffer.objects.exists()


def test_a_key_whose_creator_became_an_agent_cannot_send(admin_api, partner_admin, contoso):
    PartnerMembership.objects.filter(user=partner_admin).update(role="agent")
    response = admin_api.post(OFFERS, {"customer": contoso.pk, "roles": ["helpdesk"]})
    assert response.status_code == 403 and problem_type(response) == "offer_not_allowed"
    assert "Only your organization's partner admins" in response.json()["detail"]


def test_a_partner_not_enrolled_hears_why_in_the_callers_language(
    other_partner_admin, fabrikam, contoso
):
    client = api_client(api_key(other_partner_admin), language="fr")
    response = client.post(OFFERS, {"customer": contoso.pk, "roles": ["helpdesk"]})
    assert response.status_code == 403 and problem_type(response) == "offer_not_allowed"
    assert "programme cloud" in response.json()["detail"]


def test_without_the_scope_it_is_403(partner_admin, contoso):
    client = api_client(api_key(partner_admin, "delegation:read"))
    response = client.post(OFFERS, {"customer": contoso.pk, "roles": ["helpdesk"]})
    assert response.status_code == 403 and problem_type(response) == "insufficient_scope"
    client = api_client(api_key(partner_admin, "activity:read"))
    for url in (OFFERS, RELATIONSHIPS):
        assert problem_type(client.get(url)) == "insufficient_scope"
    client = api_client(api_key(partner_admin, "delegation:read"))
    assert problem_type(client.get(ACTIVITY)) == "insufficient_scope"


# --- Reading offers --------------------------------------------------------------------------


def test_it_lists_the_partners_offers_with_filters_and_cursor(
    admin_api, partner_admin, northwind, contoso, fabrikam
):
    others = [TenantFactory(created_by_partner=northwind) for _ in range(2)]
    first, second = (send(partner_admin, tenant) for tenant in others)
    mine = send(partner_admin, contoso)
    DelegationOffer.objects.filter(pk=first.pk).update(state="withdrawn")
    DelegationOfferFactory(partner=fabrikam, tenant=TenantFactory(created_by_partner=fabrikam))
    response = admin_api.get(OFFERS)
    assert response.status_code == 200
    assert_documented(response, "/api/v1/offers/")
    assert [row["id"] for row in response.json()["results"]] == [mine.pk, second.pk, first.pk]
    only = admin_api.get(OFFERS, {"state": "withdrawn"}).json()["results"]
    assert [row["id"] for row in only] == [first.pk]
    only = admin_api.get(OFFERS, {"customer": contoso.pk}).json()["results"]
    assert [row["id"] for row in only] == [mine.pk]
    page = admin_api.get(OFFERS, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = admin_api.get(page["next"]).json()
    assert [row["id"] for row in rest["results"]] == [first.pk] and rest["next"] is None


def test_a_bad_filter_is_400_with_its_field(admin_api):
    response = admin_api.get(OFFERS, {"state": "sent", "customer": "x"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"state", "customer"}


def test_it_reads_one_offer_and_another_partners_is_404(
    admin_api, fabrikam_api, partner_admin, contoso
):
    offer = send(partner_admin, contoso)
    response = admin_api.get(f"{OFFERS}{offer.pk}/")
    assert response.status_code == 200 and response.json()["sent_by"] == partner_admin.email
    assert_documented(response, "/api/v1/offers/{offer_id}/")
    for url in ("", "withdraw/", "resend/"):
        call = fabrikam_api.get if not url else fabrikam_api.post
        response = call(f"{OFFERS}{offer.pk}/{url}")
        assert response.status_code == 404 and problem_type(response) == "not_found"
    offer.refresh_from_db()
    assert offer.state == "pending" and Email.objects.count() == 1


@pytest.mark.parametrize("rows", [1, 5])
def test_the_offer_list_runs_a_fixed_number_of_queries(
    admin_api, partner_admin, northwind, rows, django_assert_num_queries
):
    for _n in range(rows):
        send(partner_admin, TenantFactory(created_by_partner=northwind))
    admin_api.get(OFFERS)  # the key's "last used" is written once a minute
    # The key (one indexed query), then the page of offers with their customers and senders.
    with django_assert_num_queries(2):
        response = admin_api.get(OFFERS)
    assert len(response.json()["results"]) == rows


# --- Withdrawing and sending again -----------------------------------------------------------


def test_it_withdraws_then_a_closed_offer_is_409(admin_api, partner_admin, contoso):
    offer = send(partner_admin, contoso)
    response = admin_api.post(f"{OFFERS}{offer.pk}/withdraw/")
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"
    assert_documented(response, "/api/v1/offers/{offer_id}/withdraw/", "post")
    assert AuditEvent.objects.get(action="delegation_offer.withdrawn").api_key is not None
    for url in ("withdraw/", "resend/"):
        response = admin_api.post(f"{OFFERS}{offer.pk}/{url}")
        assert response.status_code == 409 and problem_type(response) == "offer_closed"
        assert response.json()["detail"] == "This offer was withdrawn by the partner."
        assert response.json()["state"] == "withdrawn"


def test_an_offer_past_its_90_days_is_closed(partner_admin, contoso):
    client = api_client(api_key(partner_admin, days=120))
    offer = send(partner_admin, contoso)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=91)):
        response = client.post(f"{OFFERS}{offer.pk}/withdraw/")
    assert response.status_code == 409 and response.json()["state"] == "expired"


def test_an_agents_key_cannot_withdraw_nor_resend(agent_api, partner_admin, contoso):
    offer = send(partner_admin, contoso)
    for url in ("withdraw/", "resend/"):
        response = agent_api.post(f"{OFFERS}{offer.pk}/{url}")
        assert response.status_code == 403 and problem_type(response) == "insufficient_scope"
    assert agent_api.get(f"{OFFERS}{offer.pk}/").status_code == 200  # reading is an agent's
    offer.refresh_from_db()
    assert offer.state == "pending" and Email.objects.count() == 1


def test_the_e_mail_goes_again_at_most_every_ten_minutes(partner_admin, contoso, contoso_admin):
    start = datetime.datetime(2026, 3, 2, 9, 15, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        client = api_client(api_key(partner_admin))
        offer = send(partner_admin, contoso)
    with time_machine.travel(start + datetime.timedelta(minutes=1), tick=False):
        response = client.post(f"{OFFERS}{offer.pk}/resend/")
    assert response.status_code == 429 and problem_type(response) == "offer_resend_too_soon"
    assert response["Retry-After"] == "540"
    assert response.json()["resend_after"] == "2026-03-02T09:25:00Z"
    assert "less than 10 minutes ago" in response.json()["detail"]
    assert Email.objects.count() == 1
    with time_machine.travel(start + datetime.timedelta(minutes=11), tick=False):
        response = client.post(f"{OFFERS}{offer.pk}/resend/")
    assert response.status_code == 200
    assert_documented(response, "/api/v1/offers/{offer_id}/resend/", "post")
    assert response.json()["last_sent_at"] == "2026-03-02T09:26:00Z"
    assert [email.to for email in Email.objects.all()] == [[contoso_admin.email]] * 2
    assert AuditEvent.objects.filter(action="delegation_offer.resent").count() == 1


# --- Relationships ---------------------------------------------------------------------------


def test_it_lists_and_reads_relationships(
    admin_api, fabrikam_api, partner_admin, contoso, contoso_admin, northwind, fabrikam
):
    relationship = related(partner_admin, contoso, contoso_admin)
    ended = DelegationRelationshipFactory(
        partner=northwind, tenant=TenantFactory(created_by_partner=northwind), state="expired"
    )
    DelegationRelationshipFactory(
        partner=fabrikam, tenant=TenantFactory(created_by_partner=fabrikam)
    )
    response = admin_api.get(RELATIONSHIPS)
    assert response.status_code == 200
    assert_documented(response, "/api/v1/relationships/")
    # The page's order: active first, then by end date.
    assert [row["id"] for row in response.json()["results"]] == [relationship.pk, ended.pk]
    row = response.json()["results"][0]
    assert (row["state"], row["in_force"], row["offer"]) == ("active", True, relationship.offer_id)
    first = admin_api.get(RELATIONSHIPS, {"page_size": 1}).json()
    rest = admin_api.get(first["next"]).json()
    assert [row["id"] for row in first["results"] + rest["results"]] == [relationship.pk, ended.pk]
    assert rest["next"] is None and admin_api.get(rest["previous"]).json() == first
    only = admin_api.get(RELATIONSHIPS, {"state": "active"}).json()["results"]
    assert [row["id"] for row in only] == [relationship.pk]
    only = admin_api.get(RELATIONSHIPS, {"customer": contoso.pk}).json()["results"]
    assert [row["id"] for row in only] == [relationship.pk]
    assert admin_api.get(RELATIONSHIPS, {"state": "ended"}).status_code == 400
    response = admin_api.get(f"{RELATIONSHIPS}{relationship.pk}/")
    assert response.status_code == 200 and response.json()["customer"]["name"] == "Contoso"
    assert_documented(response, "/api/v1/relationships/{relationship_id}/")
    assert fabrikam_api.get(f"{RELATIONSHIPS}{relationship.pk}/").status_code == 404


@pytest.mark.parametrize("rows", [1, 5])
def test_the_relationship_list_runs_a_fixed_number_of_queries(
    admin_api, northwind, rows, django_assert_num_queries
):
    for _n in range(rows):
        DelegationRelationshipFactory(
            partner=northwind, tenant=TenantFactory(created_by_partner=northwind)
        )
    admin_api.get(RELATIONSHIPS)
    with django_assert_num_queries(2):
        response = admin_api.get(RELATIONSHIPS)
    assert len(response.json()["results"]) == rows


def test_it_terminates_a_relationship_as_the_page_does(
    admin_api, fabrikam_api, agent_api, partner_admin, contoso, contoso_admin
):
    relationship = related(partner_admin, contoso, contoso_admin)
    url = f"{RELATIONSHIPS}{relationship.pk}/terminate/"
    assert fabrikam_api.post(url).status_code == 404
    response = agent_api.post(url)
    assert response.status_code == 403 and problem_type(response) == "insufficient_scope"
    Email.objects.all().delete()
    response = admin_api.post(url)
    assert response.status_code == 200
    assert_documented(response, "/api/v1/relationships/{relationship_id}/terminate/", "post")
    assert (response.json()["state"], response.json()["in_force"]) == ("terminated", False)
    relationship.refresh_from_db()
    assert (relationship.state, relationship.terminated_by) == ("terminated", partner_admin)
    event = AuditEvent.objects.get(action="delegation_relationship.terminated")
    assert event.details["by"] == "partner" and event.api_key is not None
    assert contoso_admin.email in {email.to[0] for email in Email.objects.all()}
    assert not DelegationRelationship.objects.in_force(timezone.localdate()).exists()
    again = admin_api.post(url)
    assert again.status_code == 409 and problem_type(again) == "relationship_ended"
    assert again.json()["detail"] == "This relationship had already ended."


# --- The activity log ------------------------------------------------------------------------


def _entry(relationship, user, at, action="tenant_user.changed", label="Alex Wilber"):
    return ActivityLog.objects.create(
        at=at, tenant=relationship.tenant, relationship=relationship,
        partner=relationship.partner, actor=user, actor_label=user.email, action=action,
        target_label=label,
    )  # fmt: skip


def test_it_reads_the_activity_log_with_the_pages_filters(
    admin_api, agent_api, partner_admin, contoso, contoso_admin, fabrikam
):
    relationship = related(partner_admin, contoso, contoso_admin)
    day = datetime.datetime(2026, 2, 3, 12, tzinfo=datetime.UTC)
    early = _entry(relationship, partner_admin, day, action="tenant_user.created")
    late = _entry(relationship, partner_admin, day + datetime.timedelta(days=2))
    theirs = DelegationRelationshipFactory(
        partner=fabrikam, tenant=TenantFactory(created_by_partner=fabrikam)
    )
    _entry(theirs, partner_admin, day)
    response = agent_api.get(ACTIVITY)  # an agent reads the log, as on the page
    assert response.status_code == 200
    assert_documented(response, "/api/v1/activity/")
    assert [row["id"] for row in response.json()["results"]] == [late.pk, early.pk]
    row = response.json()["results"][0]
    assert (row["action"], row["action_label"], row["via_api"]) == (
        "tenant_user.changed",
        "Customer user changed",
        False,
    )
    found = admin_api.get(ACTIVITY, {"start": "2026-02-04", "end": "2026-02-28"}).json()
    assert [row["id"] for row in found["results"]] == [late.pk]
    found = admin_api.get(ACTIVITY, {"action": "tenant_user.created"}).json()
    assert [row["id"] for row in found["results"]] == [early.pk]
    bad = admin_api.get(ACTIVITY, {"start": "2026-02-05", "end": "2026-02-04"})
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"end": ["The end of the range is before its start."]}
    bad = admin_api.get(ACTIVITY, {"action": "tenant.deleted", "start": "today"})
    assert set(bad.json()["errors"]) == {"action", "start"}


@pytest.mark.parametrize("rows", [1, 5])
def test_the_activity_list_runs_a_fixed_number_of_queries(
    admin_api, partner_admin, northwind, rows, django_assert_num_queries
):
    relationship = DelegationRelationshipFactory(
        partner=northwind, tenant=TenantFactory(created_by_partner=northwind)
    )
    for n in range(rows):
        _entry(relationship, partner_admin, timezone.now(), label=f"#{n}")
    admin_api.get(ACTIVITY)
    # The key, the actions for the filter's choices, the page with its customers.
    with django_assert_num_queries(3):
        response = admin_api.get(ACTIVITY)
    assert len(response.json()["results"]) == rows


# --- "via API" in both sides' logs -----------------------------------------------------------


@pytest.fixture
def acted_via_api(partner_admin, contoso, contoso_admin, alex, client):
    """Under a relationship, Northwind adds Lynne with an API key through the users API, then
    sends Alex's activation again from the page."""
    related(partner_admin, contoso, contoso_admin, roles=["user_admin", "helpdesk"])
    users = api_client(api_key(partner_admin, "users:read", "users:write", name="PSA sync"))
    response = users.post(
        f"/api/v1/customers/{contoso.pk}/users/",
        {"first_name": "Lynne", "last_name": "Robbins", "username": "lynne.robbins",
         "email": "lynne@contoso.example", "language": "en"},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    client.force_login(partner_admin)
    page = client.post(f"/partner/customers/{contoso.pk}/users/{alex.pk}/resend-activation/")
    assert page.status_code == 302
    client.logout()
    return ActivityLog.objects.order_by("id")


def test_an_act_with_a_key_is_marked_via_api_and_names_the_key(acted_via_api, partner_admin):
    with_key, by_page = acted_via_api
    key = ApiKey.objects.get()
    assert (with_key.action, by_page.action) == (
        "tenant_user.created",
        "tenant_user.activation_resent",
    )
    assert with_key.via_api and not by_page.via_api
    assert with_key.actor_label == f"{partner_admin.email} · API key “PSA sync” ({key.shown})"
    assert by_page.actor_label == partner_admin.email


@pytest.mark.parametrize(
    ("who", "url"),
    [("partner_admin", "/partner/activity/"), ("contoso_admin", "/customer/activity/")],
)
def test_both_sides_pages_show_the_via_api_badge(request, acted_via_api, client, who, url):
    client.force_login(request.getfixturevalue(who))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="via-api"') == 1
    assert ">via API</span>" in html
    rows = list(csv.reader(io.StringIO(client.get(f"{url}export/").content.decode()[1:])))
    assert rows[0][-1] == "Via API"
    assert sorted(row[-1] for row in rows[1:]) == ["No", "Yes"]


def test_the_api_shows_which_entries_were_made_with_a_key(acted_via_api, admin_api):
    rows = admin_api.get(ACTIVITY).json()["results"]
    assert [row["via_api"] for row in rows] == [False, True]
    assert "API key “PSA sync”" in rows[1]["actor"]
