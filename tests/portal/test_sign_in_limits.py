import re

import time_machine
from django.core import mail

from portal.models import AuditEvent


def fail(client, email="partner@northwind.example", address="198.51.100.3"):
    return client.post(
        "/accounts/login/", {"username": email, "password": "wrong"}, REMOTE_ADDR=address
    )


def test_it_refuses_sign_in_after_ten_failures_for_one_account(client, partner_admin):
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False):
        for _ in range(10):
            assert fail(client).status_code == 200
        blocked = client.post(
            "/accounts/login/",
            {"username": "partner@northwind.example", "password": "portal-demo"},
            REMOTE_ADDR="198.51.100.3",
        )
    assert blocked.status_code == 429
    assert b"Too many failed sign-ins. Try again at 09:15 UTC." in blocked.content
    assert AuditEvent.objects.filter(action="signin.limit_reached").count() == 1
    with time_machine.travel("2026-11-25 09:15:01Z", tick=False):
        ok = client.post(
            "/accounts/login/",
            {"username": "partner@northwind.example", "password": "portal-demo"},
            REMOTE_ADDR="198.51.100.3",
        )
    assert ok.status_code == 302


def test_the_account_limit_holds_from_another_address(client, partner_admin):
    for n in range(10):
        fail(client, address=f"198.51.100.{n + 10}")
    assert fail(client, address="203.0.113.1").status_code == 429


def test_other_accounts_still_sign_in(client, partner_admin, partner_agent):
    for _ in range(10):
        fail(client)
    response = client.post(
        "/accounts/login/",
        {"username": "agent@northwind.example", "password": "portal-demo"},
        REMOTE_ADDR="198.51.100.99",
    )
    assert response.status_code == 302


def test_password_reset_sends_a_single_use_link(
    client, partner_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the outbox is sent after commit
        response = client.post("/accounts/password_reset/", {"email": "partner@northwind.example"})
    assert response.status_code == 302
    body = mail.outbox[0].body
    path = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", body).group(1)
    form = client.get(path, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-Passphrase-77", "new_password2": "a-new-Passphrase-77"},
    )
    assert done.status_code == 302
    assert client.login(username="partner@northwind.example", password="a-new-Passphrase-77")
    client.logout()
    again = client.get(path, follow=True)
    assert b"This link no longer works" in again.content


def test_password_change_needs_the_old_password(client, partner_admin):
    client.force_login(partner_admin)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": "wrong",
            "new_password1": "a-new-Passphrase-77",
            "new_password2": "a-new-Passphrase-77",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]


def test_the_limit_event_names_the_account_and_the_429_says_when(client, partner_admin):
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False):
        for _ in range(10):
            fail(client, email="Partner@Northwind.example")
    with time_machine.travel("2026-11-25 09:10:00Z", tick=False):
        blocked = fail(client)
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "300"
    event = AuditEvent.objects.get(action="signin.limit_reached", details__counter="account")
    assert event.details["account"] == "partner@northwind.example"


def test_a_right_password_does_not_count_as_a_failure(client, partner_admin):
    for _ in range(9):
        fail(client)
    for _ in range(3):
        assert (
            client.post(
                "/accounts/login/",
                {"username": "partner@northwind.example", "password": "portal-demo"},
                REMOTE_ADDR="198.51.100.3",
            ).status_code
            == 302
        )
        client.logout()
    assert fail(client).status_code == 200
    assert fail(client).status_code == 429
