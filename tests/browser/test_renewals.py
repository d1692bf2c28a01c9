"""Renewals in Chromium, in English and French: the partner's renewal list and its filter, a
subscription's timeline, and the customer admin's switch to direct billing (issue 11)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.models import User
from renewals.models import NoticeOffset
from tenants.models import Subscription, TenantUser
from tests.browser.helpers import sign_in
from tests.factories import ProductFactory, SubscriptionFactory, TenantFactory

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "locale": "en-US",
        "renewals": "Renewals",
        "within_7": "Ends within 7 days",
        "show": "Show",
        "timeline": "Timeline",
        "today": "Today",
        "renew": "Renew with a key",
        "switch": "Switch to direct billing",
        "lost": "Switching today ends it today and gives up 2 prepaid days.",
        "billed": "Billed directly: renews on its own each term; nothing to do.",
        "days_left": "2 days left",
        "done": "is now billed directly",
        "end": "Last day of the subscription",
    },
    "fr": {
        "locale": "fr-FR",
        "renewals": "Renouvellements",
        "within_7": "Se termine dans les 7 jours",
        "show": "Afficher",
        "timeline": "Chronologie",
        "today": "Aujourd’hui",
        "renew": "Renouveler avec une clé",
        "switch": "Passer à la facturation directe",
        "lost": "Passer aujourd’hui le termine aujourd’hui et abandonne 2 jours prépayés.",
        "billed": "Facturé directement\u00a0: se renouvelle de lui-même à chaque période\u202f;",
        "days_left": "2 jours restants",
        "done": "est désormais facturé directement",
        "end": "Dernier jour de l’abonnement",
    },
}


@pytest.fixture
def customers(northwind, partner_admin):
    for days in (60, 30, 7, 1):
        NoticeOffset.objects.get_or_create(days_before=days)
    today = timezone.localdate()
    rows = {}
    for prefix, name, days in (("adatum", "Adatum", 40), ("contoso", "Contoso", 2)):
        tenant = TenantFactory(name=name, domain_prefix=prefix, created_by_partner=northwind)
        user = User.objects.create_user(f"admin@{prefix}.example", "portal-demo")
        TenantUser.objects.create(
            tenant=tenant, user=user, first_name="A", last_name="Admin", email=user.email,
            is_admin=True,
        )  # fmt: skip
        rows[prefix] = SubscriptionFactory(
            tenant=tenant,
            product=ProductFactory(),
            start_date=today - timedelta(days=300),
            end_date=today + timedelta(days=days),
            partner_of_record=northwind,
        )
    return rows


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_partner_finds_what_ends_soon_and_its_timeline(browser, live_server, customers, language):
    words = WORDS[language]
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    page.get_by_role("link", name=words["renewals"], exact=True).first.click()
    expect(page.locator("h1")).to_have_text(words["renewals"])
    rows = page.locator("[data-testid=renewals] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Contoso")  # soonest end first
    page.locator("#renewal-window").select_option(label=words["within_7"])
    page.get_by_role("button", name=words["show"]).click()
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name=words["renew"])).to_have_attribute(
        "href", f"/partner/customers/{customers['contoso'].tenant_id}/renew/"
    )
    rows.first.get_by_role("link", name=words["timeline"]).click()
    timeline = page.locator("ol.timeline")
    expect(timeline).to_be_visible()
    # An ordered list of dated events; today marked for screen readers.
    expect(timeline.locator("li[aria-current=date]")).to_contain_text(words["today"])
    expect(timeline.locator("[data-testid=timeline-end]")).to_contain_text(words["end"])
    assert timeline.locator("li time[datetime]").count() == timeline.locator("li").count()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_customer_admin_switches_to_direct_billing(browser, live_server, customers, language):
    words = WORDS[language]
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    sign_in(page, live_server, "admin@contoso.example")
    # The home's subscriptions read as stacked cards on a phone: every column on screen.
    page.set_viewport_size({"width": 375, "height": 800})
    table = page.locator("[data-testid=subscriptions]")
    expect(table).to_be_visible()
    assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    cells = table.locator("td[data-label]")
    for index in range(cells.count()):
        box = cells.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 376
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("link", name="Business Standard").click()
    expect(page.locator("ol.timeline")).to_be_visible()
    expect(page.locator("[data-testid=days-left]")).to_contain_text(words["days_left"])
    page.get_by_role("link", name=words["switch"]).click()
    expect(page.locator("[data-testid=days-lost]")).to_contain_text(words["lost"])
    page.get_by_role("button", name=words["switch"]).click()
    expect(page.locator(".alert-success")).to_contain_text(words["done"])
    # The new subscription renews on its own: nothing to do, no timeline, no second switch.
    expect(page.locator("[data-testid=billing]")).to_contain_text(words["billed"])
    expect(page.locator("ol.timeline")).to_have_count(0)
    expect(page.get_by_role("link", name=words["switch"])).to_have_count(0)
    old = Subscription.objects.get(pk=customers["contoso"].pk)
    assert old.ended_by_direct_billing
    assert (
        Subscription.objects.filter(tenant=old.tenant, ended_by_direct_billing=False).count() == 1
    )
    context.close()


@pytest.mark.parametrize("width", [1200, 1280, 1360])
def test_the_french_header_fits_beside_the_renewals_page(browser, live_server, customers, width):
    """The French partner header (with "Renouvellements") never makes the page scroll sideways
    at the widths where the navigation is expanded."""
    context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": 800})
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/renewals/")
    expect(page.locator("h1")).to_have_text("Renouvellements")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    nav = page.locator("nav.navbar")
    assert nav.evaluate("n => n.scrollWidth <= n.clientWidth")
    context.close()
