"""Partner of record (issue 9.3) and the customer admin's home (issue 9.4)."""

import datetime

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase
from post_office.models import Email

from portal.models import AuditEvent, Partner, PartnerMembership, User
from tenants.models import Subscription, Tenant, TenantUser
from tenants.services.partners_of_record import LOOKUP_LIMIT_PER_USER
from tests.factories import SubscriptionFactory
from tests.helpers import add_form


@pytest.fixture
def customer(make_contoso):
    """Contoso, created by Northwind on 2026-11-27 from one Business Standard key of 5 seats."""
    with time_machine.travel("2026-11-27 09:00:00Z", tick=False):
        return make_contoso(seats=5)


@pytest.fixture
def admin_client(client, customer):
    client.force_login(TenantUser.objects.get(tenant=customer, is_admin=True).user)
    return client


def por_url(tenant) -> str:
    subscription = Subscription.objects.get(tenant=tenant)
    return f"/customer/subscriptions/{subscription.pk}/partner-of-record/"


def test_it_looks_the_partner_up_then_sets_it_on_confirmation(
    admin_client, customer, fabrikam, other_partner_admin
):
    fr_admin = User.objects.create_user("fr@fabrikam.example", "x", language="fr")
    PartnerMembership.objects.create(user=fr_admin, partner=fabrikam, role="admin")
    Email.objects.all().delete()
    page = admin_client.post(por_url(customer), {"partner_id": "100 0002", "action": "lookup"})
    assert "Partner ID 1000002 is Fabrikam Resellers." in page.content.decode()
    assert page.context["form"]["partner_id"].value() == "100 0002"  # as typed
    assert Subscription.objects.get(tenant=customer).partner_of_record is None
    response = admin_client.post(por_url(customer), {"partner_id": "1000002", "action": "confirm"})
    assert response["Location"] == "/customer/"
    assert Subscription.objects.get(tenant=customer).partner_of_record == fabrikam
    subjects = {e.to[0]: e.subject for e in Email.objects.all()}
    assert subjects == {
        "admin@fabrikam.example": "Contoso made you partner of record for Business Standard",
        "fr@fabrikam.example": "Contoso a fait de vous le partenaire de référence de "
        "Business Standard",
        "megan@contoso.example": "The partner of record for Business Standard changed",
    }
    event = AuditEvent.objects.get(action="subscription.partner_of_record_set")
    assert event.details == {"capacity": "tenant_admin", "partner_of_record": [None, "1000002"]}
    # Fabrikam now sees Contoso, read only.
    admin_client.force_login(other_partner_admin)
    assert admin_client.get(f"/partner/customers/{customer.pk}/").status_code == 200
    customers = admin_client.get("/partner/customers/")
    assert "Contoso" in customers.content.decode()


def test_changing_and_removing_it_tells_the_old_partner(
    admin_client, customer, northwind, fabrikam, partner_admin, other_partner_admin
):
    admin_client.post(por_url(customer), {"partner_id": "1000002", "action": "confirm"})
    Email.objects.all().delete()
    admin_client.post(por_url(customer), {"partner_id": "1000001", "action": "confirm"})
    assert sorted(e.to[0] for e in Email.objects.all()) == [
        "admin@fabrikam.example",
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    old = Email.objects.get(to=["admin@fabrikam.example"])
    assert "You will no longer receive its renewal notices." in old.message
    confirm = admin_client.post(por_url(customer), {"action": "remove"}).content.decode()
    # Removing asks first, naming the partner and what it changes.
    assert "Northwind Partners" in confirm and "1000001" in confirm
    assert "renewal notices" in confirm
    assert Subscription.objects.get(tenant=customer).partner_of_record is not None
    admin_client.post(por_url(customer), {"action": "remove", "confirm": "1"})
    assert Subscription.objects.get(tenant=customer).partner_of_record is None
    assert list(
        AuditEvent.objects.filter(action__startswith="subscription.partner_of_record")
        .order_by("id")
        .values_list("action", "details__partner_of_record")
    ) == [
        ("subscription.partner_of_record_set", [None, "1000002"]),
        ("subscription.partner_of_record_set", ["1000002", "1000001"]),
        ("subscription.partner_of_record_removed", ["1000001", None]),
    ]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1234567", "No partner has the ID 1234567."),
        ("12345", "A partner ID has exactly 7 digits"),
        ("abcdefg", "A partner ID has exactly 7 digits"),
        ("", "This field is required."),
    ],
)
def test_it_says_clearly_when_the_id_finds_no_partner(admin_client, customer, typed, message):
    page = admin_client.post(por_url(customer), {"partner_id": typed, "action": "confirm"})
    assert page.status_code == 200
    assert message in " ".join(page.context["form"].errors["partner_id"])
    assert Subscription.objects.get(tenant=customer).partner_of_record is None


def test_it_limits_guessing_partner_ids(admin_client, customer, fabrikam):
    for n in range(LOOKUP_LIMIT_PER_USER):
        admin_client.post(por_url(customer), {"partner_id": f"900000{n}", "action": "lookup"})
    page = admin_client.post(por_url(customer), {"partner_id": "1000002", "action": "lookup"})
    assert "Too many partner IDs were tried." in page.content.decode()
    assert AuditEvent.objects.filter(action="partner.lookup_limit_reached").count() == 1


def test_another_tenants_subscription_is_not_found(admin_client, customer, fabrikam):
    from tests.factories import SubscriptionFactory, TenantFactory

    theirs = SubscriptionFactory(
        tenant=TenantFactory(created_by_partner=fabrikam), product__sku="BUS-PREM"
    )
    url = f"/customer/subscriptions/{theirs.pk}/partner-of-record/"
    assert admin_client.get(url).status_code == 404
    assert admin_client.post(url, {"partner_id": "1000002", "action": "confirm"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.partner_of_record is None


def test_the_home_shows_seats_days_left_partner_users_and_pending_admins(
    admin_client, customer, fabrikam, django_assert_max_num_queries
):
    admin_client.post(por_url(customer), {"partner_id": "1000002", "action": "confirm"})
    admin_client.post("/customer/users/add/", {**add_form(), "is_admin": "on"})
    Subscription.objects.filter(tenant=customer).update(
        end_date=timezone.localdate() + datetime.timedelta(days=10)
    )
    with django_assert_max_num_queries(12):
        page = admin_client.get("/customer/")
    text = page.content.decode()
    assert "contoso.cloudsuite.example" in text
    assert "1 of 5 used" in text
    assert "10 days left" in text
    assert "Fabrikam Resellers" in text and "contact@fabrikam.example" in text
    assert "2 users" in text
    assert "have not activated their account yet" in text and "Lynne Robbins" in text


def test_a_partner_enters_no_customer_pages(client, customer, partner_admin):
    client.force_login(partner_admin)
    assert client.get(por_url(customer)).status_code == 403


class PartnerOfRecordFormNeverGivesA500(HypothesisTestCase):
    """Whatever is posted to "Set partner of record", the page answers: never a 500."""

    @classmethod
    def setUpTestData(cls):
        partner = Partner.objects.create(
            name="Northwind", partner_id="1000001", contact_email="c@northwind.example"
        )
        tenant = Tenant.objects.create(
            name="Contoso", domain_prefix="contoso", country="FR", created_by_partner=partner
        )
        cls.subscription = SubscriptionFactory(tenant=tenant)
        cls.admin = User.objects.create_user("megan@contoso.example", "x")
        TenantUser.objects.create(
            tenant=tenant, user=cls.admin, first_name="M", last_name="B", email=cls.admin.email,
            is_admin=True,
        )  # fmt: skip

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        partner_id=st.one_of(st.text(max_size=50), st.from_regex(r"\A[0-9 -]{5,12}\Z")),
        action=st.sampled_from(["lookup", "confirm", "remove", "", "other"]),
    )
    def test_the_form_answers_whatever_is_typed(self, partner_id, action):
        cache.clear()  # the guessing limit is not what this test is about
        self.client.force_login(self.admin)
        url = f"/customer/subscriptions/{self.subscription.pk}/partner-of-record/"
        response = self.client.post(url, {"partner_id": partner_id, "action": action})
        if "\x00" in partner_id:
            self.assertEqual(response.status_code, 400)  # refused before any view
        else:
            self.assertIn(response.status_code, (200, 302))
