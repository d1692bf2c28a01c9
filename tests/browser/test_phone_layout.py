"""The portal on a 375 px wide phone, in English and French.

A whole key is visible in its field, masked keys stay on one line, and the tables of customers
and subscriptions become stacked cards (real tables on a desktop). That no page scrolls sideways
is checked on every page by tests/browser/test_accessibility.py.
"""

import pytest
from playwright.sync_api import expect

from keys.codec import format_key
from tests.browser.helpers import sign_in
from tests.factories import SubscriptionFactory, TenantFactory

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-US", "fr": "fr-FR"}
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(params=["en", "fr"])
def language(request):
    return request.param


@pytest.fixture
def open_page(browser, language):
    contexts = []

    def open_(viewport):
        context = browser.new_context(locale=LOCALES[language], viewport=viewport)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


def hidden_overflow(locator) -> int:
    """How many pixels of the field's text are out of sight."""
    return locator.evaluate("e => e.scrollWidth - e.clientWidth")


def test_a_whole_key_is_visible_in_its_field(
    open_page, live_server, partner_admin, make_keys, language
):
    key = make_keys(1)[0]
    page = open_page(PHONE)
    sign_in(page, live_server, "partner@northwind.example")
    for path in ("/partner/keys/check/", "/partner/redeem/"):
        page.goto(f"{live_server.url}{path}")
        if path == "/partner/redeem/":
            page.locator("input[name=understood]").check()
            page.locator("main form button[type=submit]").click()
        field = page.locator("input[data-key-input]").first
        expect(field).to_have_attribute("data-key-enhanced", "1")
        assert hidden_overflow(field) == 0, f"{path}: the placeholder"
        field.fill(key.lower())
        expect(field).to_have_value(format_key(key))
        assert hidden_overflow(field) == 0, f"{path}: a key that looks right"
        field.fill(format_key(key)[:-1] + "O")  # marked wrong: the field shows its error
        expect(field).to_have_attribute("aria-invalid", "true")
        assert hidden_overflow(field) == 0, f"{path}: a key with a mistake"


def test_masked_keys_stay_on_one_line(
    open_page, live_server, partner_admin, northwind, make_keys, redeem, language
):
    redemption = redeem(partner_admin, northwind, *make_keys(3), confirm=False)
    page = open_page(PHONE)
    sign_in(page, live_server, "partner@northwind.example")
    for path in ("review", "keys", "cancel"):
        page.goto(f"{live_server.url}/partner/redeem/{redemption.pk}/{path}/")
        masked = page.locator("main .key-masked")
        expect(masked).to_have_count(3)
        for index in range(3):
            lines = masked.nth(index).evaluate("e => e.getClientRects().length")
            assert lines == 1, f"{path}: key {index + 1} is on {lines} lines"


def test_tables_are_stacked_cards_on_a_phone_and_tables_on_a_desktop(
    open_page, live_server, partner_admin, northwind, products, language
):
    tenant = TenantFactory(name="Contoso", domain_prefix="contoso", created_by_partner=northwind)
    SubscriptionFactory(tenant=tenant, product=products["BUS-PREM"], seats=25)
    for viewport in (PHONE, DESKTOP):
        page = open_page(viewport)
        sign_in(page, live_server, "partner@northwind.example")
        for path, table in (
            ("/partner/customers/", "customers"),
            (f"/partner/customers/{tenant.pk}/", "subscriptions"),
        ):
            page.goto(f"{live_server.url}{path}")
            table = page.get_by_test_id(table)
            cell = table.locator("tbody td").first
            header = table.locator("thead th").first
            shown = cell.evaluate(
                "e => ({display: getComputedStyle(e).display,"
                " label: getComputedStyle(e, '::before').content})"
            )
            if viewport is PHONE:
                # One card a row, each cell named by its column.
                assert shown["display"] == "block", path
                assert shown["label"] == f'"{header.text_content()}"', path
                expect(table.locator("thead")).to_be_hidden()
            else:
                assert shown["display"] == "table-cell", path
                assert shown["label"] == "none", path
                expect(page.get_by_role("columnheader").first).to_have_text(header.text_content())
