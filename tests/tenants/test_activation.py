import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from post_office.models import Email

from mfa.models import AuthenticatorApp
from portal.models import AuditEvent, User
from tenants.services import tenant_create
from tests.second_factor import fresh_code, second_step


@pytest.fixture
def created(
    partner_admin,
    northwind,
    make_keys,
    redeem,
    tenant_details,
    django_capture_on_commit_callbacks,
    countries,
):
    redemption = redeem(partner_admin, northwind, *make_keys(1, seats=2))
    with django_capture_on_commit_callbacks(execute=True):
        tenant = tenant_create(
            redemption=redemption, user=partner_admin, details=tenant_details(language="en")
        )
    link = re.search(r"http://\S+/customer/activate/\S+/", mail.outbox[0].body).group(0)
    return tenant, link.split("127.0.0.1:8000", 1)[1]


def test_the_link_moves_the_token_out_of_the_url(client, created):
    _tenant, path = created
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].endswith("/set-password/")
    assert path.rstrip("/").rsplit("/", 1)[1] not in response["Location"]


def test_the_admin_sets_a_password_and_lands_on_the_customer_home(client, created):
    _tenant, path = created
    page = client.get(path, follow=True)
    assert b"Activate your account" in page.content
    # Which address the admin signs in with (issue 16).
    admin = _tenant.users.get(is_admin=True)
    assert f"sign in with {admin.email}, as your organization" in page.content.decode()
    response = client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "a-long-Passphrase-2026", "new_password2": "a-long-Passphrase-2026"},
        follow=True,
    )
    # Signed in, a customer admin adds a second factor before anything else.
    assert response.redirect_chain[-1][0] == "/accounts/security/?next=%2F"
    assert 'data-testid="must-enrol"' in response.content.decode()
    user = User.objects.get(email="megan@contoso.example")
    assert user.check_password("a-long-Passphrase-2026")
    assert AuditEvent.objects.filter(action="tenant_user.activated", actor=user).exists()
    # She sets up an authenticator app (its first code confirms it) and reaches her home.
    assert client.get("/accounts/security/authenticator-app/").status_code == 200
    device = AuthenticatorApp.objects.get(user=user, confirmed=False)
    enrolled = client.post("/accounts/security/authenticator-app/", {"code": fresh_code(device)})
    assert enrolled.status_code == 302
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/customer/"
    assert b"Business Standard" in response.content
    assert b"1 of 2 used" in response.content
    assert b"contoso.cloudsuite.example" in response.content
    # Signing in later works with that password, and then her app's code.
    client.logout()
    assert client.login(username="megan@contoso.example", password="a-long-Passphrase-2026")
    assert client.get("/")["Location"] == "/accounts/verify/?next=%2F"
    second_step(client, user)
    assert client.get("/")["Location"] == "/customer/"


def test_the_link_works_once(client, created):
    _tenant, path = created
    page = client.get(path, follow=True)
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "a-long-Passphrase-2026", "new_password2": "a-long-Passphrase-2026"},
    )
    client.logout()
    again = client.get(path, follow=True)
    assert b"This activation link no longer works" in again.content


def test_the_link_expires(client, created, settings):
    _tenant, path = created
    later = timezone.now() + datetime.timedelta(days=settings.ACTIVATION_LINK_DAYS, minutes=1)
    with time_machine.travel(later):
        response = client.get(path, follow=True)
    assert b"This activation link no longer works" in response.content


def test_the_link_still_works_just_before_it_expires(client, created, settings):
    _tenant, path = created
    later = timezone.now() + datetime.timedelta(days=settings.ACTIVATION_LINK_DAYS, minutes=-1)
    with time_machine.travel(later):
        response = client.get(path, follow=True)
    assert b"Activate my account" in response.content


def test_a_weak_password_is_refused_and_nothing_changes(client, created):
    _tenant, path = created
    page = client.get(path, follow=True)
    response = client.post(
        page.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 200
    assert not User.objects.get(email="megan@contoso.example").has_usable_password()


def test_a_tampered_link_does_not_work(client, created):
    _tenant, path = created
    response = client.get(path[:-3] + "xx/", follow=True)
    assert b"This activation link no longer works" in response.content


def test_partner_users_and_strangers_cannot_open_the_customer_home(
    client, partner_admin, nobody, created
):
    for user in (partner_admin, nobody):
        client.force_login(user)
        assert client.get("/customer/").status_code == 403


def test_the_partner_sends_the_activation_email_again(
    client, partner_admin, created, django_capture_on_commit_callbacks
):
    tenant, _old_path = created
    account = tenant.users.get()
    mail.outbox.clear()
    client.force_login(partner_admin)
    page = client.get(f"/partner/customers/{tenant.pk}/")
    assert b"Send the activation e-mail again" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/partner/customers/{tenant.pk}/admins/{account.pk}/resend-activation/", follow=True
        )
    assert b"A new activation e-mail is on its way to megan@contoso.example." in response.content
    assert [m.to for m in mail.outbox] == [["megan@contoso.example"]]
    assert AuditEvent.objects.filter(action="tenant_user.activation_resent").count() == 1


def test_other_partners_cannot_resend(client, other_partner_admin, created):
    tenant, _path = created
    client.force_login(other_partner_admin)
    response = client.post(
        f"/partner/customers/{tenant.pk}/admins/{tenant.users.get().pk}/resend-activation/"
    )
    assert response.status_code == 404


def test_it_refuses_a_sixth_activation_email_in_the_window(client, partner_admin, created):
    tenant, _path = created
    account = tenant.users.get()
    url = f"/partner/customers/{tenant.pk}/admins/{account.pk}/resend-activation/"
    client.force_login(partner_admin)
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False):
        for _ in range(5):
            assert client.post(url).status_code == 302
        blocked = client.post(url)
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "3600"
    assert b"You can ask again at 10:00 UTC" in blocked.content
    assert Email.objects.filter(to="megan@contoso.example").count() == 1 + 5  # creation + 5
    assert AuditEvent.objects.filter(
        action="email_link.limit_reached", actor=partner_admin, details__counter="account"
    ).exists()


def test_it_does_not_count_a_resend_to_an_activated_admin(client, partner_admin, created):
    tenant, _path = created
    account = tenant.users.get()
    account.user.set_password("a-long-Passphrase-2026")
    account.user.save()
    client.force_login(partner_admin)
    url = f"/partner/customers/{tenant.pk}/admins/{account.pk}/resend-activation/"
    for _ in range(8):
        assert client.post(url).status_code == 302


def test_an_expired_link_names_the_partner_and_sends_a_new_one(client, created, settings):
    _tenant, path = created
    later = timezone.now() + datetime.timedelta(days=settings.ACTIVATION_LINK_DAYS, hours=1)
    with time_machine.travel(later, tick=False):
        page = client.get(path)
        assert b"The link has expired." in page.content
        assert b"Northwind Partners (partner ID 1000001)" in page.content
        renew_url = path + "renew/"
        assert f'action="{renew_url}"'.encode() in page.content
        before = Email.objects.count()
        response = client.post(renew_url)
    assert b"A new activation link is on its way" in response.content
    assert "m•••@contoso.example" in response.content.decode()
    assert Email.objects.count() == before + 1
    assert AuditEvent.objects.filter(action="tenant_user.activation_renewed").count() == 1
    # The new link works.
    from portal.outbox import outbox_deliver

    outbox_deliver()
    new_link = re.search(r"http://\S+/customer/activate/\S+/", mail.outbox[-1].body).group(0)
    fresh = client.get(new_link.split("127.0.0.1:8000", 1)[1])
    assert fresh.status_code == 302 and fresh["Location"].endswith("/set-password/")


def test_a_made_up_link_names_nobody_and_renews_nothing(client, created):
    _tenant, path = created
    broken = path[:-3] + "xx/"
    page = client.get(broken)
    assert b"Northwind" not in page.content
    assert b"Send me a new activation link" not in page.content
    response = client.post(broken + "renew/")
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="tenant_user.activation_renewed").exists()


def test_a_used_link_says_the_account_is_active(client, created):
    _tenant, path = created
    page = client.get(path, follow=True)
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "a-long-Passphrase-2026", "new_password2": "a-long-Passphrase-2026"},
    )
    client.logout()
    again = client.get(path)
    assert b"your account is active" in again.content
    assert b"Northwind" not in again.content


def test_asking_for_new_links_is_limited(client, created, settings):
    settings.EMAIL_LINK_LIMIT_PER_ACCOUNT = 2
    _tenant, path = created
    later = timezone.now() + datetime.timedelta(days=settings.ACTIVATION_LINK_DAYS, hours=1)
    with time_machine.travel(later, tick=False):
        assert client.post(path + "renew/").status_code == 200
        assert client.post(path + "renew/").status_code == 200
        blocked = client.post(path + "renew/")
    assert blocked.status_code == 429
    assert "Retry-After" in blocked
