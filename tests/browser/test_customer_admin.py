"""The customer admin in Chromium, in English and French: add a user who activates and sees
their license, assign the last license from two tabs, set the partner of record (issue 9)."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tenants.models import TenantUser
from tests.browser.helpers import field, sign_in

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "locale": "en-US",
        "manage": "Manage users and licenses",
        "add": "Add a user",
        "save": "Save",
        "first": "First name",
        "last": "Last name",
        "username": "User name",
        "email": "Contact e-mail address",
        "language": "Preferred language",
        "assign": "Assign a license",
        "added": "Lynne Robbins was added.",
        "has": "Lynne Robbins has a license of Business Standard.",
        "assigned": "assigned",
        "activate": "Activate my account",
        "mine": "My licenses",
        "full": "All 2 seats of Business Standard are assigned.",
        "set_por": "Set partner of record",
        "partner_id": "Partner ID",
        "look_up": "Look up",
        "found": "Partner ID 1000002 is Fabrikam Resellers.",
        "unknown": "No partner has the ID 1234567.",
    },
    "fr": {
        "locale": "fr-FR",
        "manage": "Gérer les utilisateurs et les licences",
        "add": "Ajouter un utilisateur",
        "save": "Enregistrer",
        "first": "Prénom",
        "last": "Nom",
        "username": "Nom d’utilisateur",
        "email": "Adresse e-mail de contact",
        "language": "Langue préférée",
        "assign": "Attribuer une licence",
        "added": "Lynne Robbins a été ajouté.",
        "has": "Lynne Robbins a une licence Business Standard.",
        "assigned": "attribuée",
        "activate": "Activer mon compte",
        "mine": "Mes licences",
        "full": "Les 2 licences de Business Standard sont toutes attribuées.",  # glossary: seats
        "set_por": "Définir le partenaire de référence",
        "partner_id": "ID partenaire",
        "look_up": "Rechercher",
        "found": "L’ID partenaire 1000002 est celui de Fabrikam Resellers.",
        "unknown": "Aucun partenaire n’a l’ID 1234567.",
    },
}


@pytest.fixture
def customer(make_contoso):
    """Contoso with Business Standard, 2 seats; Megan (its admin, one license) can sign in."""
    return make_contoso(seats=2, megan_signs_in=True)


def as_megan(browser, live_server, language):
    context = browser.new_context(locale=WORDS[language]["locale"])
    page = context.new_page()
    sign_in(page, live_server, "megan@contoso.example")
    return context, page


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_admin_adds_a_user_who_activates_and_sees_their_license(
    browser, live_server, customer, language
):
    words = WORDS[language]
    context, page = as_megan(browser, live_server, language)
    page.get_by_role("link", name=words["manage"]).click()
    page.get_by_role("link", name=words["add"]).click()
    field(page, words["first"]).fill("Lynne")
    field(page, words["last"]).fill("Robbins")
    field(page, words["username"]).fill("lynne.robbins")
    field(page, words["email"]).fill("lynne@contoso.example")
    field(page, words["language"]).select_option(language)
    # Issue 16: the license is chosen on the add form, in the same save (one page, not two).
    page.get_by_test_id("license-choices").get_by_label("Business Standard").check()
    page.get_by_role("main").get_by_role("button", name=words["save"], exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(words["added"])
    expect(page.get_by_test_id("user-principal-name")).to_contain_text(
        "lynne.robbins@contoso.cloudsuite.example"
    )
    expect(page.get_by_test_id("license-BUS-STD")).to_contain_text(words["assigned"])
    context.close()

    # Lynne opens the activation link from her e-mail and sees her license, and only that.
    activation = next(m for m in mail.outbox if m.to == ["lynne@contoso.example"])
    link = re.search(r"http://\S+/customer/activate/\S+/", activation.body).group(0)
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    page.goto(f"{live_server.url}{link.split('127.0.0.1:8000', 1)[1]}")
    page.locator("input[name=new_password1]").fill("a-long-Passphrase-2026")
    page.locator("input[name=new_password2]").fill("a-long-Passphrase-2026")
    page.get_by_role("button", name=words["activate"]).click()
    expect(page).to_have_url(f"{live_server.url}/customer/licenses/")
    expect(page.get_by_role("heading", name=words["mine"])).to_be_visible()
    expect(page.get_by_test_id("own-licenses")).to_contain_text("Business Standard")
    expect(page.get_by_role("link", name=words["manage"])).to_have_count(0)
    context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_last_seat_assigned_from_two_tabs_goes_to_one_person(
    browser, live_server, customer, language
):
    words = WORDS[language]
    people = [
        TenantUser.objects.create(
            tenant=customer,
            first_name=name,
            last_name="Test",
            email=f"{name.lower()}@contoso.example",
        )
        for name in ("Lynne", "Alex")
    ]
    context, first = as_megan(browser, live_server, language)
    second = context.new_page()
    for page, person in zip((first, second), people, strict=True):
        page.goto(f"{live_server.url}/customer/users/{person.pk}/")
    first.get_by_role("button", name=words["assign"]).click()
    expect(first.get_by_role("alert")).to_be_visible()
    second.get_by_role("button", name=words["assign"]).click()
    expect(second.get_by_role("alert")).to_contain_text(words["full"])
    assert [p.licenses.count() for p in people] == [1, 0]
    context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_admin_sets_the_partner_of_record(browser, live_server, customer, fabrikam, language):
    words = WORDS[language]
    context, page = as_megan(browser, live_server, language)
    page.get_by_test_id("subscriptions").get_by_role("link", name=words["set_por"]).click()
    field(page, words["partner_id"]).fill("1234567")
    page.get_by_role("button", name=words["look_up"]).click()
    expect(page.locator(".invalid-feedback")).to_contain_text(words["unknown"])
    field(page, words["partner_id"]).fill("1000002")
    page.get_by_role("button", name=words["look_up"]).click()
    expect(page.get_by_test_id("found-partner")).to_contain_text(words["found"])
    page.get_by_role("button", name=words["set_por"]).click()
    expect(page).to_have_url(f"{live_server.url}/customer/")
    expect(page.get_by_test_id("subscription-BUS-STD")).to_contain_text("Fabrikam Resellers")
    context.close()
