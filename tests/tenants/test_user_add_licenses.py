"""Add a user with licenses (issue 16): the add-user form offers the subscriptions with free
seats and assigns the licenses chosen in the same transaction as the user is created; "Save and
add another" comes back to an empty form."""

import datetime

import pytest
from django.utils import timezone
from post_office.models import Email

from portal.models import AuditEvent
from tenants.access import Capacity, TenantAccess
from tenants.models import License, TenantUser
from tenants.services import LicenseError, UserDetails, tenant_user_add
from tests.factories import DelegationRelationshipFactory, ProductFactory, SubscriptionFactory
from tests.helpers import add_form


@pytest.fixture
def seats(contoso):
    """Contoso's subscriptions: Business Standard 3 seats (Megan has one), Business Premium 1
    seat (taken), Business Basic disabled (ended 40 days ago)."""
    today = timezone.localdate()
    megan = TenantUser.objects.get(tenant=contoso, is_admin=True)
    running = {"start_date": today - datetime.timedelta(days=10)}
    standard = SubscriptionFactory(
        tenant=contoso, seats=3, end_date=today + datetime.timedelta(days=200), **running
    )
    premium = SubscriptionFactory(
        tenant=contoso, seats=1, end_date=today + datetime.timedelta(days=200), **running,
        product=ProductFactory(sku="BUS-PREM", name="Business Premium"),
    )  # fmt: skip
    basic = SubscriptionFactory(
        tenant=contoso, seats=5, start_date=today - datetime.timedelta(days=400),
        end_date=today - datetime.timedelta(days=40),
        product=ProductFactory(sku="BUS-BASIC", name="Business Basic"),
    )  # fmt: skip
    License.objects.create(subscription=standard, tenant_user=megan)
    License.objects.create(subscription=premium, tenant_user=megan)
    return {"standard": standard, "premium": premium, "basic": basic, "megan": megan}


@pytest.fixture
def admin_client(client, contoso_admin):
    client.force_login(contoso_admin)
    return client


def test_it_offers_the_subscriptions_with_free_seats_and_says_why_not_the_others(
    admin_client, seats
):
    page = admin_client.get("/customer/users/add/").content.decode()
    assert 'data-testid="license-choices"' in page
    assert "2 of 3 seats free" in page
    assert "0 of 1 seats free · All seats are assigned." in page
    assert "The Business Basic subscription is disabled: its licenses cannot be assigned." in page
    for name, disabled in (("standard", False), ("premium", True), ("basic", True)):
        box = page.split(f'value="{seats[name].pk}"')[1].split(">")[0]
        assert ("disabled" in box) is disabled, name


def test_it_adds_a_user_with_their_licenses_in_one_go(admin_client, seats):
    Email.objects.all().delete()
    response = admin_client.post(
        "/customer/users/add/", {**add_form(), "licenses": [seats["standard"].pk]}
    )
    lynne = TenantUser.objects.get(username="lynne.robbins")
    assert response["Location"] == f"/customer/users/{lynne.pk}/"
    assert list(lynne.licenses.values_list("subscription", flat=True)) == [seats["standard"].pk]
    assert Email.objects.filter(to=["lynne@contoso.example"]).count() == 1
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"tenant_user.created", "license.assigned"} <= actions
    page = admin_client.get(response["Location"]).content.decode()
    assert "Lynne Robbins was added." in page and "License: Business Standard." in page


def test_a_full_or_disabled_subscription_is_refused_and_what_was_typed_stays(admin_client, seats):
    response = admin_client.post(
        "/customer/users/add/",
        {**add_form(), "licenses": [seats["standard"].pk, seats["premium"].pk]},
    )
    assert response.status_code == 200
    assert "All seats are assigned." in " ".join(response.context["form"].errors["licenses"])
    assert response.context["form"]["first_name"].value() == "Lynne"
    page = response.content.decode()
    assert f'value="{seats["standard"].pk}" id="id_licenses_' in page
    standard_box = page.split(f'value="{seats["standard"].pk}"')[1].split(">")[0]
    assert "checked" in standard_box  # kept for the next try
    assert not TenantUser.objects.filter(username="lynne.robbins").exists()


def test_a_seat_taken_meanwhile_leaves_neither_the_user_nor_the_email(seats, contoso):
    """The form counted a free seat; by the save someone took it: the service's lock and count
    refuse, and the user and their activation e-mail go with the rollback."""
    Email.objects.all().delete()
    access = TenantAccess(
        user=seats["megan"].user, tenant=contoso, capacity=Capacity.TENANT_ADMIN,
        tenant_user=seats["megan"],
    )  # fmt: skip
    details = UserDetails(
        first_name="Lynne", last_name="Robbins", username="lynne", email="lynne@contoso.example",
        phone="", is_admin=False,
    )  # fmt: skip
    with pytest.raises(LicenseError, match="All 1 seats of Business Premium are assigned"):
        tenant_user_add(access=access, details=details, subscriptions=[seats["premium"]])
    assert not TenantUser.objects.filter(username="lynne").exists()
    assert not Email.objects.exists()
    assert not AuditEvent.objects.filter(action="tenant_user.created").exists()


def test_the_view_says_so_when_the_seat_goes_between_the_form_and_the_save(
    admin_client, seats, monkeypatch
):
    from tenants import views

    # The form's count said a seat was free (as it did when the page was read); the save counts
    # again under the lock and finds it taken.
    real = views.seat_choices
    monkeypatch.setattr(
        views,
        "seat_choices",
        lambda tenant, today: [
            type(c)(c.subscription, 0, c.unassignable) if c.subscription == seats["premium"] else c
            for c in real(tenant, today)
        ],
    )
    response = admin_client.post(
        "/customer/users/add/", {**add_form(), "licenses": [seats["premium"].pk]}
    )
    assert response.status_code == 200
    assert "All 1 seats of Business Premium are assigned." in " ".join(
        response.context["form"].errors["licenses"]
    )
    assert not TenantUser.objects.filter(username="lynne.robbins").exists()


def test_save_and_add_another_comes_back_to_an_empty_form(admin_client, seats):
    response = admin_client.post(
        "/customer/users/add/", {**add_form(), "action": "another"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/customer/users/add/"
    assert response.context["form"]["first_name"].value() is None
    assert "Lynne Robbins was added." in response.content.decode()
    assert TenantUser.objects.filter(username="lynne.robbins").exists()


def test_without_license_management_the_licenses_are_not_offered(
    client, partner_admin, northwind, contoso, seats
):
    DelegationRelationshipFactory(partner=northwind, tenant=contoso, roles=["user_admin"])
    client.force_login(partner_admin)
    url = f"/partner/customers/{contoso.pk}/users/add/"
    assert 'data-testid="license-choices"' not in client.get(url).content.decode()
    response = client.post(url, {**add_form(), "licenses": [seats["standard"].pk]})
    assert response.status_code == 302
    assert not TenantUser.objects.get(username="lynne.robbins").licenses.exists()


def test_a_partner_managing_licenses_adds_a_user_with_one(
    client, partner_admin, northwind, contoso, seats
):
    DelegationRelationshipFactory(
        partner=northwind, tenant=contoso, roles=["user_admin", "license_admin"]
    )
    client.force_login(partner_admin)
    url = f"/partner/customers/{contoso.pk}/users/add/"
    response = client.post(url, {**add_form(), "licenses": [seats["standard"].pk]})
    lynne = TenantUser.objects.get(username="lynne.robbins")
    assert response["Location"] == f"/partner/customers/{contoso.pk}/users/{lynne.pk}/"
    assert lynne.licenses.get().subscription == seats["standard"]
