"""Signing in with a second factor: the password, then a passkey, an authenticator app's code or
a recovery code; the gate in front of every page; enrolment for those who must have a factor."""

import re
import time

import pytest
import time_machine
from django.test import Client, override_settings
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from post_office.models import Email

from mfa.models import STEP_SECONDS, AuthenticatorApp
from mfa.services import recovery_codes_generate
from portal.models import AuditEvent
from portal.second_factor import VERIFIED_AT_SESSION_KEY
from tests.second_factor import app_of, code_at, fresh_code

pytestmark = pytest.mark.redis

PASSWORD = "portal-demo"


def password_step(client: Client, email: str):
    return client.post("/accounts/login/", {"username": email, "password": PASSWORD})


def subjects_to(user) -> list[str]:
    return list(
        Email.objects.filter(to=[user.email]).order_by("id").values_list("subject", flat=True)
    )


def sent(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_after_the_password_a_person_with_an_app_is_asked_for_its_code(partner_admin):
    device = app_of(partner_admin)
    client = Client()
    password_step(client, partner_admin.email)
    # Every page sends the half-signed-in session to the second step, keeping where it was going.
    response = client.get("/partner/customers/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/verify/?next=%2Fpartner%2Fcustomers%2F"
    page = client.get(response["Location"])
    assert "Second step of signing in" in page.content.decode()
    done = client.post(
        "/accounts/verify/?next=/partner/customers/",
        {"method": "app", "code": fresh_code(device), "next": "/partner/customers/"},
    )
    assert done.status_code == 302 and done["Location"] == "/partner/customers/"
    assert client.get("/partner/customers/").status_code == 200


def test_a_wrong_code_is_refused_and_the_page_keeps_nothing_secret(partner_admin):
    device = app_of(partner_admin)
    client = Client()
    password_step(client, partner_admin.email)
    right = fresh_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    page = client.post("/accounts/verify/", {"method": "app", "code": wrong})
    assert page.status_code == 200
    assert "That code is not right" in page.content.decode()
    assert client.get("/partner/").status_code == 302  # still not through


def test_a_code_is_never_accepted_twice(partner_admin):
    device = app_of(partner_admin)
    first, second = Client(), Client()
    password_step(first, partner_admin.email)
    password_step(second, partner_admin.email)
    code = fresh_code(device)
    assert first.post("/accounts/verify/", {"method": "app", "code": code}).status_code == 302
    replay = second.post("/accounts/verify/", {"method": "app", "code": code})
    assert replay.status_code == 200 and "already used" in replay.content.decode()


def app_of_fresh(user) -> AuthenticatorApp:
    device = AuthenticatorApp.for_new_secret(user=user, name="Second app")
    device.confirmed = True
    device.save()
    return device


def test_codes_one_step_either_side_work_and_two_steps_do_not(partner_admin):
    device = app_of(partner_admin)
    with time_machine.travel(timezone.now(), tick=False):
        now = time.time()
        assert not device.verify_token(code_at(device, now - 2 * STEP_SECONDS))
        assert not device.verify_token(code_at(device, now + 2 * STEP_SECONDS))
        assert device.verify_token(code_at(device, now - STEP_SECONDS))
        # Once a step is used, the same or an older one is refused.
        assert not device.verify_token(code_at(device, now - STEP_SECONDS))
        # No drift is learnt: the window stays on the server's clock.
        assert device.verify_token(code_at(device, now))
        other = app_of_fresh(device.user)
        assert other.verify_token(code_at(other, now + STEP_SECONDS))


@override_settings(MFA_LIMIT_PER_ACCOUNT=3)
def test_wrong_codes_are_limited_per_account_with_429_and_an_audit_event(partner_admin):
    device = app_of(partner_admin)
    client = Client()
    password_step(client, partner_admin.email)
    for _ in range(3):
        assert client.post("/accounts/verify/", {"method": "app", "code": "000000"}).status_code
    assert len(sent("mfa.limit_reached")) == 1  # the third wrong code reached the limit
    blocked = client.post("/accounts/verify/", {"method": "app", "code": fresh_code(device)})
    assert blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= 15 * 60
    assert "Too many wrong codes" in blocked.content.decode()
    # Another browser of the same account is refused too: the counter is the account's.
    other = Client()
    password_step(other, partner_admin.email)
    assert other.post("/accounts/verify/", {"method": "app", "code": "123456"}).status_code == 429


@override_settings(MFA_LIMIT_PER_ADDRESS=2, MFA_LIMIT_PER_ACCOUNT=50)
def test_wrong_codes_are_limited_per_address(partner_admin, partner_agent):
    app_of(partner_admin), app_of(partner_agent)
    for person in (partner_admin, partner_agent):
        client = Client(REMOTE_ADDR="203.0.113.9")
        password_step(client, person.email)
        client.post("/accounts/verify/", {"method": "app", "code": "000000"})
    client = Client(REMOTE_ADDR="203.0.113.9")
    password_step(client, partner_admin.email)
    assert client.post("/accounts/verify/", {"method": "app", "code": "000000"}).status_code == 429


def test_a_recovery_code_signs_in_once_and_is_recorded_and_told(partner_admin):
    app_of(partner_admin)
    codes = recovery_codes_generate(user=partner_admin, actor=partner_admin)
    assert len(codes) == 10 and len(set(codes)) == 10
    Email.objects.all().delete()
    client = Client()
    password_step(client, partner_admin.email)
    # Typed in capitals with spaces: still the code.
    typed = codes[3].upper().replace("-", " ")
    done = client.post("/accounts/verify/", {"method": "recovery", "code": typed})
    assert done.status_code == 302
    assert client.get("/partner/").status_code == 200
    [event] = sent("mfa.recovery_code_used")
    assert event.details["left"] == 9 and event.actor == partner_admin
    assert subjects_to(partner_admin) == ["A recovery code was used to sign in to your account"]
    again = Client()
    password_step(again, partner_admin.email)
    reused = again.post("/accounts/verify/", {"method": "recovery", "code": codes[3]})
    assert reused.status_code == 200 and "already used" in reused.content.decode()


def test_new_recovery_codes_void_the_old_ones(partner_admin):
    app_of(partner_admin)
    old = recovery_codes_generate(user=partner_admin, actor=partner_admin)
    new = recovery_codes_generate(user=partner_admin, actor=partner_admin)
    client = Client()
    password_step(client, partner_admin.email)
    assert (
        client.post("/accounts/verify/", {"method": "recovery", "code": old[0]}).status_code == 200
    )
    assert (
        client.post("/accounts/verify/", {"method": "recovery", "code": new[0]}).status_code == 302
    )


def test_recovery_codes_are_stored_as_digests_only(partner_admin):
    codes = recovery_codes_generate(user=partner_admin, actor=partner_admin)
    stored = set(
        StaticDevice.objects.get(user=partner_admin).token_set.values_list("token", flat=True)
    )
    assert len(stored) == 10
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


def test_the_verify_page_offers_what_the_person_has(partner_admin):
    app_of(partner_admin)
    client = Client()
    password_step(client, partner_admin.email)
    page = client.get("/accounts/verify/").content.decode()
    assert "Authenticator app" in page and 'id="passkey-verification-placeholder"' not in page
    assert "Use a recovery code" not in page  # none made yet
    recovery_codes_generate(user=partner_admin, actor=partner_admin)
    assert "Use a recovery code" in client.get("/accounts/verify/").content.decode()


# --- Who must enrol -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["partner_admin", "partner_agent", "contoso_admin", "staff"])
def test_those_who_hold_power_must_enrol_before_anything_else(who, request):
    person = request.getfixturevalue(who)
    client = Client()
    password_step(client, person.email)
    for url in ("/", "/partner/", "/customer/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/security/?next="), url
    page = client.get("/accounts/security/").content.decode()
    assert "needs a second factor before you can go on" in page


def test_a_tenant_user_who_is_no_admin_may_enrol_but_need_not(alex):
    alex.user.set_password(PASSWORD)
    alex.user.save()
    client = Client()
    password_step(client, alex.user.email)
    assert client.get("/customer/licenses/").status_code == 200
    assert "needs a second factor" not in client.get("/accounts/security/").content.decode()


def test_enrolling_an_app_takes_a_first_code_and_is_recorded_and_told_in_french(contoso_admin):
    client = Client()
    password_step(client, contoso_admin.email)
    page = client.get("/accounts/security/authenticator-app/").content.decode()
    assert "<svg" in page  # the QR code, drawn on the server
    secret = re.search(r'data-testid="totp-secret" lang="en">([A-Z2-7 ]+)<', page)[1]
    device = AuthenticatorApp.objects.get(user=contoso_admin)
    assert not device.confirmed and device.secret_base32 == secret.replace(" ", "")
    refused = client.post("/accounts/security/authenticator-app/", {"code": "000000"})
    assert refused.status_code == 200 and not AuthenticatorApp.objects.get(pk=device.pk).confirmed
    Email.objects.all().delete()
    done = client.post("/accounts/security/authenticator-app/", {"code": fresh_code(device)})
    # The first factor leads to the recovery codes.
    assert done.status_code == 302 and done["Location"] == "/accounts/security/recovery-codes/"
    assert AuthenticatorApp.objects.get(pk=device.pk).confirmed
    assert client.get("/customer/").status_code == 200  # the session is verified
    [event] = sent("mfa.factor_added")
    assert event.details == {"kind": "app", "device": "Authenticator app"}
    assert subjects_to(contoso_admin) == ["Un second facteur a été ajouté à votre compte"]


def test_the_grace_period_lets_existing_accounts_work_with_a_banner(partner_admin):
    with override_settings(MFA_ENROLMENT_GRACE_DAYS=5):
        client = Client()
        password_step(client, partner_admin.email)
        page = client.get("/partner/")
        assert page.status_code == 200
        assert 'data-testid="mfa-grace"' in page.content.decode()
        with time_machine.travel(timezone.now() + timezone.timedelta(days=6)):
            assert client.get("/partner/")["Location"].startswith("/accounts/security/")


def test_the_admin_asks_for_a_verified_factor(staff):
    app_of(staff)
    client = Client()
    client.force_login(staff, verified=False)
    assert client.get("/admin/")["Location"] == "/accounts/verify/?next=%2Fadmin%2F"
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_removing_the_last_factor_is_refused_to_those_who_must_have_one(partner_admin, client):
    client.force_login(partner_admin)
    device = app_of(partner_admin)
    page = client.post(f"/accounts/security/app/{device.pk}/", {"action": "remove"})
    assert page.status_code == 200 and "This is your last passkey or authenticator app" in (
        page.content.decode()
    )
    assert AuthenticatorApp.objects.filter(pk=device.pk).exists()


def test_a_tenant_user_may_remove_their_only_app(alex, client):
    client.force_login(alex.user)
    device = app_of(alex.user)
    Email.objects.all().delete()
    done = client.post(f"/accounts/security/app/{device.pk}/", {"action": "remove"})
    assert done.status_code == 302
    assert not AuthenticatorApp.objects.filter(pk=device.pk).exists()
    assert sent("mfa.factor_removed")[0].details["kind"] == "app"
    assert subjects_to(alex.user) == ["A second factor was removed from your account"]


def test_nobody_reaches_another_persons_factor(partner_admin, partner_agent, client):
    client.force_login(partner_admin)
    theirs = app_of(partner_agent)
    assert client.get(f"/accounts/security/app/{theirs.pk}/").status_code == 404
    assert (
        client.post(f"/accounts/security/app/{theirs.pk}/", {"action": "remove"}).status_code == 404
    )
    assert AuthenticatorApp.objects.filter(pk=theirs.pk).exists()


def test_the_secret_is_encrypted_at_rest(partner_admin):
    device = app_of(partner_admin)
    stored = AuthenticatorApp.objects.values_list("encrypted_secret", flat=True).get(pk=device.pk)
    assert device.secret_base32 not in stored and device.secret.hex() not in stored


def test_the_access_rule_itself_refuses_a_session_without_its_factor(partner_admin, contoso_admin):
    """Behind the gate, portal.access asks too: a request user that has a factor but did not
    verify it has no partner membership and no customer account."""
    from portal.access import customer_user_account, partner_membership

    for person in (partner_admin, contoso_admin):
        app_of(person)
        person.is_verified = lambda: False  # as django-otp's middleware sets it
        assert partner_membership(person) is None and customer_user_account(person) is None
        person.is_verified = lambda: True
    assert partner_membership(partner_admin) is not None
    assert customer_user_account(contoso_admin) is not None


def test_after_enrolling_the_person_goes_on_where_they_were_going(partner_admin):
    client = Client()
    password_step(client, partner_admin.email)
    gate = client.get("/partner/customers/")["Location"]
    assert gate == "/accounts/security/?next=%2Fpartner%2Fcustomers%2F"
    client.get(gate)
    client.get("/accounts/security/authenticator-app/")
    device = AuthenticatorApp.objects.get(user=partner_admin)
    done = client.post("/accounts/security/authenticator-app/", {"code": fresh_code(device)})
    assert done["Location"] == "/accounts/security/recovery-codes/"
    codes_page = client.post("/accounts/security/recovery-codes/").content.decode()
    assert 'href="/partner/customers/">' in codes_page
    assert client.get("/partner/customers/").status_code == 200


def test_a_refused_app_code_comes_back_empty_and_a_recovery_code_as_typed(partner_admin):
    app_of(partner_admin)
    recovery_codes_generate(user=partner_admin, actor=partner_admin)
    client = Client()
    password_step(client, partner_admin.email)
    page = client.post("/accounts/verify/", {"method": "app", "code": "000000"}).content.decode()
    assert "That code is not right" in page and 'value="000000"' not in page
    page = client.post("/accounts/verify/", {"method": "recovery", "code": "abcde-fghij"})
    assert 'value="abcde-fghij"' in page.content.decode()


def test_a_next_that_names_no_page_goes_home_and_is_no_error(partner_admin):
    device = app_of(partner_admin)
    client = Client()
    password_step(client, partner_admin.email)
    for bad in ("foo", "//evil.example/x", "https://evil.example/"):
        done = client.post(
            f"/accounts/verify/?next={bad}", {"method": "app", "code": fresh_code(device)}
        )
        assert done.status_code == 302 and done["Location"] == "/", bad
        client.logout()
        password_step(client, partner_admin.email)


def test_removing_the_last_factor_takes_the_recovery_codes_along(alex, client):
    client.force_login(alex.user)
    device = app_of(alex.user)
    recovery_codes_generate(user=alex.user, actor=alex.user)
    assert (
        client.post(f"/accounts/security/app/{device.pk}/", {"action": "remove"}).status_code == 302
    )
    assert not StaticDevice.objects.filter(user=alex.user).exists()
    assert sent("mfa.factor_removed")[0].details["recovery_codes_removed"] is True
    # Nothing left to verify with: the pages open, with no loop through the step-up.
    assert client.get("/accounts/security/").status_code == 200
    assert client.get("/customer/licenses/").status_code == 200


def test_a_person_left_with_recovery_codes_only_verifies_with_them(alex):
    """Codes with no passkey or app (an account from before codes went with the last factor):
    the second step offers them, and the step-up asks for one instead of looping."""
    alex.user.set_password(PASSWORD)
    alex.user.save()
    codes = recovery_codes_generate(user=alex.user, actor=alex.user)
    client = Client()
    password_step(client, alex.user.email)
    assert client.get("/customer/licenses/")["Location"].startswith("/accounts/verify/")
    page = client.get("/accounts/verify/").content.decode()
    assert "Use a recovery code" in page
    assert (
        client.post("/accounts/verify/", {"method": "recovery", "code": codes[0]}).status_code
        == 302
    )
    session = client.session
    session[VERIFIED_AT_SESSION_KEY] = 0
    session.save()
    asked = client.get("/accounts/security/")
    assert (
        asked["Location"].startswith("/accounts/verify/?next=") and "step_up=1" in asked["Location"]
    )


def test_an_app_confirmed_twice_is_no_error(contoso_admin, rf):
    """The same form sent twice (a double click): the second finds the app already on."""
    from mfa.services import app_setup_confirm, app_setup_start

    device = app_setup_start(user=contoso_admin)
    code = fresh_code(device)
    client = Client()
    client.force_login(contoso_admin, verified=False)
    request = rf.post("/accounts/security/authenticator-app/")
    request.user, request.session = contoso_admin, client.session
    assert app_setup_confirm(device=device, code=code, request=request)
    assert app_setup_confirm(device=device, code=code, request=request)
    assert AuthenticatorApp.objects.filter(user=contoso_admin, confirmed=True).count() == 1
    assert len(sent("mfa.factor_added")) == 1


def test_a_recovery_code_leads_to_the_security_page_then_on(partner_admin):
    app_of(partner_admin)
    codes = recovery_codes_generate(user=partner_admin, actor=partner_admin)
    client = Client()
    password_step(client, partner_admin.email)
    done = client.post(
        "/accounts/verify/?next=/partner/customers/",
        {"method": "recovery", "code": codes[0], "next": "/partner/customers/"},
    )
    assert done["Location"] == "/accounts/security/"
    page = client.get("/accounts/security/").content.decode()
    assert "9 are left" in page and 'href="/partner/customers/">Continue where you were' in page
