"""Delegated administration in Chromium, in English and French: the partner sends an offer, the
customer's admin accepts it from the e-mail's link, the partner acts for the customer (the
activity log shows it), then the customer removes the roles and the partner's access ends; and
an offer the customer declines."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tenants.models import ActivityLog, DelegationOffer, DelegationRelationship, TenantUser
from tests.browser.helpers import field, sign_in, sign_in_here

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "locale": "en-US",
        "partner": "Partner",
        "overview": "Partner overview",
        "send": "Send delegated admin offers",
        "choose": "Choose",
        "user_admin": "User administrator",
        "send_offer": "Send the offer",
        "sent": "The offer was sent to the administrators of Contoso.",
        "accept": "Accept",
        "grant": "Grant the roles",
        "consent": "Grant these roles to Northwind Partners?",
        "decline": "Decline",
        "accepted": "You accepted the offer of Northwind Partners.",
        "declined": "You declined the offer of Northwind Partners.",
        "users": "Users and licenses",
        "first": "First name",
        "save": "Save changes",
        "saved": "The changes were saved.",
        "remove_roles": "Remove roles",
        "ended": "The relationship was ended.",
        "activity": "Activity log",
        "changed": "Customer user changed",
        "relationships": "Partner relationships",
    },
    "fr": {
        "locale": "fr-FR",
        "partner": "Partenaire",
        "overview": "Présentation du partenaire",
        "send": "Envoyer des offres d’administration déléguée",
        "choose": "Choisir",
        "user_admin": "Administrateur des utilisateurs",
        "send_offer": "Envoyer l’offre",
        "sent": "L’offre a été envoyée aux administrateurs de Contoso.",
        "accept": "Accepter",
        "grant": "Accorder les rôles",
        "consent": "Accorder ces rôles à Northwind Partners\u202f?",
        "decline": "Refuser",
        "accepted": "Vous avez accepté l’offre de Northwind Partners.",
        "declined": "Vous avez refusé l’offre de Northwind Partners.",
        "users": "Utilisateurs et licences",
        "first": "Prénom",
        "save": "Enregistrer les modifications",
        "saved": "Les modifications ont été enregistrées.",
        "remove_roles": "Retirer les rôles",
        "ended": "La relation a pris fin.",
        "activity": "Journal d’activité",
        "changed": "Utilisateur client modifié",
        "relationships": "Relations avec les partenaires",
    },
}


@pytest.fixture
def customer(make_contoso):
    """Contoso (its admin Megan can sign in) and Alex, a user who is not an admin."""
    tenant = make_contoso(seats=2, megan_signs_in=True)
    TenantUser.objects.create(
        tenant=tenant, first_name="Alex", last_name="Wilber", email="alex@contoso.example",
        username="alex",
    )  # fmt: skip
    return tenant


def send_offer(browser, live_server, words):
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/customers/")
    # The seed's way: the header's Partner menu, Partner overview, Send delegated admin offers.
    page.get_by_role("button", name=words["partner"], exact=True).click()
    page.get_by_role("link", name=words["overview"]).click()
    expect(page.get_by_role("heading", name=words["overview"])).to_be_visible()
    page.get_by_role("link", name=words["send"]).first.click()
    page.get_by_role("button", name=words["choose"]).click()
    page.get_by_label(re.compile(words["user_admin"])).check()
    page.get_by_role("button", name=words["send_offer"]).click()
    expect(page.get_by_role("alert")).to_contain_text(words["sent"])
    return context, page


def open_the_link(browser, live_server, words):
    """Megan opens the link in her e-mail, signs in (both steps), and lands on the offer."""
    message = next(
        m for m in mail.outbox if m.to == ["megan@contoso.example"] and "/offer/" in m.body
    )
    link = re.search(r"http://\S+/customer/offer/\S+/", message.body).group(0)
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    page.goto(f"{live_server.url}{link.split('127.0.0.1:8000', 1)[1]}")
    sign_in_here(page, "megan@contoso.example")  # the password, then her app's code
    expect(page.get_by_test_id("offer")).to_contain_text("1000001")
    expect(page.get_by_test_id("offer-roles")).to_contain_text(words["user_admin"])
    return context, page


@pytest.mark.parametrize("language", ["en", "fr"])
def test_send_accept_act_and_terminate(browser, live_server, customer, language):
    words = WORDS[language]
    partner, partner_page = send_offer(browser, live_server, words)
    customer_context, page = open_the_link(browser, live_server, words)
    page.get_by_role("button", name=words["accept"]).click()
    # The consent step: who, each role with what it allows, until when; nothing granted yet.
    expect(page.get_by_role("heading", level=1)).to_have_text(words["consent"])
    expect(page.get_by_test_id("consent-roles")).to_contain_text(words["user_admin"])
    expect(page.get_by_test_id("consent-who")).to_contain_text("1000001")
    assert not DelegationRelationship.objects.exists()
    page.get_by_role("button", name=words["grant"]).click()
    expect(page.get_by_role("alert")).to_contain_text(words["accepted"])

    # The partner acts for Contoso: renames Alex.
    alex = customer.users.get(username="alex")
    partner_page.goto(f"{live_server.url}/partner/customers/{customer.pk}/")
    partner_page.get_by_test_id("customer-actions").get_by_role("link", name=words["users"]).click()
    partner_page.get_by_role("link", name="Alex Wilber").click()
    field(partner_page, words["first"]).fill("Alexandra")
    partner_page.get_by_role("button", name=words["save"]).click()
    expect(partner_page.get_by_role("alert")).to_contain_text(words["saved"])
    assert ActivityLog.objects.get().action == "tenant_user.changed"

    # The customer sees it in the activity log, then removes the roles.
    page.goto(f"{live_server.url}/customer/activity/")
    expect(page.get_by_test_id("activity")).to_contain_text(words["changed"])
    expect(page.get_by_test_id("activity")).to_contain_text("partner@northwind.example")
    page.get_by_role("navigation").first.get_by_role("link", name=words["relationships"]).click()
    page.get_by_role("link", name=words["remove_roles"]).click()
    page.get_by_role("main").get_by_role("button", name=words["remove_roles"]).click()
    expect(page.get_by_role("alert")).to_contain_text(words["ended"])

    # From the partner's next request on, the roles are gone: the user's page is read only.
    response = partner_page.goto(
        f"{live_server.url}/partner/customers/{customer.pk}/users/{alex.pk}/"
    )
    assert response.status == 200  # as the customer's creator: read only
    expect(partner_page.get_by_role("button", name=words["save"])).to_have_count(0)
    partner.close()
    customer_context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_send_and_decline(browser, live_server, customer, language):
    words = WORDS[language]
    partner, _partner_page = send_offer(browser, live_server, words)
    customer_context, page = open_the_link(browser, live_server, words)
    page.get_by_role("button", name=words["decline"]).click()
    assert DelegationOffer.objects.get().state == "pending"  # asked to confirm first
    page.get_by_test_id("decline-confirm").get_by_role("button", name=words["decline"]).click()
    expect(page.get_by_role("alert")).to_contain_text(words["declined"])
    assert DelegationOffer.objects.get().state == "declined"
    partner.close()
    customer_context.close()
