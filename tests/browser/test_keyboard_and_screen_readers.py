"""What a person using the keyboard or a screen reader meets, in English and French.

The skip link, a language menu that waits for its button, the error summary that takes the focus
after a failed submit, the sign-in error read out, the key field's status that speaks when a key
is complete or wrong (not at every keystroke), buttons that name their key or redemption, focus
rings that show on the dark header, and a 500 page with a language, a viewport and a way back.
"""

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from keys.codec import MESSAGES, format_key
from keys.services.lookup import character_hint
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-US", "fr": "fr-FR"}


def words_in(language: str) -> dict[str, str]:
    """The words on the pages, from the catalogue (its typography is the catalogue's business)."""
    with translation.override(language):
        return {
            "skip": gettext("Skip to the main content"),
            "change": gettext("Change"),
            "problem": gettext("There is a problem"),
            "country": gettext("Country or region"),
            "looks_right": gettext("The characters look right."),
            "too_long": gettext(MESSAGES["length"]) % {"length": 26},
            # The codec's message, then which characters never occur and what is usually meant.
            "character": gettext(MESSAGES["character"]) % {"character": "O", "position": 7}
            + " "
            + character_hint(),
            "remove": gettext("Remove the key ending in %(last)s"),
            "resume": gettext("Resume redemption %(number)s"),
            "discard": gettext("Discard redemption %(number)s"),
            "key_line": gettext("%(label)s, line %(number)d")
            % {"label": gettext("Product key"), "number": 2},
        }


@pytest.fixture(params=["en", "fr"])
def language(request):
    return request.param


@pytest.fixture
def page_in(browser, language):
    """A page in the language, 1280 px wide (the header's menu is open at that width)."""
    context = browser.new_context(locale=LOCALES[language], viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def focused(page, expression: str):
    return page.evaluate(f"(() => {{ const e = document.activeElement; return {expression}; }})()")


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two computed colours ("rgb(r, g, b)")."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in colour[colour.index("(") + 1 : -1].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted([luminance(first), luminance(second)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_first_tab_reaches_the_skip_link_which_moves_to_the_content(
    page_in, live_server, language
):
    page = page_in
    page.goto(f"{live_server.url}/accounts/password_reset/")
    page.keyboard.press("Tab")
    assert focused(page, "e.textContent.trim()") == words_in(language)["skip"]
    box = page.locator(".skip-link").bounding_box()
    assert box and box["width"] > 50 and box["height"] > 20  # shown once focused
    page.keyboard.press("Enter")
    assert focused(page, "e.id") == "main"
    page.keyboard.press("Tab")  # the next stop is inside the content, not in the header
    assert focused(page, "!!e.closest('main')")


def test_the_language_changes_only_when_its_button_is_pressed(
    page_in, live_server, partner_admin, language
):
    page = page_in
    sign_in(page, live_server, "partner@northwind.example")
    expect(page).to_have_url(f"{live_server.url}/partner/")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    # A page starts any navigation (a submit, a link, a script) with a "navigate" event: counting
    # them sees one the moment it begins, before any response could arrive.
    page.evaluate(
        """() => {
            window.navigateEvents = 0;
            navigation.addEventListener("navigate", () => { window.navigateEvents += 1; });
        }"""
    )
    select = page.locator("#language-select")
    select.focus()
    page.keyboard.press("ArrowDown" if language == "en" else "ArrowUp")
    other = "fr" if language == "en" else "en"
    expect(select).to_have_value(other)  # the key changed the choice…
    # …and once the tasks the key queued have run (a timer of 0 runs after them),
    page.evaluate("() => new Promise((done) => setTimeout(done))")
    assert page.evaluate("window.navigateEvents") == 0  # …nothing else started
    assert navigations == []
    expect(page.locator("html")).to_have_attribute("lang", language)
    button = page.get_by_role("button", name=words_in(language)["change"], exact=True)
    expect(button).to_be_visible()
    button.click()
    expect(page.locator("html")).to_have_attribute("lang", other)
    expect(page).to_have_url(f"{live_server.url}/partner/")


def test_after_a_failed_submit_the_error_summary_has_the_focus_and_links_to_each_field(
    page_in, live_server, partner_admin, northwind, make_keys, redeem, countries, language
):
    page = page_in
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/redeem/{redemption.pk}/customer/")
    page.locator("main form button[type=submit]").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("alert")).to_contain_text(words_in(language)["problem"])
    fields_in_error = page.locator("main form [aria-invalid=true]")
    links = summary.get_by_role("link")
    expect(links).to_have_count(fields_in_error.count())
    assert fields_in_error.count() >= 6
    for index in range(links.count()):
        target = links.nth(index).get_attribute("href")
        assert page.locator(target).get_attribute("aria-invalid") == "true", target
    links.first.click()
    assert focused(page, "e.id") == "id_country"
    expect(page.get_by_label(words_in(language)["country"])).to_be_focused()


def test_the_key_entrys_row_errors_are_linked_from_the_summary(
    page_in, live_server, partner_admin, make_keys, language
):
    page = page_in
    key = make_keys(1)[0]
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/redeem/")
    page.locator("input[name=understood]").check()
    page.locator("main form button[type=submit]").click()
    rows = page.locator("input[data-key-input]")
    expect(rows.first).to_have_attribute("data-key-enhanced", "1")
    rows.first.fill(key)
    page.locator("[data-key-add]").click()
    rows.nth(1).fill(format_key(key))  # the same key twice
    page.locator("main form button[value=next]").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    link = summary.get_by_role("link")
    expect(link).to_have_count(1)
    expect(link).to_contain_text(words_in(language)["key_line"])
    link.click()
    assert focused(page, "e.id") == "id_keys-1-key"


def test_the_sign_in_error_is_read_out(page_in, live_server, partner_admin, language):
    page = page_in
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=username]").fill("partner@northwind.example")
    page.locator("input[name=password]").fill("not the password")
    page.locator("main form button[type=submit]").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text(words_in(language)["problem"])
    expect(alert).to_contain_text("e-mail")  # the form's own message, in either language
    expect(page.get_by_test_id("error-summary")).to_be_focused()


def test_the_key_fields_status_speaks_when_the_key_is_complete_or_wrong(
    page_in, live_server, partner_admin, make_keys, language
):
    page = page_in
    words = words_in(language)
    key = make_keys(1)[0]
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/keys/check/")
    field = page.locator("input[data-key-input]")
    expect(field).to_have_attribute("data-key-enhanced", "1")
    status = page.get_by_test_id("key-status")
    expect(status).to_have_attribute("role", "status")
    # The visible count of characters changes at each keystroke: it is no live region.
    assert page.get_by_test_id("key-feedback").get_attribute("aria-live") is None
    page.evaluate(
        """() => {
            window.spoken = [];
            const status = document.querySelector("[data-testid=key-status]");
            new MutationObserver(() => { if (status.textContent) spoken.push(status.textContent); })
                .observe(status, {childList: true, characterData: true, subtree: true});
        }"""
    )

    def spoken(count):
        """What the status said, once it has said `count` things (mutation observers report
        after the task that changed it)."""
        page.wait_for_function("count => window.spoken.length >= count", arg=count)
        return page.evaluate("window.spoken")

    field.press_sequentially(key[:24])
    # The count under the field shows the last keystroke was handled; the status would have
    # spoken in the same task.
    expect(page.get_by_test_id("key-feedback")).to_contain_text("24")
    assert spoken(0) == []  # 24 keystrokes, nothing said
    field.press_sequentially(key[24])
    assert spoken(1) == [words["looks_right"]]
    field.press_sequentially("BC")  # too long, and longer still: said once
    expect(field).to_have_value(re.compile(r"BC$"))
    assert spoken(2) == [words["looks_right"], words["too_long"]]
    field.fill("")
    field.press_sequentially("BCDFGHOJK")  # a character never used, then more typing
    expect(field).to_have_value(re.compile(r"J-?K$"))
    assert spoken(3) == [words["looks_right"], words["too_long"], words["character"]]


def test_remove_resume_and_discard_name_their_key_or_redemption(
    page_in, live_server, partner_admin, northwind, make_keys, redeem, language
):
    page = page_in
    words = words_in(language)
    keys = make_keys(2)
    redemption = redeem(partner_admin, northwind, *keys, confirm=False)
    sign_in(page, live_server, "partner@northwind.example")
    drafts = page.get_by_test_id("drafts")
    for action in ("resume", "discard"):
        name = words[action] % {"number": redemption.pk}
        expect(drafts.get_by_role("link", name=name, exact=True)).to_be_visible()
    page.goto(f"{live_server.url}/partner/redeem/{redemption.pk}/keys/")
    for key in keys:
        name = words["remove"] % {"last": key[-5:]}
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()


def test_focus_rings_show_on_the_dark_header_and_on_the_page(
    page_in, live_server, partner_admin, language
):
    page = page_in
    sign_in(page, live_server, "partner@northwind.example")
    expect(page).to_have_url(f"{live_server.url}/partner/")
    header = page.locator("nav.navbar").evaluate("e => getComputedStyle(e).backgroundColor")
    body = page.locator("body").evaluate("e => getComputedStyle(e).backgroundColor")
    seen = set()
    for _stop in range(20):  # through the header by keyboard, then into the page
        page.keyboard.press("Tab")
        ring = page.evaluate(
            """() => {
                const e = document.activeElement, style = getComputedStyle(e);
                return {id: e.id || e.textContent.trim(), inHeader: !!e.closest("nav"),
                        color: style.outlineColor, width: parseFloat(style.outlineWidth),
                        style: style.outlineStyle};
            }"""
        )
        if ring["id"] in seen:
            break
        seen.add(ring["id"])
        behind = header if ring["inHeader"] else body
        assert ring["style"] == "solid" and ring["width"] >= 2, ring
        assert contrast(ring["color"], behind) >= 3, ring
    assert "language-select" in seen


def test_the_500_page_has_a_language_a_viewport_and_a_way_back(page_in, live_server, settings):
    settings.ROOT_URLCONF = "tests.browser.error_urls"
    page = page_in
    response = page.goto(f"{live_server.url}/test-server-error/")
    assert response.status == 500
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("meta[name=viewport]")).to_have_attribute(
        "content", "width=device-width, initial-scale=1"
    )
    expect(page.locator("[lang=fr]")).to_contain_text("Retour au portail")
    page.get_by_role("link", name="Back to the portal").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
