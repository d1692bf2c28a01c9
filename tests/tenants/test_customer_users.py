"""Users and licenses for customer admins (issue 9.2): the directory, add, edit, remove, assign
and unassign, never more licenses than seats."""

import threading
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase
from post_office.models import Email

from portal.models import AuditEvent, Partner, User
from tenants.access import Capacity, TenantAccess
from tenants.models import License, Subscription, Tenant, TenantUser
from tenants.services import (
    LicenseError,
    TenantUserError,
    UserDetails,
    license_assign,
    tenant_user_edit,
    tenant_user_remove,
)
from tests.helpers import add_form, standard


@pytest.fixture
def customer(make_contoso):
    """Contoso, created on 2026-11-27 from one Business Standard key of 2 seats; Megan is its
    admin (one license)."""
    with time_machine.travel("2026-11-27 09:00:00Z", tick=False):
        return make_contoso(seats=2)


@pytest.fixture
def megan(customer):
    return TenantUser.objects.get(tenant=customer, is_admin=True)


@pytest.fixture
def admin_client(client, megan):
    client.force_login(megan.user)
    return client


def add_user(client, **overrides) -> TenantUser:
    response = client.post("/customer/users/add/", add_form(**overrides))
    assert response.status_code == 302, response.context["form"].errors
    return TenantUser.objects.latest("id")


def test_the_first_admin_has_a_user_name_from_their_address(megan):
    assert megan.username == "megan"
    assert megan.user_principal_name == "megan@contoso.cloudsuite.example"


def test_it_adds_a_user_who_gets_an_activation_email_in_their_language(admin_client, customer):
    Email.objects.all().delete()
    lynne = add_user(admin_client)
    assert (lynne.username, lynne.email, lynne.is_admin) == (
        "lynne.robbins",
        "lynne@contoso.example",
        False,
    )
    assert not lynne.user.has_usable_password()
    assert lynne.user.language == "fr"
    (email,) = Email.objects.all()
    assert email.to == ["lynne@contoso.example"]
    assert "Activez votre compte pour Contoso" in email.subject
    assert "lynne.robbins@contoso.cloudsuite.example" in email.message
    event = AuditEvent.objects.get(action="tenant_user.created", target_id=str(lynne.pk))
    assert event.actor.email == "megan@contoso.example"
    assert event.details["capacity"] == "tenant_admin"


def test_an_added_user_activates_and_sees_only_their_own_licenses(admin_client, client, customer):
    lynne = add_user(admin_client)
    admin_client.post(f"/customer/users/{lynne.pk}/licenses/{standard(customer).pk}/assign/")
    from tenants.emails import activation_url

    client.logout()
    page = client.get(urlsplit(activation_url(lynne)).path, follow=True)
    assert b"lynne@contoso.example" in page.content
    form_url = page.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "a-long-Passphrase-9", "new_password2": "a-long-Passphrase-9"}
    )
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == "/customer/licenses/"
    page = client.get("/customer/licenses/")
    assert b"Business Standard" in page.content
    assert client.get("/customer/").status_code == 404
    assert client.get("/customer/users/").status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "megan", "megan@contoso.cloudsuite.example is already taken."),
        ("username", "lynne@contoso.com", "Type only the part before the @"),
        ("username", "-lynne", "starts and ends with a letter or a digit"),
        ("username", "lynne_r", "Use only lower-case letters, digits, dots and hyphens."),
        ("email", "MEGAN@contoso.example", "An account already uses this e-mail address."),
        ("email", "partner@northwind.example", "An account already uses this e-mail address."),
        ("first_name", "!!", "Enter a name with letters."),
        ("phone", "abc", "Enter a phone number"),
    ],
)
def test_it_refuses_a_user_it_cannot_add_and_keeps_what_was_typed(
    admin_client, customer, field, value, message
):
    response = admin_client.post("/customer/users/add/", add_form(**{field: value}))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert response.context["form"]["last_name"].value() == "Robbins"
    assert TenantUser.objects.filter(tenant=customer).count() == 1


def test_the_directory_searches_and_pages(admin_client, customer, django_assert_num_queries):
    for n in range(30):
        add_user(admin_client, username=f"user{n}", email=f"user{n}@contoso.example")
    # 6: three are every signed-in request's — the session, the person with their tenant user
    # record (renewals.auth's get_user, one query; the lifecycle's sign-in rule asks nothing
    # more of an admin) and django-otp's load of the session's verified device (OTPMiddleware).
    with django_assert_num_queries(6):
        page = admin_client.get("/customer/users/")
    assert page.context["page"].paginator.count == 31
    assert len(page.context["page"].object_list) == 25
    assert b"Page 1 of 2" in page.content
    found = admin_client.get("/customer/users/?q=user17")
    assert [u.username for u in found.context["page"].object_list] == ["user17"]
    none = admin_client.get("/customer/users/?q=zzz")
    assert "No user matches “zzz”." in none.content.decode()


def test_it_assigns_and_unassigns_licenses_up_to_the_seats(admin_client, customer):
    subscription = standard(customer)
    lynne = add_user(admin_client)
    alex = add_user(admin_client, username="alex", email="alex@contoso.example")
    assign = f"/customer/users/{lynne.pk}/licenses/{subscription.pk}/assign/"
    admin_client.post(assign)
    assert License.objects.filter(subscription=subscription).count() == 2
    page = admin_client.post(
        f"/customer/users/{alex.pk}/licenses/{subscription.pk}/assign/", follow=True
    )
    assert "All 2 seats of Business Standard are assigned." in page.content.decode()
    assert not License.objects.filter(tenant_user=alex).exists()
    admin_client.post(f"/customer/users/{lynne.pk}/licenses/{subscription.pk}/unassign/")
    admin_client.post(f"/customer/users/{alex.pk}/licenses/{subscription.pk}/assign/")
    assert License.objects.filter(tenant_user=alex).exists()
    actions = AuditEvent.objects.filter(action__startswith="license.").values_list(
        "action", flat=True
    )
    assert sorted(actions) == ["license.assigned"] * 3 + ["license.unassigned"]


def test_a_disabled_subscriptions_licenses_cannot_be_assigned(admin_client, customer):
    subscription = standard(customer)
    Subscription.objects.filter(pk=subscription.pk).update(state="disabled", seats=5)
    lynne = add_user(admin_client)
    page = admin_client.post(
        f"/customer/users/{lynne.pk}/licenses/{subscription.pk}/assign/", follow=True
    )
    assert "its licenses cannot be assigned" in page.content.decode()
    assert not License.objects.filter(tenant_user=lynne).exists()


def test_removing_a_user_asks_first_then_frees_their_licenses(admin_client, customer):
    lynne = add_user(admin_client)
    admin_client.post(f"/customer/users/{lynne.pk}/licenses/{standard(customer).pk}/assign/")
    confirm = admin_client.get(f"/customer/users/{lynne.pk}/remove/")
    assert "Remove Lynne Robbins?" in confirm.content.decode()
    assert TenantUser.objects.filter(pk=lynne.pk).exists()
    page = admin_client.post(f"/customer/users/{lynne.pk}/remove/", follow=True)
    assert "Lynne Robbins was removed; 1 license was freed." in page.content.decode()
    assert not TenantUser.objects.filter(pk=lynne.pk).exists()
    assert not User.objects.filter(email="lynne@contoso.example").exists()
    assert License.objects.filter(subscription=standard(customer)).count() == 1
    event = AuditEvent.objects.get(action="tenant_user.removed")
    assert event.details["licenses_freed"] == ["BUS-STD"]


def test_the_last_admin_cannot_be_demoted_or_removed(admin_client, customer, megan):
    other = add_user(admin_client, is_admin="on")
    # Megan cannot demote or remove herself; another admin can, while one admin remains.
    page = admin_client.post(f"/customer/users/{megan.pk}/remove/", follow=True)
    assert "You cannot remove your own account." in page.content.decode()
    access = TenantAccess(
        user=other.user, tenant=customer, capacity=Capacity.TENANT_ADMIN, tenant_user=other
    )
    tenant_user_remove(access=access, tenant_user=megan)
    with pytest.raises(TenantUserError, match="Lynne Robbins is the last administrator"):
        tenant_user_edit(
            access=TenantAccess(
                user=other.user, tenant=customer, capacity=Capacity.TENANT_ADMIN, tenant_user=None
            ),
            tenant_user=other,
            details=UserDetails(
                "Lynne", "Robbins", "lynne.robbins", "lynne@contoso.example", "", is_admin=False
            ),
        )
    assert TenantUser.objects.get(pk=other.pk).is_admin


def test_editing_a_user_changes_their_sign_in_address_too(admin_client, customer):
    lynne = add_user(admin_client)
    form = add_form(username="lynne", email="l.robbins@contoso.example")
    response = admin_client.post(f"/customer/users/{lynne.pk}/", form)
    assert response.status_code == 302
    lynne.refresh_from_db()
    assert (lynne.username, lynne.email, lynne.user.email) == (
        "lynne",
        "l.robbins@contoso.example",
        "l.robbins@contoso.example",
    )
    event = AuditEvent.objects.get(action="tenant_user.changed")
    assert event.details["changes"]["username"] == ["lynne.robbins", "lynne"]


def test_other_tenants_users_and_subscriptions_are_not_found(
    admin_client, customer, partner_admin, northwind, make_keys, redeem, tenant_details
):
    from tenants.services import tenant_create

    redemption = redeem(partner_admin, northwind, *make_keys(1, sku="BUS-PREM"))
    tailspin = tenant_create(
        redemption=redemption,
        user=partner_admin,
        details=tenant_details(domain_prefix="tailspin", admin_email="lee@tailspin.example"),
    )
    lee = TenantUser.objects.get(tenant=tailspin)
    theirs = Subscription.objects.get(tenant=tailspin)
    megan = TenantUser.objects.get(tenant=customer)
    assert admin_client.get(f"/customer/users/{lee.pk}/").status_code == 404
    assert admin_client.post(f"/customer/users/{lee.pk}/remove/").status_code == 404
    url = f"/customer/users/{megan.pk}/licenses/{theirs.pk}/assign/"
    assert admin_client.post(url).status_code == 404
    assert not License.objects.filter(subscription=theirs, tenant_user=megan).exists()


@pytest.mark.postgres
def test_two_admins_racing_for_the_last_seat_one_wins(transactional_db, customer, megan):
    """Two admins assign the last seat of Business Standard to two people at the same moment."""
    subscription = standard(customer)
    people = [
        TenantUser.objects.create(
            tenant=customer, first_name="P", last_name=str(n), email=f"p{n}@contoso.example"
        )
        for n in range(2)
    ]
    access = TenantAccess(
        user=megan.user, tenant=customer, capacity=Capacity.TENANT_ADMIN, tenant_user=megan
    )
    barrier = threading.Barrier(2)
    outcomes, failures = [], []

    def race(person):
        try:
            barrier.wait(timeout=30)
            try:
                outcomes.append(
                    license_assign(access=access, subscription=subscription, tenant_user=person)
                )
            except LicenseError as error:
                outcomes.append(str(error))
        except Exception as error:  # any other exception is a failure of the test
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sorted(outcomes, key=str) == [
        "All 2 seats of Business Standard are assigned. Unassign a license first, or ask your "
        "partner for more licenses.",
        True,
    ]
    assert License.objects.filter(subscription=subscription).count() == 2


class UserFormsNeverGiveA500(HypothesisTestCase):
    """Whatever is posted to "Add a user" or a user's page, the form answers: never a 500."""

    @classmethod
    def setUpTestData(cls):
        partner = Partner.objects.create(
            name="Northwind", partner_id="1000001", contact_email="c@northwind.example"
        )
        tenant = Tenant.objects.create(
            name="Contoso", domain_prefix="contoso", country="FR", created_by_partner=partner
        )
        cls.admin = User.objects.create_user("megan@contoso.example", "x")
        cls.megan = TenantUser.objects.create(
            tenant=tenant, user=cls.admin, first_name="M", last_name="B", email=cls.admin.email,
            is_admin=True,
        )  # fmt: skip

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        typed=st.dictionaries(st.sampled_from(list(add_form())), st.text(max_size=70), max_size=7),
        page=st.sampled_from(["add", "edit"]),
    )
    def test_the_forms_answer_whatever_is_typed(self, typed, page):
        self.client.force_login(self.admin)
        url = "/customer/users/add/" if page == "add" else f"/customer/users/{self.megan.pk}/"
        response = self.client.post(url, {**add_form(), **typed})
        if any("\x00" in value for value in typed.values()):
            self.assertEqual(response.status_code, 400)  # refused before any view
        else:
            self.assertIn(response.status_code, (200, 302))


def test_an_admin_sends_a_users_activation_again(admin_client, customer):
    lynne = add_user(admin_client, language="en")
    Email.objects.all().delete()
    page = admin_client.post(f"/customer/users/{lynne.pk}/resend-activation/", follow=True)
    assert "A new activation e-mail is on its way to lynne@contoso.example." in (
        page.content.decode()
    )
    (email,) = Email.objects.all()
    assert email.subject == "Activate your account for Contoso"
    assert "Megan Bowen added you to Contoso" in email.message
    event = AuditEvent.objects.get(action="tenant_user.activation_resent")
    assert event.details == {"capacity": "tenant_admin"}


def test_a_users_renewed_link_does_not_call_them_an_administrator(admin_client, customer):
    from tenants.services import activation_renew

    lynne = add_user(admin_client, language="en")
    Email.objects.all().delete()
    activation_renew(account=lynne)
    (email,) = Email.objects.all()
    assert "Your account at Contoso (contoso.cloudsuite.example) is waiting" in email.message
    assert "administrator" not in email.message


@pytest.mark.postgres
def test_two_admins_demoting_each_other_at_once_leave_one_admin(transactional_db, customer, megan):
    lee_account = User.objects.create_user("lee@contoso.example", "x")
    lee = TenantUser.objects.create(
        tenant=customer, user=lee_account, first_name="Lee", last_name="Gu",
        email=lee_account.email, is_admin=True,
    )  # fmt: skip
    moves = [(megan, lee), (lee, megan)]  # (acting admin, admin they demote)
    barrier = threading.Barrier(2)
    outcomes, failures = [], []

    def race(actor, target):
        access = TenantAccess(
            user=actor.user, tenant=customer, capacity=Capacity.TENANT_ADMIN, tenant_user=actor
        )
        details = UserDetails(
            target.first_name, target.last_name, target.username, target.email, "", is_admin=False
        )
        try:
            barrier.wait(timeout=30)
            try:
                outcomes.append(
                    tenant_user_edit(access=access, tenant_user=target, details=details)
                )
            except TenantUserError as error:
                outcomes.append(str(error))
        except Exception as error:  # any other exception is a failure of the test
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=move) for move in moves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert outcomes.count(True) == 1
    (refused,) = [outcome for outcome in outcomes if outcome is not True]
    assert "is the last administrator: the organization needs one." in refused
    assert TenantUser.objects.filter(tenant=customer, is_admin=True).count() == 1


@pytest.mark.postgres
def test_the_database_refuses_more_licenses_than_seats_even_without_the_service(northwind):
    """The trigger is the backstop: a write that skips license_assign's lock is refused too."""
    from django.db import IntegrityError, transaction

    from tenants.models import License, TenantUser
    from tests.factories import SubscriptionFactory

    subscription = SubscriptionFactory(seats=1, tenant__created_by_partner=northwind)
    people = [
        TenantUser.objects.create(
            tenant=subscription.tenant,
            first_name=name,
            last_name="X",
            email=f"{name}@example.com",
            username=name,
        )
        for name in ("ann", "bob")
    ]
    License.objects.create(subscription=subscription, tenant_user=people[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        License.objects.create(subscription=subscription, tenant_user=people[1])
    with pytest.raises(IntegrityError), transaction.atomic():
        type(subscription).objects.filter(pk=subscription.pk).update(seats=0)
    assert License.objects.filter(subscription=subscription).count() == 1
