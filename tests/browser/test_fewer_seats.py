"""A renewal that lowers the seats, in Chromium, in English and French (issue 16, 1): the
preview warns and names who loses a license, Apply without the confirmation changes nothing,
and with it the licenses beyond the new seats go before the seats do.

The French words are those of fr-new.po (worktree i16c): they need its merge into the catalogue."""

import re

import pytest
from playwright.sync_api import expect

from keys.codec import format_key
from tenants.models import License, TenantUser
from tests.browser.helpers import REDEEM_WORDS, sign_in
from tests.helpers import standard

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "renew": "Renew",
        "warning": "Fewer seats for Business Standard",
        "goes": "the subscription goes from 5 seats to 2, and 3 licenses are assigned",
        "loses": "When you apply these keys, today, 1 user loses their Business Standard license",
        "confirm": "I understand that 1 user loses their license.",
        "refused": "Confirm that 1 user loses their license before applying these keys.",
        "apply": "Apply product keys",
        "applied": "The product keys were applied to Contoso (contoso.cloudsuite.example).",
    },
    "fr": {
        "renew": "Renouveler",
        "warning": "Moins de licences pour Business Standard",
        "goes": "l’abonnement passe de 5 licences à 2, et 3 licences sont attribuées",
        "loses": "Quand vous appliquerez ces clés, aujourd’hui, 1 utilisateur perdra sa licence "
        "Business Standard",
        "confirm": "Je comprends\u00a0: 1 utilisateur perdra sa licence.",
        "refused": "Avant d’appliquer ces clés, cochez la case",
        "apply": "Appliquer les clés de produit",
        "applied": "Les clés de produit ont été appliquées à Contoso (contoso.cloudsuite.example).",
    },
}


@pytest.fixture
def customer(make_contoso):
    """Contoso, 5 seats, 3 licenses: Megan (admin), then Alex, then Lynne (the last assigned)."""
    tenant = make_contoso(seats=5)
    for first, last in (("Alex", "Wilber"), ("Lynne", "Robbins")):
        person = TenantUser.objects.create(
            tenant=tenant,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@contoso.example",
        )
        License.objects.create(subscription=standard(tenant), tenant_user=person)
    return tenant


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_renewal_that_lowers_the_seats_warns_and_asks_first(
    browser, live_server, customer, make_keys, language
):
    words, redeem = WORDS[language], REDEEM_WORDS[language]
    context = browser.new_context(locale=redeem["locale"])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    # Renew from the customer's page with one key of 2 seats: keys, review, what changes.
    page.goto(f"{live_server.url}/partner/customers/{customer.pk}/")
    page.get_by_test_id("customer-actions").get_by_role("link", name=words["renew"]).click()
    field = page.locator("input[data-key-input]").first
    expect(field).to_have_attribute("data-key-enhanced", "1")
    field.fill(format_key(make_keys(1, seats=2)[0]))
    page.get_by_role("button", name=redeem["next"]).click()
    page.get_by_role("button", name=redeem["done"]).click()
    # The warning: seats before and after, licenses assigned, who loses theirs and when.
    warning = page.get_by_test_id("fewer-seats")
    expect(warning.get_by_role("heading", name=words["warning"])).to_be_visible()
    expect(warning).to_contain_text(words["goes"])
    expect(warning).to_contain_text(words["loses"])
    expect(warning.get_by_test_id("licenses-lost")).to_have_text(
        "Lynne Robbins lynne@contoso.cloudsuite.example"
    )
    # To keep the seats: back to this redemption's key entry.
    expect(warning.get_by_test_id("add-keys")).to_have_attribute(
        "href", re.compile(r"^/partner/redeem/\d+/keys/$")
    )
    # Apply without ticking the box: refused, nothing changes.
    page.get_by_role("button", name=words["apply"]).click()
    expect(page.get_by_test_id("apply-problems")).to_contain_text(words["refused"])
    assert standard(customer).seats == 5
    assert License.objects.filter(subscription__tenant=customer).count() == 3
    # Ticked: Lynne's license goes, then the seats go down to 2.
    page.get_by_label(words["confirm"]).check()
    page.get_by_role("button", name=words["apply"]).click()
    expect(page.locator(".alert-success")).to_contain_text(words["applied"])
    assert standard(customer).seats == 2
    assert sorted(
        License.objects.filter(subscription__tenant=customer).values_list(
            "tenant_user__first_name", flat=True
        )
    ) == ["Alex", "Megan"]
    context.close()
