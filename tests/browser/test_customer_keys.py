"""Keys for an existing customer in Chromium: add licenses, renew a lapsed subscription, and a
key that would go above the maximum, each with the preview that names the customer."""

import datetime

import pytest
from playwright.sync_api import expect

from keys.codec import format_key
from tenants.models import Subscription
from tests.browser.helpers import REDEEM_WORDS, sign_in

pytestmark = pytest.mark.browser

MORE = {
    "en": {
        "add_licenses": "Add licenses",
        "renew": "Renew",
        "changes": "Check what changes",
        "apply": "Apply product keys",
        "applied": "The product keys were applied to Contoso (contoso.cloudsuite.example).",
        "eight": "8 seats",
        "again": "The subscription is active again from today.",
        "too_many": "Business Standard allows at most 6 seats in one subscription",
    },
    "fr": {
        "add_licenses": "Ajouter des licences",
        "renew": "Renouveler",
        "changes": "Vérifiez ce qui change",
        "apply": "Appliquer les clés de produit",
        "applied": "Les clés de produit ont été appliquées à Contoso (contoso.cloudsuite.example).",
        "eight": "8 licences",
        "again": "L’abonnement est de nouveau actif à partir d’aujourd’hui.",
        "too_many": "Business Standard permet au plus 6 licences par abonnement",
    },
}


@pytest.fixture
def customer(make_contoso):
    """Contoso from one Business Standard key of 5 seats."""
    return make_contoso(seats=5)


def keys_for(page, live_server, tenant, language, action, key):
    """From the customer's page to the preview (keys → review → what changes): the customer is
    named on every page."""
    words, more = REDEEM_WORDS[language], MORE[language]
    page.goto(f"{live_server.url}/partner/customers/{tenant.pk}/")
    page.get_by_test_id("customer-actions").get_by_role("link", name=more[action]).click()
    expect(page.get_by_test_id("target-tenant")).to_contain_text("contoso.cloudsuite.example")
    field = page.locator("input[data-key-input]").first
    expect(field).to_have_attribute("data-key-enhanced", "1")
    field.fill(format_key(key))
    page.get_by_role("button", name=words["next"]).click()
    expect(page.get_by_test_id("target-tenant")).to_contain_text("contoso.cloudsuite.example")
    # "Done adding product keys" opens what changes: no "Getting started" page between.
    page.get_by_role("button", name=words["done"]).click()
    expect(page.get_by_role("heading", name=more["changes"], level=1)).to_be_visible()
    expect(page.get_by_test_id("target-tenant")).to_contain_text("contoso.cloudsuite.example")
    return page.get_by_test_id("apply-preview")


def in_language(browser, live_server, language):
    context = browser.new_context(locale=REDEEM_WORDS[language]["locale"])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")  # the browser's language: fr or en
    expect(page.locator("html")).to_have_attribute("lang", language)
    return context, page


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_partner_adds_licenses_after_seeing_what_changes(
    browser, live_server, customer, make_keys, language
):
    context, page = in_language(browser, live_server, language)
    preview = keys_for(
        page, live_server, customer, language, "add_licenses", make_keys(1, seats=3)[0]
    )
    expect(preview).to_contain_text("Business Standard")
    expect(preview).to_contain_text(MORE[language]["eight"])
    page.get_by_role("button", name=MORE[language]["apply"]).click()
    expect(page.locator(".alert-success")).to_contain_text(MORE[language]["applied"])
    assert Subscription.objects.get(tenant=customer).seats == 8
    context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_partner_renews_a_lapsed_subscription(
    browser, live_server, customer, make_keys, language
):
    # Lapsed 40 days ago: disabled, not yet deleted (day 120), so renewing reactivates it.
    today = datetime.date.today()
    Subscription.objects.filter(tenant=customer).update(
        start_date=today - datetime.timedelta(days=400),
        end_date=today - datetime.timedelta(days=40),
    )
    context, page = in_language(browser, live_server, language)
    preview = keys_for(page, live_server, customer, language, "renew", make_keys(1, seats=5)[0])
    expect(preview).to_contain_text(MORE[language]["again"])
    page.get_by_role("button", name=MORE[language]["apply"]).click()
    expect(page.locator(".alert-success")).to_contain_text(MORE[language]["applied"])
    subscription = Subscription.objects.get(tenant=customer)
    assert subscription.end_date > datetime.date.today()
    assert subscription.state == "active"
    context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_key_above_the_maximum_is_refused_with_its_maximum(
    browser, live_server, customer, make_keys, products, language
):
    products["BUS-STD"].max_seats = 6
    products["BUS-STD"].save()
    context, page = in_language(browser, live_server, language)
    preview = keys_for(
        page, live_server, customer, language, "add_licenses", make_keys(1, seats=3)[0]
    )
    expect(preview.get_by_test_id("row-problem")).to_contain_text(MORE[language]["too_many"])
    expect(page.get_by_role("button", name=MORE[language]["apply"])).to_have_count(0)
    assert Subscription.objects.get(tenant=customer).seats == 5
    context.close()
