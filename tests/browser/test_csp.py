"""The pages under the Content Security Policy in Chromium: nothing the browser refuses.

Chromium reports every refused inline script, style attribute, <style> element or source from
elsewhere on the console ("Refused to ... because it violates the following Content Security
Policy directive"). Each page is opened and used a little, so that the scripts run too.
"""

import pytest
from playwright.sync_api import expect

from keys.codec import format_key
from tests.browser.helpers import sign_in
from tests.portal.urlconf import make_customer_admin

pytestmark = pytest.mark.browser


@pytest.fixture
def watched(page):
    """The page, and the list of what Chromium said about the policy or scripts that failed."""
    problems = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return page, problems


def test_the_partner_pages(watched, live_server, partner_admin, make_keys, countries):
    page, problems = watched
    key = make_keys(1)[0]
    page.goto(f"{live_server.url}/accounts/login/")
    sign_in(page, live_server, "partner@northwind.example")
    expect(page.get_by_test_id("partner-identity")).to_be_visible()
    page.locator("#account-menu").click()  # Bootstrap's script (Popper sets styles)
    expect(page.get_by_test_id("signed-in-as")).to_be_visible()

    page.goto(f"{live_server.url}/partner/keys/check/")
    field = page.get_by_label("Product key")
    expect(field).to_have_attribute("data-key-enhanced", "1")
    field.press_sequentially("BCDFGHO")
    expect(page.get_by_test_id("key-marked").locator("mark")).to_have_text("O")

    page.goto(f"{live_server.url}/partner/redeem/")
    page.get_by_label("I understand.", exact=False).check()
    page.get_by_role("button", name="Start").click()
    keys = page.locator("input[data-key-input]")
    expect(keys.first).to_have_attribute("data-key-enhanced", "1")
    keys.first.fill(format_key(key))
    page.get_by_role("button", name="Add another product key").click()
    expect(keys).to_have_count(2)
    keys.nth(1).fill("")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Done adding product keys").click()
    page.get_by_role("link", name="Start step 2").click()
    prefix = page.locator("input[name=domain_prefix]")
    # The field exists before the script at the end of the page listens to it.
    expect(prefix).to_have_attribute("data-domain-check-ready", "1")
    prefix.fill("contoso")
    # The answer comes from the server after a 300 ms pause in typing: give a loaded machine
    # time (it once took over 5 s while another suite ran).
    expect(page.get_by_test_id("domain-check")).to_have_text(
        "contoso.cloudsuite.example is available.", timeout=20_000
    )
    page.locator("#language-select").select_option("fr")
    page.locator("#language-submit").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert problems == []


def test_the_customer_page(watched, live_server, northwind):
    page, problems = watched
    make_customer_admin(northwind)
    sign_in(page, live_server, "megan@contoso.example")
    expect(page).to_have_url(f"{live_server.url}/customer/")
    assert problems == []


def test_the_admin(watched, live_server, staff, make_keys, northwind):
    from django_celery_beat.models import CrontabSchedule

    page, problems = watched
    make_keys(2, partner=northwind)
    crontab = CrontabSchedule.objects.create(minute="*/10")
    sign_in(page, live_server, "ops@example.com")
    expect(page).to_have_url(f"{live_server.url}/admin/")
    for path in [
        "/admin/keys/productkey/",
        "/admin/keys/productkey/lookup/",
        "/admin/keys/keybatch/import/",
        "/admin/portal/auditevent/",
        "/admin/portal/partnermembership/add/",  # autocomplete (select2)
        f"/admin/portal/user/{staff.pk}/change/",  # the two-box selects for permissions
        "/admin/django_celery_beat/periodictask/add/",
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("#content")).to_be_visible()
    # The key list's action bar and the periodic task form's script do their work.
    page.goto(f"{live_server.url}/admin/keys/productkey/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("2 of 2 selected")
    page.goto(f"{live_server.url}/admin/django_celery_beat/periodictask/add/")
    expect(page.locator(".field-crontab_translation")).to_be_hidden()
    page.locator("#id_crontab").select_option(str(crontab.pk))
    expect(page.locator(".field-crontab .help")).to_contain_text("In words: Every 10 minutes")
    page.goto(f"{live_server.url}/admin/portal/partnermembership/add/")
    page.locator(".field-partner .select2-selection").click()
    expect(page.locator(".select2-results")).to_contain_text("Northwind Partners")
    assert problems == []


def test_the_api_docs_page_runs_offline(watched, live_server):
    """Swagger UI from the sidecar wheel, its start-up script a file: nothing refused, nothing
    fetched from elsewhere."""
    page, problems = watched
    elsewhere = []
    page.on(
        "request",
        lambda request: (
            elsewhere.append(request.url)
            if not request.url.startswith((live_server.url, "data:"))
            else None
        ),
    )
    page.goto(f"{live_server.url}/api/docs/")
    page.get_by_text("/api/v1/keys/check/").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert problems == []
    assert elsewhere == []


def test_the_api_docs_page_shows_every_webhook(watched, live_server):
    """The webhooks' catalogue is in the schema as OpenAPI 3.1 webhooks: Swagger UI lists each
    event and opens its payload's schema."""
    from portal.webhooks.events import EVENT_TYPES

    page, problems = watched
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    for event in EVENT_TYPES:
        expect(page.get_by_text(event, exact=True).first).to_be_attached()
    page.get_by_text("subscription.renewal_notice_due", exact=True).first.click()
    expect(page.locator(".opblock-body").first).to_contain_text("days_before")
    assert problems == []
