"""The seed's two-step flow in Chromium, as a partner and then as the customer admin."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from keys.codec import format_key
from tests.browser.helpers import REDEEM_WORDS, enrol_with_app, field, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_partner_goes_from_key_cards_to_a_working_customer(
    browser, live_server, partner_admin, make_keys, countries, language
):
    words = REDEEM_WORDS[language]
    standard = make_keys(2, sku="BUS-STD", seats=3)
    premium = make_keys(1, sku="BUS-PREM", seats=5)

    # Step 1: read the instructions, acknowledge, Start, type the keys, review, done.
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    page.get_by_role("main").get_by_role("link", name=words["redeem"]).click()
    page.get_by_label(words["understand"]).check()
    page.get_by_role("button", name=words["start"]).click()
    keys = page.locator("input[data-key-input]")
    expect(keys.nth(0)).to_have_attribute("data-key-enhanced", "1")  # the script is ready
    keys.nth(0).press_sequentially(standard[0].lower())
    expect(keys.nth(0)).to_have_value(format_key(standard[0]))
    page.get_by_role("button", name=words["add"]).click()
    keys.nth(1).fill(format_key(standard[1]))
    page.get_by_role("button", name=words["add"]).click()
    keys.nth(2).fill(" ".join(format_key(premium[0]).split("-")))
    page.get_by_role("button", name=words["next"]).click()
    expect(page.get_by_role("heading", name=words["review"])).to_be_visible()
    review = page.get_by_test_id("review-table")
    expect(review.locator("tbody tr")).to_have_count(3)
    expect(review).to_contain_text("Business Premium")
    page.get_by_role("button", name=words["done"]).click()
    expect(page.get_by_role("heading", name=words["getting_started"])).to_be_visible()

    # The browser closes. Nothing is lost: Resume on the dashboard opens "Getting started",
    # the furthest step reached.
    context.close()
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    drafts = page.get_by_test_id("drafts")
    expect(drafts.get_by_test_id("draft")).to_have_count(1)
    expect(drafts).to_contain_text(standard[0][-5:])  # its keys, masked
    expect(drafts).to_contain_text("Business Premium")
    drafts.get_by_role("link", name=words["resume"]).click()
    expect(page.get_by_role("heading", name=words["getting_started"])).to_be_visible()
    page.get_by_role("link", name=words["step2"]).click()

    # Step 2, begun: what is typed is kept on the server as the partner goes.
    field(page, words["country"]).select_option("FR")
    field(page, words["org"]).fill("Contoso")
    with page.expect_response(lambda r: r.url.endswith("/customer/keep/") and r.ok):
        field(page, words["first"]).fill("Megan")
        field(page, words["first"]).press("Tab")

    # The browser closes again: Resume opens step 2 with what was typed.
    context.close()
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    page.get_by_test_id("drafts").get_by_role("link", name=words["resume"]).click()
    expect(field(page, words["org"])).to_have_value("Contoso")
    expect(field(page, words["first"])).to_have_value("Megan")
    expect(field(page, words["country"])).to_have_value("FR")

    # Step 2: the rest of the customer's account.
    field(page, words["last"]).fill("Bowen")
    field(page, words["email"]).fill("megan@contoso.example")
    field(page, words["phone"]).fill("+33 1 23 45 67 89")
    field(page, words["language"]).select_option(language)
    field(page, words["prefix"]).fill("contoso")
    expect(page.get_by_test_id("domain-check")).to_have_text(words["available"], timeout=20_000)
    page.get_by_role("button", name=words["create"]).click()
    expect(page.get_by_test_id("created-heading")).to_have_text(words["ready"])
    expect(page.get_by_test_id("created-domain")).to_contain_text("contoso.cloudsuite.example")
    context.close()

    # The customer admin opens the activation link from the e-mail and sees the subscription.
    activation = next(m for m in mail.outbox if m.to == ["megan@contoso.example"])
    link = re.search(r"http://\S+/customer/activate/\S+/", activation.body).group(0)
    path = link.split("127.0.0.1:8000", 1)[1]
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    page.goto(f"{live_server.url}{path}")
    page.locator("input[name=new_password1]").fill("a-long-Passphrase-2026")
    page.locator("input[name=new_password2]").fill("a-long-Passphrase-2026")
    page.get_by_role("button", name=words["activate"]).click()
    # A customer admin must have a second factor: she adds one before anything else.
    expect(page).to_have_url(re.compile(r"/accounts/security/\?next="))
    enrol_with_app(page)
    page.locator(".navbar-brand").click()  # then home: her organization's page
    expect(page).to_have_url(f"{live_server.url}/customer/")
    subscriptions = page.get_by_test_id("subscriptions")
    expect(subscriptions).to_contain_text("Business Standard")
    expect(subscriptions).to_contain_text("Business Premium")
    expect(subscriptions).to_contain_text(words["used"])
    expect(page.get_by_test_id("tenant-domain")).to_contain_text("contoso.cloudsuite.example")
    context.close()


def test_a_pasted_list_is_split_into_separate_inputs(page, live_server, partner_admin, make_keys):
    keys = make_keys(3)
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/redeem/")
    page.get_by_label(REDEEM_WORDS["en"]["understand"]).check()
    page.get_by_role("button", name="Start").click()
    pasted = f"{keys[0]}\n{format_key(keys[1]).lower()}, {format_key(keys[2])}"
    first = page.locator("input[data-key-input]").first
    # A paste before key_input.js has enhanced the field would land as one plain value.
    expect(first).to_have_attribute("data-key-enhanced", "1")
    first.evaluate(
        """(input, text) => {
            const data = new DataTransfer();
            data.setData("text/plain", text);
            input.focus();
            const event = {clipboardData: data, bubbles: true, cancelable: true};
            input.dispatchEvent(new ClipboardEvent("paste", event));
        }""",
        pasted,
    )
    inputs = page.locator("input[data-key-input]")
    expect(inputs).to_have_count(3)
    for index, key in enumerate(keys):
        expect(inputs.nth(index)).to_have_value(format_key(key))
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("review-table").locator("tbody tr")).to_have_count(3)


def test_a_bad_key_is_reported_on_its_line(page, live_server, partner_admin, make_keys):
    good = make_keys(1)[0]
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/redeem/")
    page.get_by_label(REDEEM_WORDS["en"]["understand"]).check()
    page.get_by_role("button", name="Start").click()
    page.locator("input[data-key-input]").first.fill(good)
    page.get_by_role("button", name="Add another product key").click()
    page.locator("input[data-key-input]").nth(1).fill(format_key(good))
    page.get_by_role("button", name="Next").click()
    errors = page.get_by_test_id("key-error")
    expect(errors).to_have_count(1)
    expect(errors).to_have_text("You have already entered this product key.")
    expect(page.locator("input[data-key-input]").nth(0)).to_have_value(format_key(good))
