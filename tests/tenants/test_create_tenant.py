import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from keys.models import Product, ProductKey, Redemption
from keys.services import (
    batch_generate,
    key_digest,
    redemption_keys_confirm,
    redemption_start,
)
from portal.models import AuditEvent, Partner, PartnerMembership, User
from tenants.models import License, Subscription, SubscriptionKey, Tenant, TenantUser
from tenants.services import TenantCreateError, tenant_create
from tenants.services import tenants as services
from tests.helpers import contoso_details

FORM = contoso_details()


@pytest.fixture
def ready(partner_admin, northwind, make_keys, redeem, countries):
    """A confirmed redemption of 2 BUS-STD keys (3 seats each) and 1 BUS-PREM key (5 seats)."""
    std = make_keys(2, sku="BUS-STD", seats=3)
    prem = make_keys(1, sku="BUS-PREM", seats=5)
    return redeem(partner_admin, northwind, *std, *prem), std + prem


def url(redemption):
    return f"/partner/redeem/{redemption.pk}/customer/"


def test_it_creates_everything_in_one_go(
    client, partner_admin, ready, django_capture_on_commit_callbacks
):
    redemption, keys = ready
    client.force_login(partner_admin)
    with (
        time_machine.travel("2026-11-25 10:00:00Z", tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(url(redemption), FORM)
    tenant = Tenant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/partner/customers/{tenant.pk}/created/"
    assert (tenant.name, tenant.domain, tenant.country.code) == (
        "Contoso",
        "contoso.cloudsuite.example",
        "FR",
    )
    subscriptions = {s.product.sku: s for s in Subscription.objects.all()}
    assert {sku: s.seats for sku, s in subscriptions.items()} == {"BUS-STD": 6, "BUS-PREM": 5}
    assert {s.start_date for s in subscriptions.values()} == {datetime.date(2026, 11, 25)}
    assert {s.end_date for s in subscriptions.values()} == {datetime.date(2027, 11, 24)}
    assert {s.partner_of_record for s in subscriptions.values()} == {None}
    admin = TenantUser.objects.get()
    assert admin.is_admin and admin.user.email == "megan@contoso.example"
    assert not admin.user.has_usable_password()  # the partner never sets it
    assert admin.user.language == "fr"
    assert License.objects.get().tenant_user == admin
    for key in keys:
        stored = ProductKey.objects.get(digest=key_digest(key))
        assert (stored.state, stored.redeemed_by) == ("redeemed", partner_admin)
        assert stored.subscription_use.subscription.tenant == tenant
    assert SubscriptionKey.objects.count() == 3
    redemption.refresh_from_db()
    assert redemption.state == Redemption.State.COMPLETED
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"tenant.created", "subscription.created", "key.redeemed", "license.assigned"} <= actions
    assert AuditEvent.objects.filter(action="tenant.created", tenant_id=tenant.pk).exists()
    # After commit: the activation e-mail (in the admin's language) and the partner's confirmation.
    assert sorted(m.to[0] for m in mail.outbox) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    activation = next(m for m in mail.outbox if m.to == ["megan@contoso.example"])
    assert "Activez votre compte d’administrateur pour Contoso" in activation.subject
    assert "/customer/activate/" in activation.body


def test_the_page_after_names_the_tenant_and_its_domain(client, partner_admin, ready):
    redemption, _keys = ready
    client.force_login(partner_admin)
    response = client.post(url(redemption), FORM, follow=True)
    assert b"The account of Contoso is ready" in response.content
    assert b"contoso.cloudsuite.example" in response.content


def test_a_double_submit_creates_one_tenant(client, partner_admin, ready):
    redemption, _keys = ready
    client.force_login(partner_admin)
    first = client.post(url(redemption), FORM)
    second = client.post(url(redemption), FORM)
    assert Tenant.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_the_service_called_twice_returns_the_same_tenant(partner_admin, ready, tenant_details):
    redemption, _keys = ready
    first = tenant_create(redemption=redemption, user=partner_admin, details=tenant_details())
    again = tenant_create(redemption=redemption, user=partner_admin, details=tenant_details())
    assert first == again


def test_an_error_in_the_middle_leaves_nothing_and_the_draft_resumable(
    client, partner_admin, ready, monkeypatch
):
    redemption, keys = ready

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services.License.objects, "create", broken)
    with pytest.raises(RuntimeError):
        tenant_create(
            redemption=redemption,
            user=partner_admin,
            details=services.TenantDetails(**FORM),
        )
    assert Tenant.objects.count() == 0
    assert Subscription.objects.count() == 0
    assert not User.objects.filter(email="megan@contoso.example").exists()
    assert {ProductKey.objects.get(digest=key_digest(k)).state for k in keys} == {"reserved"}
    redemption.refresh_from_db()
    assert redemption.state == Redemption.State.DRAFT
    monkeypatch.undo()
    client.force_login(partner_admin)
    assert client.post(url(redemption), FORM).status_code == 302
    assert Tenant.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "This field is required."),
        ("name", "!!!", "The organization's name needs letters or digits, not only punctuation."),
        ("name", "Inc.", "is only a legal form"),
        ("name", "S.A.R.L.", "is only a legal form"),
        ("admin_first_name", "", "This field is required."),
        ("admin_last_name", "---", "Enter a name with letters."),
        ("admin_email", "megan", "Enter a valid email address."),
        ("admin_email", "someone@northwind.example", "your own organization"),
        ("admin_email", "a" * 250 + "@contoso.example", "at most 254 characters"),
        ("admin_phone", "call me", "Enter a phone number with 6 to 20 digits"),
        ("admin_phone", "123", "Enter a phone number with 6 to 20 digits"),
        ("country", "KP", "Select a valid choice."),
        ("country", "", "This field is required."),
        ("language", "de", "Select a valid choice."),
        ("domain_prefix", "contoso.com", "Type only the first part of the domain"),
        ("domain_prefix", "ab", "at least 3 characters"),
        ("domain_prefix", "a" * 41, "at most 40 characters"),
        ("domain_prefix", "con toso", "Use only lower-case letters, digits and hyphens."),
        ("domain_prefix", "contoso_eu", "Use only lower-case letters, digits and hyphens."),
        ("domain_prefix", "-contoso", "cannot start or end with a hyphen"),
        ("domain_prefix", "contoso-", "cannot start or end with a hyphen"),
        ("domain_prefix", "admin", "admin.cloudsuite.example is reserved"),
    ],
)
def test_it_explains_each_bad_field_and_keeps_what_was_typed(
    client, partner_admin, ready, field, value, message
):
    redemption, _keys = ready
    client.force_login(partner_admin)
    response = client.post(url(redemption), {**FORM, field: value})
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors
    assert Tenant.objects.count() == 0
    # Everything else the partner typed is still there.
    form = response.context["form"]
    for other, typed in FORM.items():
        if other != field:
            assert form[other].value() == typed


def test_it_refuses_a_domain_prefix_already_taken_and_an_email_in_use(
    client, partner_admin, ready, northwind, staff
):
    from tests.factories import TenantFactory

    TenantFactory(domain_prefix="contoso", created_by_partner=northwind)
    redemption, _keys = ready
    client.force_login(partner_admin)
    response = client.post(url(redemption), {**FORM, "admin_email": "ops@example.com"})
    errors = response.context["form"].errors
    assert "contoso.cloudsuite.example is already taken" in errors["domain_prefix"][0]
    assert "already uses this e-mail address" in errors["admin_email"][0]


def test_upper_case_prefixes_are_lowered(client, partner_admin, ready):
    redemption, _keys = ready
    client.force_login(partner_admin)
    client.post(url(redemption), {**FORM, "domain_prefix": "  Contoso-EU "})
    assert Tenant.objects.get().domain_prefix == "contoso-eu"


def test_the_form_lists_only_supported_countries_and_says_why(client, partner_admin, ready):
    from tenants.models import SupportedCountry

    SupportedCountry.objects.exclude(country__in=["FR", "BE"]).delete()
    redemption, _keys = ready
    client.force_login(partner_admin)
    response = client.get(url(redemption))
    choices = [code for code, _name in response.context["form"].fields["country"].choices]
    assert choices == ["", "BE", "FR"]
    assert b"the service is not offered there" in response.content


def test_a_key_revoked_meanwhile_sends_the_partner_back_to_the_keys(
    client, partner_admin, ready, tenant_details, staff
):
    from keys.services import keys_revoke

    redemption, keys = ready
    keys_revoke(key_ids=[ProductKey.objects.get(digest=key_digest(keys[0])).pk], actor=staff)
    with pytest.raises(TenantCreateError) as caught:
        tenant_create(redemption=redemption, user=partner_admin, details=tenant_details())
    assert caught.value.back_to_keys
    client.force_login(partner_admin)
    response = client.post(url(redemption), FORM, follow=True)
    assert response.redirect_chain[-1][0] == f"/partner/redeem/{redemption.pk}/keys/"
    page = response.content.decode()
    assert "The keys of this redemption changed." in page
    assert "used or revoked since" in page  # what happened, on the keys page
    assert Tenant.objects.count() == 0
    # Reviewed again, step 2 still holds what was typed, and the remaining keys make the customer.
    client.post(f"/partner/redeem/{redemption.pk}/review/")
    again = client.get(url(redemption))
    assert again.context["form"]["name"].value() == "Contoso"
    assert again.context["form"]["domain_prefix"].value() == "contoso"
    assert client.post(url(redemption), FORM).status_code == 302
    assert Tenant.objects.get().subscriptions.get(product__sku="BUS-STD").seats == 3


def test_a_reservation_that_ran_out_is_never_redeemed_silently(
    partner_admin, ready, tenant_details
):
    from keys.services import reservations_release_stale

    redemption, _keys = ready
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25)):
        reservations_release_stale()
        with pytest.raises(TenantCreateError):
            tenant_create(redemption=redemption, user=partner_admin, details=tenant_details())
    assert Tenant.objects.count() == 0


def test_other_users_cannot_use_a_redemption(client, partner_agent, other_partner_admin, ready):
    redemption, _keys = ready
    for user in (partner_agent, other_partner_admin):
        client.force_login(user)
        assert client.get(url(redemption)).status_code == 404
        assert client.post(url(redemption), FORM).status_code == 404
    assert Tenant.objects.count() == 0
    with pytest.raises(TenantCreateError):
        tenant_create(
            redemption=redemption,
            user=partner_agent,
            details=services.TenantDetails(**FORM),
        )


def test_the_domain_check_answers_as_you_type(client, partner_admin, northwind):
    from tests.factories import TenantFactory

    TenantFactory(domain_prefix="fabrikam", created_by_partner=northwind)
    client.force_login(partner_admin)
    free = client.get("/partner/domain-check/", {"prefix": "Contoso"}).json()
    assert free == {"available": True, "message": "contoso.cloudsuite.example is available."}
    taken = client.get("/partner/domain-check/", {"prefix": "fabrikam"}).json()
    assert taken["available"] is False
    whole = client.get("/partner/domain-check/", {"prefix": "contoso.com"}).json()
    assert "Type only the first part" in whole["message"]


def test_the_domain_check_is_for_partners_only(client, nobody):
    client.force_login(nobody)
    assert client.get("/partner/domain-check/", {"prefix": "x"}).status_code == 403


def test_countries_are_sorted_as_a_reader_expects_and_language_follows_the_page(
    client, partner_admin, ready
):
    from tenants.models import SupportedCountry

    for code in ("AE", "SN", "SE", "CI", "CZ"):
        SupportedCountry.objects.get_or_create(country=code)
    redemption, _keys = ready
    client.force_login(partner_admin)
    response = client.get(url(redemption), HTTP_ACCEPT_LANGUAGE="fr")
    form = response.context["form"]
    names = [str(name) for code, name in form.fields["country"].choices if code]
    assert names.index("Émirats arabes unis") < names.index("France")
    assert names.index("Sénégal") < names.index("Suède")
    assert form["language"].value() == "fr"


def test_the_service_refuses_an_address_at_the_partners_domain(
    partner_admin, ready, tenant_details
):
    redemption, _keys = ready
    with pytest.raises(TenantCreateError) as caught:
        tenant_create(
            redemption=redemption,
            user=partner_admin,
            details=tenant_details(admin_email="it@northwind.example"),
        )
    assert caught.value.field == "admin_email"


class Step2NeverGivesA500(HypothesisTestCase):
    """Whatever is posted to step 2 of a reviewed redemption, the form answers: never a 500.

    The draft is confirmed first, so the posts reach TenantForm (an unconfirmed draft sends them
    back to the review before any field is read).
    """

    @classmethod
    def setUpTestData(cls):
        partner = Partner.objects.create(
            name="Northwind", partner_id="1000001", contact_email="c@northwind.example"
        )
        cls.user = User.objects.create_user("p@northwind.example", "x")
        PartnerMembership.objects.create(user=cls.user, partner=partner, role="admin")
        product = Product.objects.create(sku="BUS-STD", name="Business Standard", term_months=12)
        _batch, keys = batch_generate(
            product=product, count=1, seats_per_key=1, partner=partner, actor=None
        )
        cls.redemption, _errors = redemption_start(
            user=cls.user, partner=partner, raw_keys=keys, client_address=None
        )
        redemption_keys_confirm(redemption=cls.redemption, user=cls.user)

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(typed=st.dictionaries(st.sampled_from(list(FORM)), st.text(max_size=60), max_size=8))
    def test_the_form_answers_whatever_is_typed(self, typed):
        self.client.force_login(self.user)
        posted = {**FORM, **typed}
        response = self.client.post(url(self.redemption), posted)
        if any("\x00" in value for value in posted.values()):
            self.assertEqual(response.status_code, 400)  # refused before any view
        elif response.status_code == 302:
            self.assertRegex(response["Location"], r"^/partner/customers/\d+/created/$")
        else:
            self.assertEqual(response.status_code, 200)
            form = response.context["form"]
            self.assertTrue(form.errors)
            self.assertEqual({name: form.data[name] for name in FORM}, posted)
