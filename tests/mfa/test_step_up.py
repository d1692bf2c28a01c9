"""The step-up: acts that grant power or cannot be undone ask for a fresh verification once the
last one is older than MFA_STEP_UP_MINUTES, then continue with what the person had sent; and the
resets by a person's own organization or by ops."""

import json
import re

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential
from post_office.models import Email

from keys.models import KeyJob
from mfa.models import AuthenticatorApp
from portal.models import AuditEvent
from portal.second_factor import VERIFIED_AT_SESSION_KEY
from tenants.models import DelegationOffer, DelegationRelationship
from tests.factories import DelegationOfferFactory, DelegationRelationshipFactory
from tests.second_factor import app_of, fresh_code

pytestmark = pytest.mark.redis


def age_verification(client: Client, minutes: int) -> None:
    session = client.session
    session[VERIFIED_AT_SESSION_KEY] = (
        timezone.now() - timezone.timedelta(minutes=minutes)
    ).timestamp()
    session.save()


def verify_again(client: Client, user, location: str):
    """The step-up page, answered with the person's app; returns where it sends them."""
    page = client.get(location)
    assert page.status_code == 200 and "Confirm it" in page.content.decode()
    next_url = re.search(r'name="next" value="([^"]*)"', page.content.decode())[1]
    done = client.post(
        location, {"method": "app", "code": fresh_code(app_of(user)), "next": next_url}
    )
    assert done.status_code == 302
    return done["Location"]


@pytest.fixture
def megan_client(contoso_admin):
    client = Client()
    client.force_login(contoso_admin)
    return client


@pytest.fixture
def offer(contoso, northwind, partner_admin):
    return DelegationOfferFactory(partner=northwind, tenant=contoso, created_by=partner_admin)


def test_a_recent_verification_lets_the_act_go_on(megan_client, offer):
    age_verification(megan_client, 9)
    page = megan_client.post(
        f"/customer/partner-relationships/offers/{offer.pk}/", {"answer": "accept"}
    )
    assert page.status_code == 200  # the consent step, straight away


def test_accepting_an_offer_asks_again_and_continues_with_what_was_sent(
    megan_client, contoso_admin, offer
):
    age_verification(megan_client, 11)
    asked = megan_client.post(
        f"/customer/partner-relationships/offers/{offer.pk}/", {"answer": "accept", "confirm": "1"}
    )
    assert asked.status_code == 302
    assert asked["Location"].startswith("/accounts/verify/?next=%2Faccounts%2Fverify%2Fcontinue")
    assert "step_up=1" in asked["Location"]
    assert DelegationOffer.objects.get(pk=offer.pk).is_open()  # nothing done yet
    resume = verify_again(megan_client, contoso_admin, asked["Location"])
    assert resume == "/accounts/verify/continue/"
    page = megan_client.get(resume).content.decode()
    assert f'action="/customer/partner-relationships/offers/{offer.pk}/"' in page
    fields = dict(re.findall(r'type="hidden" name="(answer|confirm)" value="([^"]*)"', page))
    assert fields == {"answer": "accept", "confirm": "1"}
    done = megan_client.post(f"/customer/partner-relationships/offers/{offer.pk}/", fields)
    assert done.status_code == 302
    assert not DelegationOffer.objects.get(pk=offer.pk).is_open()
    assert DelegationRelationship.objects.filter(
        tenant=offer.tenant, partner=offer.partner
    ).exists()
    # Sent again: nothing waits any more.
    assert megan_client.get("/accounts/verify/continue/")["Location"] == "/"


def test_declining_needs_no_step_up(megan_client, offer):
    age_verification(megan_client, 60)
    assert (
        megan_client.post(
            f"/customer/partner-relationships/offers/{offer.pk}/", {"answer": "decline"}
        ).status_code
        == 200
    )


def test_terminating_a_relationship_asks_again_then_shows_the_page(
    contoso, northwind, partner_admin, client
):
    relationship = DelegationRelationshipFactory(partner=northwind, tenant=contoso)
    client.force_login(partner_admin)
    url = f"/partner/delegated-admin/relationships/{relationship.pk}/terminate/"
    assert client.get(url).status_code == 200
    age_verification(client, 11)
    asked = client.get(url)
    assert asked.status_code == 302 and "step_up=1" in asked["Location"]
    assert verify_again(client, partner_admin, asked["Location"]) == url
    assert client.get(url).status_code == 200


def test_generating_keys_asks_ops_again_and_keeps_the_form(staff, client, products):
    client.force_login(staff)
    age_verification(client, 30)
    form = {
        "product": products["BUS-STD"].pk,
        "count": "3",
        "seats_per_key": "5",
        "note": "step-up test",
        "submission": "d3f1c2a4-0000-4000-8000-000000000001",
    }
    asked = client.post("/admin/keys/keybatch/generate/", form)
    assert asked.status_code == 302 and "step_up=1" in asked["Location"]
    assert not KeyJob.objects.exists()
    resume = verify_again(client, staff, asked["Location"])
    page = client.get(resume).content.decode()
    assert 'value="step-up test"' in page and 'action="/admin/keys/keybatch/generate/"' in page


@override_settings(MFA_STEP_UP_MINUTES=1)
def test_the_setting_decides_how_old_is_too_old(megan_client, offer):
    age_verification(megan_client, 2)
    assert (
        megan_client.post(
            f"/customer/partner-relationships/offers/{offer.pk}/", {"answer": "accept"}
        ).status_code
        == 302
    )


def test_adding_a_passkey_needs_a_fresh_verification(partner_admin, client):
    client.force_login(partner_admin)
    assert client.post("/accounts/webauthn/registration/begin/").status_code == 200
    age_verification(client, 11)
    refused = client.post("/accounts/webauthn/registration/begin/")
    assert refused.status_code == 403
    assert json.loads(refused.content)["code"] == "step_up_needed"
    assert client.get("/accounts/security/")["Location"].startswith("/accounts/verify/?next=")


def test_making_someone_an_admin_asks_again(megan_client, contoso, alex):
    age_verification(megan_client, 11)
    url = f"/customer/users/{alex.pk}/"
    details = {
        "first_name": "Alex",
        "last_name": "Wilber",
        "username": "alex",
        "email": alex.email,
        "phone": "",
    }
    # Changing only the name is no power: it goes on.
    assert megan_client.post(url, details).status_code == 302
    asked = megan_client.post(url, {**details, "is_admin": "on"})
    assert asked.status_code == 302 and "step_up=1" in asked["Location"]
    alex.refresh_from_db()
    assert not alex.is_admin


# --- Resets by the person's organization and by ops ----------------------------------------


def test_a_partner_admin_lets_an_agent_enrol_again(partner_admin, partner_agent, client):
    agent_client = Client()
    agent_client.force_login(partner_agent)
    assert agent_client.get("/partner/").status_code == 200
    client.force_login(partner_admin)
    page = client.get("/partner/").content.decode()
    assert f'href="/partner/team/{partner_agent.pk}/second-factor/reset/"' in page
    url = f"/partner/team/{partner_agent.pk}/second-factor/reset/"
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    assert not AuthenticatorApp.objects.filter(user=partner_agent).exists()
    [event] = AuditEvent.objects.filter(action="mfa.factors_reset")
    assert event.actor == partner_admin and event.details["by"] == "partner"
    assert event.partner == partner_agent.partner_membership.partner
    assert list(
        Email.objects.filter(to=[partner_agent.email]).values_list("subject", flat=True)
    ) == ["You must enrol a second factor again"]
    # The agent's session is no longer verified: the next page is the enrolment.
    assert agent_client.get("/partner/")["Location"].startswith("/accounts/security/")


def test_only_partner_admins_reset_and_nobody_resets_themselves(
    partner_admin, partner_agent, other_partner_admin, client
):
    app_of(partner_agent)
    client.force_login(partner_agent)
    assert client.post(f"/partner/team/{partner_admin.pk}/second-factor/reset/").status_code == 403
    client.force_login(other_partner_admin)
    assert client.post(f"/partner/team/{partner_agent.pk}/second-factor/reset/").status_code == 404
    client.force_login(partner_admin)
    assert client.post(f"/partner/team/{partner_admin.pk}/second-factor/reset/").status_code == 403
    assert AuthenticatorApp.objects.filter(user__in=[partner_admin, partner_agent]).count() == 2


def test_a_customer_admin_lets_a_user_of_the_tenant_enrol_again(megan_client, contoso, alex):
    app_of(alex.user)
    page = megan_client.get(f"/customer/users/{alex.pk}/").content.decode()
    assert f'href="/customer/users/{alex.pk}/second-factor/reset/"' in page
    assert megan_client.post(f"/customer/users/{alex.pk}/second-factor/reset/").status_code == 302
    assert not AuthenticatorApp.objects.filter(user=alex.user).exists()
    assert AuditEvent.objects.get(action="mfa.factors_reset").tenant_id == contoso.pk


def test_ops_reset_from_the_user_admin_and_see_who_has_no_factor(
    staff, partner_admin, partner_agent, contoso_admin, client
):
    app_of(partner_admin)
    WebAuthnCredential.objects.filter(user=partner_agent).delete()
    client.force_login(staff)
    listing = client.get("/admin/mfa/accountwithoutfactor/").content.decode()
    # Megan and the agent have no factor yet; the admin and ops (signed in) have one.
    assert contoso_admin.email in listing and partner_agent.email in listing
    assert partner_admin.email not in listing
    done = client.post(
        "/admin/portal/user/",
        {"action": "second_factor_reset", "_selected_action": [partner_admin.pk], "post": "yes"},
    )
    assert done.status_code == 302
    assert not AuthenticatorApp.objects.filter(user=partner_admin).exists()
    assert AuditEvent.objects.get(action="mfa.factors_reset").details["by"] == "ops"
    assert partner_admin.email in client.get("/admin/mfa/accountwithoutfactor/").content.decode()


def test_unticking_an_admin_with_false_still_asks_again(megan_client, contoso, alex):
    """The box as the form reads it: "false" is unticked, so demoting an admin is a step-up."""
    alex.is_admin = True
    alex.save()
    age_verification(megan_client, 11)
    details = {"first_name": "Alex", "last_name": "Wilber", "username": "alex", "email": alex.email}
    asked = megan_client.post(f"/customer/users/{alex.pk}/", {**details, "is_admin": "false"})
    assert asked.status_code == 302 and "step_up=1" in asked["Location"]
    alex.refresh_from_db()
    assert alex.is_admin


def test_ops_reset_is_a_step_up_act_confirmed_on_its_own_page(staff, partner_admin, client):
    app_of(partner_admin)
    client.force_login(staff)
    choose = {"action": "second_factor_reset", "_selected_action": [partner_admin.pk, staff.pk]}
    page = client.post("/admin/portal/user/", choose)
    assert page.status_code == 200
    assert partner_admin.email in page.content.decode()
    assert "Your own factors are not reset from here." in page.content.decode()
    assert AuthenticatorApp.objects.filter(user=partner_admin).exists()  # nothing yet
    age_verification(client, 11)
    asked = client.post("/admin/portal/user/", {**choose, "post": "yes"})
    assert asked.status_code == 302 and "step_up=1" in asked["Location"]
    assert AuthenticatorApp.objects.filter(user=partner_admin).exists()


def test_making_someone_staff_in_the_admin_asks_again(staff, partner_agent, client):
    client.force_login(staff)
    age_verification(client, 11)
    asked = client.post(f"/admin/portal/user/{partner_agent.pk}/change/", {"is_staff": "on"})
    assert asked.status_code == 302 and "step_up=1" in asked["Location"]
    partner_agent.refresh_from_db()
    assert not partner_agent.is_staff
    assert client.get(f"/admin/portal/user/{partner_agent.pk}/change/").status_code == 200
