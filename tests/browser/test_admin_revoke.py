"""Ops revoke keys in the Django admin, in Chromium: "Go" shows the keys masked and asks why;
without a reason nothing happens; with one the keys are revoked and the audit log keeps it.

The French run finds everything by its place on the page (names, test ids), so that it walks
the same flow whatever the wording; the English run also reads the words."""

import re

import pytest
from playwright.sync_api import expect

from keys.codec import format_key
from keys.models import ProductKey
from portal.models import AuditEvent
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-US", "fr": "fr-FR"}
MASKED = re.compile(r"^•••••-•••••-•••••-•••••-[0-9A-Z]{5}$")
REASON = "Distributor order 42 was cancelled"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_ops_revoke_keys_with_a_reason_the_audit_log_keeps(
    browser, live_server, staff, make_keys, language
):
    keys = make_keys(3)
    context = browser.new_context(locale=LOCALES[language])
    page = context.new_page()
    sign_in(page, live_server, "ops@example.com")
    page.goto(f"{live_server.url}/admin/keys/productkey/")
    expect(page.locator("html")).to_have_attribute("lang", language)

    # Two keys ticked, "Revoke the selected keys", Go: a page, not the act.
    page.locator("#result_list input.action-select").nth(0).check()
    page.locator("#result_list input.action-select").nth(1).check()
    page.locator("select[name=action]").select_option("revoke")
    page.locator("#changelist-form button[name=index]").click()
    expect(page.get_by_test_id("revoke-confirmation")).to_be_visible()
    shown = page.locator("#revoke-keys tbody tr td:first-child")
    expect(shown).to_have_count(2)
    tails = {key[-5:] for key in keys}
    for text in shown.all_inner_texts():
        assert MASKED.match(text) and text[-5:] in tails
    html = page.content()
    assert all(key not in html and format_key(key) not in html for key in keys)
    if language == "en":
        expect(page.get_by_test_id("revoke-confirmation")).to_contain_text(
            "You are about to revoke 2 product keys. Revoking cannot be undone."
        )

    # No reason: the page again, with the error and the same two keys; nothing revoked.
    page.locator("#content-main form input[type=submit]").click()
    expect(page.locator("#content-main .errornote")).to_be_visible()
    expect(page.locator("textarea[name=reason]")).to_have_attribute("aria-invalid", "true")
    expect(shown).to_have_count(2)
    assert not ProductKey.objects.filter(state="revoked").exists()

    # A reason: revoked, back on the list with a message.
    page.locator("textarea[name=reason]").fill(REASON)
    page.locator("#content-main form input[type=submit]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert page.url == f"{live_server.url}/admin/keys/productkey/"
    if language == "en":
        expect(page.locator(".messagelist .success")).to_have_text(
            "2 keys revoked. The reason is in the audit log."
        )
    assert ProductKey.objects.filter(state="revoked").count() == 2

    # The audit log: one event per key, each with the reason.
    page.goto(f"{live_server.url}/admin/portal/auditevent/?action=key.revoked")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    event = AuditEvent.objects.filter(action="key.revoked").first()
    page.goto(f"{live_server.url}/admin/portal/auditevent/{event.pk}/change/")
    expect(page.locator(".field-details")).to_contain_text(REASON)
    context.close()
