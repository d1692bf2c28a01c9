"""The language picked in the header is the one of the partner's e-mails; the customer admin's
e-mail is in the language the partner chose for the admin. In Chromium, in English and French."""

from email.header import decode_header, make_header

import pytest
from django.core import mail
from playwright.sync_api import expect

from portal.models import User
from tests.browser.helpers import REDEEM_WORDS, field, sign_in

pytestmark = pytest.mark.browser

OTHER = {"en": "fr", "fr": "en"}
# What each reader gets: the partner's confirmation and the customer admin's activation.
EMAILS = {
    "en": {
        "created": "Account created: Contoso (contoso.cloudsuite.example)",
        "activate": "Activate your administrator account for Contoso",
        "sender": "Partner Key Portal <no-reply@portal.example>",
    },
    "fr": {
        "created": "Compte créé\u00a0: Contoso (contoso.cloudsuite.example)",
        "activate": "Activez votre compte d’administrateur pour Contoso",
        "sender": "Portail des clés partenaires <no-reply@portal.example>",
    },
}


def sender(message) -> str:
    return str(make_header(decode_header(message.message()["From"])))


@pytest.mark.parametrize(
    ("language", "picked"),
    [("fr", "after signing in"), ("en", "after signing in"), ("fr", "before signing in")],
)
def test_a_partner_who_picks_a_language_in_the_header_gets_e_mails_in_it(
    browser, live_server, partner_admin, northwind, make_keys, redeem, countries, language, picked
):
    # The account and the browser both say the other language: only the header's choice counts.
    User.objects.filter(pk=partner_admin.pk).update(language=OTHER[language])
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    context = browser.new_context(locale=REDEEM_WORDS[OTHER[language]]["locale"])
    page = context.new_page()
    if picked == "before signing in":
        page.goto(f"{live_server.url}/accounts/login/")
        page.locator("#language-select").select_option(language)
        page.locator("#language-submit").click()  # the language changes on an explicit action
        expect(page.locator("html")).to_have_attribute("lang", language)
        sign_in(page, live_server, "partner@northwind.example")
    else:
        sign_in(page, live_server, "partner@northwind.example")
        page.locator("#language-select").select_option(language)
        page.locator("#language-submit").click()
    expect(page.locator("html")).to_have_attribute("lang", language)

    # Step 2 of a redemption whose keys are confirmed: the customer's account, whose
    # administrator reads the other language.
    words = REDEEM_WORDS[language]
    page.goto(f"{live_server.url}/partner/redeem/{redemption.pk}/customer/")
    field(page, words["country"]).select_option("FR")
    field(page, words["org"]).fill("Contoso")
    field(page, words["first"]).fill("Megan")
    field(page, words["last"]).fill("Bowen")
    field(page, words["email"]).fill("megan@contoso.example")
    field(page, words["phone"]).fill("+33 1 23 45 67 89")
    field(page, words["language"]).select_option(OTHER[language])
    field(page, words["prefix"]).fill("contoso")
    page.get_by_role("button", name=words["create"]).click()
    expect(page.get_by_test_id("created-heading")).to_have_text(words["ready"])
    context.close()

    # Tests deliver the outbox as soon as the change commits.
    sent = {message.to[0]: message for message in mail.outbox}
    confirmation = sent["partner@northwind.example"]
    assert confirmation.subject == EMAILS[language]["created"]
    assert sender(confirmation) == EMAILS[language]["sender"]
    activation = sent["megan@contoso.example"]
    assert activation.subject == EMAILS[OTHER[language]]["activate"]
    assert sender(activation) == EMAILS[OTHER[language]]["sender"]
    partner_admin.refresh_from_db()
    assert partner_admin.language == language
