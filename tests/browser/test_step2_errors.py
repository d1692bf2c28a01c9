"""Step 2's errors go away as each field is put right, in the field and in the summary (issue
16); the domain hint's example is a prefix nobody has. In Chromium, in English and French."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import REDEEM_WORDS, field, sign_in
from tests.factories import TenantFactory

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["en", "fr"])
def test_errors_clear_as_the_fields_become_valid(
    browser, live_server, partner_admin, northwind, make_keys, redeem, countries, language
):
    words = REDEEM_WORDS[language]
    TenantFactory(name="Taken", domain_prefix="your-company", created_by_partner=northwind)
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/redeem/{redemption.pk}/customer/")
    # The hint's example is free: "your-company" is taken, so it shows the next one.
    prefix = field(page, words["prefix"])
    expect(page.locator("#id_domain_prefix_helptext")).to_contain_text("your-organization")
    field(page, words["email"]).fill("megan@")
    prefix.fill("contoso")
    page.get_by_role("button", name=words["create"]).click()

    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_visible()
    count = summary.locator("li").count()
    assert count >= 5  # country, name, first and last name, e-mail at least
    expect(page.locator("form[data-step2-errors-ready]")).to_have_count(1)
    email = field(page, words["email"])
    email.fill("megan@contoso.example")
    expect(email).not_to_have_class(re.compile(r"\bis-invalid\b"))
    expect(summary.locator("li")).to_have_count(count - 1)
    expect(summary.locator("a[href='#id_admin_email']")).to_have_count(0)
    field(page, words["org"]).fill("Contoso")
    expect(summary.locator("li")).to_have_count(count - 2)
    # A field still wrong keeps its error.
    expect(field(page, words["first"])).to_have_class(re.compile(r"\bis-invalid\b"))
    context.close()
