"""The language picked in the header is saved on the person's account, signed in or not yet."""

from portal.models import AuditEvent
from tests.second_factor import second_step

SIGN_IN = "/accounts/login/"


def sign_in(client, **extra):
    return client.post(
        SIGN_IN, {"username": "partner@northwind.example", "password": "portal-demo"}, **extra
    )


def test_it_saves_the_language_picked_on_the_sign_in_page(client, partner_admin):
    client.post("/i18n/setlang/", {"language": "fr", "next": SIGN_IN})  # not signed in yet
    partner_admin.refresh_from_db()
    assert partner_admin.language == "en"
    response = sign_in(client)
    assert response.status_code == 302
    partner_admin.refresh_from_db()
    assert partner_admin.language == "fr"
    assert AuditEvent.objects.filter(action="user.language_changed", actor=partner_admin).exists()
    second_step(client, partner_admin)  # a partner user's pages need the second factor
    assert "Présentation du partenaire" in client.get("/partner/").content.decode()


def test_until_a_language_is_picked_e_mails_follow_the_pages_read(client, partner_admin):
    """Issue 16: a French partner in a French browser gets French e-mails without touching the
    header (before, the browser's language left the account as it was)."""
    sign_in(client, HTTP_ACCEPT_LANGUAGE="fr")
    client.get("/partner/", HTTP_ACCEPT_LANGUAGE="fr")
    partner_admin.refresh_from_db()
    assert partner_admin.language == "fr" and partner_admin.language_chosen_at is None
    assert AuditEvent.objects.filter(action="user.language_followed").count() == 1
    assert not AuditEvent.objects.filter(action="user.language_changed").exists()
    client.get("/partner/", HTTP_ACCEPT_LANGUAGE="fr")  # nothing new to follow
    assert AuditEvent.objects.filter(action="user.language_followed").count() == 1
    client.get("/partner/")  # a request that names no language changes nothing
    partner_admin.refresh_from_db()
    assert partner_admin.language == "fr"


def test_a_language_picked_in_the_header_is_kept_whatever_the_browser(client, partner_admin):
    sign_in(client, HTTP_ACCEPT_LANGUAGE="fr")
    client.post("/i18n/setlang/", {"language": "en", "next": "/partner/"})
    partner_admin.refresh_from_db()
    assert partner_admin.language == "en" and partner_admin.language_chosen_at is not None
    client.cookies.clear()  # a new browser session, in French
    client.force_login(partner_admin)
    client.get("/partner/", HTTP_ACCEPT_LANGUAGE="fr")
    partner_admin.refresh_from_db()
    assert partner_admin.language == "en"


def test_a_pick_already_in_the_audit_log_counts_as_chosen(db, partner_admin):
    """The migration that added the field: an earlier pick is the account's choice."""
    from importlib import import_module

    from django.apps import apps

    from portal.services import audit_log

    audit_log(action="user.language_changed", actor=partner_admin, target=partner_admin)
    migration = import_module("portal.migrations.0004_user_language_chosen_at")
    migration.chosen_from_the_audit_log(apps, None)
    partner_admin.refresh_from_db()
    assert partner_admin.language_chosen_at is not None


def test_an_unknown_language_in_the_cookie_is_ignored(client, partner_admin):
    client.cookies["django_language"] = "xx"
    assert sign_in(client).status_code == 302
    partner_admin.refresh_from_db()
    assert partner_admin.language == "en"


def test_a_failed_sign_in_saves_nothing(client, partner_admin):
    client.post("/i18n/setlang/", {"language": "fr", "next": SIGN_IN})
    client.post(SIGN_IN, {"username": "partner@northwind.example", "password": "wrong"})
    partner_admin.refresh_from_db()
    assert partner_admin.language == "en"


def test_signing_in_keeps_the_browsers_language_when_none_was_chosen_here(client, partner_admin):
    # The account's "en" may be only the default: a French browser keeps French pages.
    sign_in(client, HTTP_ACCEPT_LANGUAGE="fr")
    second_step(client, partner_admin, HTTP_ACCEPT_LANGUAGE="fr")
    assert (
        "Présentation du partenaire"
        in client.get("/partner/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    )


def test_a_csv_export_uses_the_separator_of_the_readers_spreadsheet(client, partner_admin):
    """French spreadsheet programs split on semicolons (the comma is their decimal mark)."""
    client.force_login(partner_admin)
    english = client.get("/partner/renewals/export.csv", HTTP_ACCEPT_LANGUAGE="en")
    french = client.get("/partner/renewals/export.csv", HTTP_ACCEPT_LANGUAGE="fr")
    assert english.content.decode().splitlines()[0].count(",") == 7
    header = french.content.decode().splitlines()[0]
    assert header.count(";") == 7 and "Jours restants" in header
