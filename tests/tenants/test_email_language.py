"""Every e-mail is in its reader's language: the one saved on the reader's account, whoever
caused the e-mail and whatever language their page was in."""

import datetime
from email.header import decode_header, make_header

import pytest
import time_machine
from django.core import mail

from portal.models import User
from portal.outbox import outbox_deliver
from tenants.services import tenant_create

# Subscriptions start on 27 November 2026 and end twelve months later, the day before.
CREATED = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def create(partner_admin, northwind, make_keys, redeem, tenant_details, countries):
    """create(partner_language, admin_language) -> {recipient: sent message}."""

    def run(partner_language, admin_language):
        User.objects.filter(pk=partner_admin.pk).update(language=partner_language)
        partner_admin.refresh_from_db()
        redemption = redeem(partner_admin, northwind, *make_keys(1, seats=1))
        with time_machine.travel(CREATED, tick=False):
            tenant_create(
                redemption=redemption,
                user=partner_admin,
                details=tenant_details(language=admin_language),
            )
        outbox_deliver()
        return {message.to[0]: message for message in mail.outbox}

    return run


def sender(message) -> str:
    """The From header as a mail program shows it (decoded)."""
    return str(make_header(decode_header(message.message()["From"])))


def test_it_writes_the_partners_confirmation_in_french_for_a_partner_working_in_french(create):
    message = create("fr", "fr")["partner@northwind.example"]
    # French typography: a no-break space before the colon, kept in the one-line subject.
    assert message.subject == "Compte créé\u00a0: Contoso (contoso.cloudsuite.example)"
    assert "Business Standard\u00a0: 1 licence, jusqu’au 26 novembre 2027" in message.body
    html = message.alternatives[0].content
    assert "26 novembre 2027" in html and '<html lang="fr">' in html
    assert sender(message) == "Portail des clés partenaires <no-reply@portal.example>"
    assert message.extra_headers["Content-Language"] == "fr"


def test_it_writes_the_same_email_in_english_for_an_english_reader(create):
    message = create("en", "en")["partner@northwind.example"]
    assert message.subject == "Account created: Contoso (contoso.cloudsuite.example)"
    assert "Business Standard: 1 seat, until Nov. 26, 2027" in message.body
    assert '<html lang="en">' in message.alternatives[0].content
    assert sender(message) == "Partner Key Portal <no-reply@portal.example>"
    assert message.extra_headers["Content-Language"] == "en"


@pytest.mark.parametrize(("partner_language", "admin_language"), [("fr", "en"), ("en", "fr")])
def test_the_customer_admins_email_follows_the_admins_language_not_the_partners(
    create, partner_language, admin_language
):
    sent = create(partner_language, admin_language)
    words = {"en": ("Activate your administrator account", "Partner Key Portal")}
    words["fr"] = ("Activez votre compte d’administrateur", "Portail des clés partenaires")
    activation = sent["megan@contoso.example"]
    assert activation.subject.startswith(words[admin_language][0])
    assert sender(activation).startswith(words[admin_language][1])
    assert activation.extra_headers["Content-Language"] == admin_language
    confirmation = sent["partner@northwind.example"]
    assert sender(confirmation).startswith(words[partner_language][1])
    assert confirmation.extra_headers["Content-Language"] == partner_language


def test_the_password_reset_follows_the_account_not_the_page(client, partner_admin):
    User.objects.filter(pk=partner_admin.pk).update(language="fr")
    client.post(
        "/accounts/password_reset/",
        {"email": "partner@northwind.example"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    outbox_deliver()
    (message,) = mail.outbox
    assert message.subject.startswith("Choisissez un nouveau mot de passe")
    assert sender(message) == "Portail des clés partenaires <no-reply@portal.example>"


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("no-reply@portal.example", "Portail des clés partenaires <no-reply@portal.example>"),
        ("Contoso Cloud <mail@contoso.example>", "Contoso Cloud <mail@contoso.example>"),
    ],
)
def test_it_keeps_the_configured_address_and_a_name_ops_chose(
    client, partner_admin, settings, configured, expected
):
    settings.DEFAULT_FROM_EMAIL = configured
    User.objects.filter(pk=partner_admin.pk).update(language="fr")
    client.post("/accounts/password_reset/", {"email": "partner@northwind.example"})
    outbox_deliver()
    assert sender(mail.outbox[0]) == expected
