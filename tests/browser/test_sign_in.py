import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser


def test_partner_admin_signs_in_and_sees_the_partner_dashboard(page, live_server, partner_admin):
    sign_in(page, live_server, "partner@northwind.example")
    expect(page).to_have_url(f"{live_server.url}/partner/")
    expect(page.get_by_role("heading", name="Partner overview")).to_be_visible()
    expect(page.get_by_test_id("partner-identity")).to_contain_text("Northwind Partners")


def test_partner_admin_switches_to_french_and_sees_the_dashboard_in_french(
    page, live_server, partner_admin
):
    sign_in(page, live_server, "partner@northwind.example")
    expect(page).to_have_url(f"{live_server.url}/partner/")
    page.locator("#language-select").select_option("fr")
    page.locator("#language-submit").click()
    expect(page.get_by_role("heading", name="Présentation du partenaire")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    # The choice sticks for the next page.
    page.reload()
    expect(page.get_by_role("heading", name="Présentation du partenaire")).to_be_visible()
