"""The Webhooks page in Chromium, in English and French: a partner admin opens it from the
Partner menu, adds an endpoint (a real receiver on the loopback interface), copies the signing
secret shown once, sends a test event, reads its tries in the delivery log and resends it.

The steps find their way by the pages' structure (links by address, buttons by the form they
send), the same in both languages, check that each page is in the language asked for, and read
each message in that language.
"""

import re

import pytest
from playwright.sync_api import expect

from portal.models import WebhookDelivery, WebhookEndpoint
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-US", "fr": "fr-FR"}


def in_language(page, language: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)


def says(page, language: str, english: str, french: str) -> None:
    """The page's message (its alert), in the page's language."""
    alert = page.locator("main .alert-dismissible[role=alert]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(english if language == "en" else french)


def add_endpoint(page, live_server, receiver, language: str) -> str:
    """From the Partner menu to the new endpoint's secret; returns the secret."""
    page.goto(f"{live_server.url}/partner/")
    page.locator("#partner-menu").click()
    page.locator("#partner-menu + .dropdown-menu a[href$='/partner/webhooks/']").click()
    in_language(page, language)
    expect(page.get_by_test_id("webhooks-empty")).to_be_visible()
    page.locator("main a[href$='/partner/webhooks/add/']").click()
    form = page.get_by_test_id("webhook-form")
    form.locator("input[name=url]").fill(receiver.url)
    form.locator("input[name=description]").fill("CRM")
    form.locator("input[value='customer.created']").check()
    form.locator("button[type=submit]").click()
    in_language(page, language)
    secret = page.get_by_test_id("webhook-secret").inner_text().strip()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]+", secret)
    says(page, language, "was added", "a été ajouté")
    return secret


@pytest.mark.parametrize("language", ["en", "fr"])
def test_add_copy_the_secret_test_read_the_log_and_resend(
    browser, live_server, partner_admin, receiver, language
):
    context = browser.new_context(locale=LOCALES[language])
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    receiver.secrets = [add_endpoint(page, live_server, receiver, language)]
    endpoint = WebhookEndpoint.objects.get()

    # "I have copied it": the endpoint's page, which never shows the secret again.
    page.locator(f"main a[href$='/partner/webhooks/{endpoint.pk}/']").click()
    expect(page.get_by_test_id("webhook-url")).to_have_text(receiver.url)
    expect(page.get_by_test_id("deliveries-empty")).to_be_visible()
    assert receiver.secrets[0] not in page.content()

    # Send a test event: the receiver gets it, signed; the log shows it delivered.
    page.locator("form[action$='/test/'] button[type=submit]").click()
    says(page, language, "A test event is on its way", "Un événement de test part vers")
    (request,) = receiver.received
    assert request.verified_by == receiver.secrets
    delivery = WebhookDelivery.objects.get()
    row = page.get_by_test_id(f"delivery-{delivery.pk}")
    expect(row).to_contain_text(request.webhook_id)
    expect(row).to_contain_text("200")
    expect(row).to_contain_text("Test event" if language == "en" else "Événement de test")
    expect(row).to_contain_text("Delivered" if language == "en" else "Livrée")

    # Its tries: the answer's first bytes.
    row.locator(f"a[href$='/deliveries/{delivery.pk}/']").click()
    in_language(page, language)
    expect(page.get_by_test_id("attempts")).to_contain_text("200")
    expect(page.get_by_test_id("answer")).to_have_text("ok")

    # Resend: the same webhook-id again, and now two tries.
    page.locator(f"main form[action$='/deliveries/{delivery.pk}/resend/'] button").click()
    says(page, language, "same webhook-id", "avec le même webhook-id")
    assert receiver.ids == [request.webhook_id, request.webhook_id]
    assert receiver.received[1].verified_by == receiver.secrets
    expect(page.get_by_test_id("answer")).to_have_count(2)
    context.close()
