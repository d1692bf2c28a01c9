"""The language picked in the header is saved on the person's account, signed in or not yet."""

from portal.models import AuditEvent

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
    assert "Présentation du partenaire" in client.get("/partner/").content.decode()


def test_a_browsers_own_language_leaves_the_account_as_it_is(client, partner_admin):
    sign_in(client, HTTP_ACCEPT_LANGUAGE="fr")
    partner_admin.refresh_from_db()
    assert partner_admin.language == "en"
    assert not AuditEvent.objects.filter(action="user.language_changed").exists()


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
    assert (
        "Présentation du partenaire"
        in client.get("/partner/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    )
