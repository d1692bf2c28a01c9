"""The second factor in Chromium, on http://localhost (WebAuthn wants a host name, not an IP).

Each person who must have a factor (a partner admin, a partner agent, a customer admin, ops) is
held on the security page until they enrol; they add a passkey (Chromium's virtual
authenticator, through the DevTools protocol), an authenticator app (the secret read off the
page, the codes computed from it) and recovery codes (shown once); then they sign in again with
each: the passkey, the app's code (a wrong one refused first), a recovery code (which works
once). The acts that grant power or cannot be undone ask for the factor again once the last
verification is older than MFA_STEP_UP_MINUTES, and then go on: a form that was sent comes back
on the "Continue" page, and sending it does the act.

Words come from the catalogue (as the pages show them, translated or not yet); everything else
is found by its place on the page.
"""

import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, ngettext
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from keys.models import KeyBatch
from mfa.models import AuthenticatorApp
from tenants.models import DelegationOffer, DelegationRelationship
from tests.browser.helpers import (
    enrol_with_app,
    sign_in,
    sign_out,
    verification_aged,
    verify_with_app,
    virtual_authenticator,
    wrong_code,
)
from tests.factories import DelegationOfferFactory, DelegationRelationshipFactory
from tests.second_factor import app_of, fresh_code

pytestmark = pytest.mark.browser

LOCALES = {"en": "en-US", "fr": "fr-FR"}
# Who must have a factor: their fixture, e-mail, the page they land on, and the language their
# browser speaks.
PEOPLE = {
    "partner admin": ("partner_admin", "partner@northwind.example", "/partner/", "en"),
    "partner agent": ("partner_agent", "agent@northwind.example", "/partner/", "fr"),
    "customer admin": ("contoso_admin", "megan@contoso.example", "/customer/", "fr"),
    "ops": ("staff", "ops@example.com", "/admin/", "en"),
}
STEP_UP_URL = re.compile(r"/accounts/verify/\?(.+&)?step_up=1(&|$)")
VERIFY_URL = re.compile(r"/accounts/verify/(\?|$)")


def step_up_seconds() -> int:
    return settings.MFA_STEP_UP_MINUTES * 60


def words_in(language: str) -> dict[str, str]:
    with translation.override(language):
        return {
            "confirm": gettext("Confirm it's you"),
            "continue": gettext("Continue"),
            "continue_where": gettext("Continue where you were"),
            "wrong_app": gettext(
                "That code is not right, or it was already used. Enter the code your app shows "
                "now; a new one comes every 30 seconds."
            ),
            "wrong_recovery": gettext("That recovery code is not right, or it was already used."),
            "recovery_used": ngettext(
                "You signed in with a recovery code; %(left)s is left. If you lost your passkey "
                "or phone, remove it below and add a new one now.",
                "You signed in with a recovery code; %(left)s are left. If you lost your passkey "
                "or phone, remove it below and add a new one now.",
                9,
            ),
            "accepted": gettext(
                "You accepted the offer of %(partner)s. You can remove its roles at any time."
            )
            % {"partner": "Northwind Partners"},
            "ended": gettext("The relationship was ended. The partner's access ended now."),
            "too_many": gettext("Too many wrong codes"),
        }


@pytest.fixture
def server(live_server, settings):
    """The live server as http://localhost:<port>, and passkeys bound to that origin."""
    parts = urlsplit(live_server.url)
    url = live_server.url
    if parts.hostname != "localhost":
        url = f"{parts.scheme}://localhost:{parts.port}"
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [url]
    return SimpleNamespace(url=url)


@pytest.fixture
def open_page(browser):
    """open_page(language, passkeys=False): a page in its own browser context; with `passkeys`,
    the page has a virtual authenticator that keeps the passkeys it makes."""
    contexts, sessions = [], []

    def open_(language: str, passkeys: bool = False):
        context = browser.new_context(locale=LOCALES[language], accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        if passkeys:
            sessions.append(virtual_authenticator(page))  # it lives as long as its session
        return page

    yield open_
    for context in contexts:
        context.close()


def verify_form(page, method: str):
    return page.locator(f"main form:has(input[name=method][value={method}])")


def send(form) -> None:
    with form.page.expect_navigation():
        form.locator("button[type=submit]").click()


# --- Enrolment, then signing in with each factor ------------------------------------------------


def held_at_enrolment(page, server, email: str, home: str) -> None:
    """After the password, the security page, and nothing else, until a factor is added (the
    page the person last tried to open is kept: their home)."""
    sign_in(page, server, email, password_only=True)
    expect(page).to_have_url(f"{server.url}/accounts/security/?next=%2F")
    expect(page.get_by_test_id("must-enrol")).to_be_visible()
    others = [path for path in ("/admin/", "/accounts/password_change/") if path != home]
    for path in [*others, home]:
        page.goto(server.url + path)
        expect(page).to_have_url(f"{server.url}/accounts/security/?{urlencode({'next': path})}")
        expect(page.get_by_test_id("must-enrol")).to_be_visible()


def passkey_added(page, user, home: str, words) -> None:
    """ "Add a passkey": Chromium's authenticator makes one; the page lists it, marked."""
    page.locator("#passkey-register-button").click()
    expect(page).to_have_url(re.compile(r"[?&]added=\d+"))
    credential = WebAuthnCredential.objects.get(user=user, confirmed=True)
    expect(page.locator("main .list-group-item-success")).to_contain_text(credential.name)
    expect(page.get_by_test_id("must-enrol")).to_have_count(0)
    # Where the person was going is kept: the gate had sent them here from their home.
    link = page.get_by_role("link", name=words["continue_where"])
    expect(link).to_have_attribute("href", home)


def app_added(page, user) -> None:
    page.goto(page.url.split("?")[0])  # the security page
    secret = enrol_with_app(page)
    device = AuthenticatorApp.objects.get(user=user, confirmed=True)
    assert secret.replace(" ", "") == device.secret_base32


def recovery_codes_made(page, server) -> list[str]:
    """The offer that follows the first app, taken: ten codes, shown this once."""
    expect(page.get_by_test_id("recovery-codes")).to_have_count(0)
    send(page.locator("main form"))
    shown = page.get_by_test_id("recovery-codes").locator("li")
    expect(shown).to_have_count(10)
    codes = shown.all_inner_texts()
    assert len(set(codes)) == 10
    with page.expect_download() as download:  # "Download": the same codes, one a line
        page.locator("main a[download]").click()
    assert Path(download.value.path()).read_text(encoding="utf-8").split() == codes
    page.goto(f"{server.url}/accounts/security/recovery-codes/")
    expect(page.get_by_test_id("recovery-codes")).to_have_count(0)
    content = page.content()
    assert not [code for code in codes if code in content]
    page.goto(f"{server.url}/accounts/security/")
    expect(page.get_by_test_id("recovery-left")).to_contain_text("10")
    return codes


def signs_in_with_passkey(page, server, email: str, home: str) -> None:
    sign_in(page, server, email, password_only=True)
    expect(page).to_have_url(VERIFY_URL)
    page.locator("#passkey-verification-button").click()
    expect(page).to_have_url(server.url + home)


def signs_in_with_app(page, server, email: str, home: str, user, words) -> None:
    """A wrong code first: refused, still on the second step; then the app's code."""
    sign_in(page, server, email, password_only=True)
    device = AuthenticatorApp.objects.get(user=user, confirmed=True)
    form = verify_form(page, "app")
    form.locator("input[name=code]").fill(wrong_code(device))
    send(form)
    expect(page).to_have_url(VERIFY_URL)
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    expect(form).to_contain_text(words["wrong_app"])
    verify_with_app(page, device)
    expect(page).to_have_url(server.url + home)


def recovery_code_sent(page, server, email: str, code: str) -> None:
    sign_in(page, server, email, password_only=True)
    page.locator("main a[href*='method=recovery']").click()
    form = verify_form(page, "recovery")
    form.locator("input[name=code]").fill(code)
    send(form)


def signs_in_with_recovery_codes(page, server, email: str, home: str, codes, words) -> None:
    """A recovery code signs in once; the second time it is refused, and another one works."""
    recovery_code_sent(page, server, email, codes[0])
    # The security page first (a lost passkey or phone is removed there), then on.
    expect(page).to_have_url(server.url + "/accounts/security/")
    expect(page.locator("body")).to_contain_text(words["recovery_used"] % {"left": 9})
    page.get_by_role("link", name=words["continue_where"]).click()
    expect(page).to_have_url(server.url + home)
    sign_out(page)
    recovery_code_sent(page, server, email, codes[0])
    expect(page).to_have_url(VERIFY_URL)
    expect(verify_form(page, "recovery")).to_contain_text(words["wrong_recovery"])
    form = verify_form(page, "recovery")
    form.locator("input[name=code]").fill(codes[1].upper().replace("-", " "))  # as typed
    send(form)
    expect(page).to_have_url(server.url + "/accounts/security/")


@pytest.mark.parametrize("who", list(PEOPLE))
def test_each_person_enrols_every_factor_then_signs_in_with_each(request, server, open_page, who):
    fixture, email, home, language = PEOPLE[who]
    user = request.getfixturevalue(fixture)
    words = words_in(language)
    page = open_page(language, passkeys=True)
    held_at_enrolment(page, server, email, home)
    passkey_added(page, user, home, words)
    app_added(page, user)
    codes = recovery_codes_made(page, server)
    page.goto(server.url + home)
    expect(page).to_have_url(server.url + home)  # enrolled: the pages open
    sign_out(page)

    signs_in_with_passkey(page, server, email, home)
    sign_out(page)
    signs_in_with_app(page, server, email, home, user, words)
    sign_out(page)
    signs_in_with_recovery_codes(page, server, email, home, codes, words)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_wrong_codes_are_refused_then_no_code_is_checked_for_a_while(
    server, open_page, partner_admin, settings, language
):
    settings.MFA_LIMIT_PER_ACCOUNT = 2
    words = words_in(language)
    device = app_of(partner_admin)
    page = open_page(language)
    sign_in(page, server, "partner@northwind.example", password_only=True)
    form = verify_form(page, "app")
    for _try in range(2):
        form.locator("input[name=code]").fill(wrong_code(device))
        send(form)
        expect(form).to_contain_text(words["wrong_app"])
    form.locator("input[name=code]").fill(wrong_code(device))
    with page.expect_navigation() as refused:
        form.locator("button[type=submit]").click()
    assert refused.value.status == 429
    expect(page.get_by_role("heading", level=1)).to_have_text(words["too_many"])
    expect(page.get_by_test_id("retry-at")).to_be_visible()
    # Even the right code is not checked now.
    page.goto(f"{server.url}/accounts/verify/?next=%2F")
    form.locator("input[name=code]").fill(fresh_code(device))
    with page.expect_navigation() as again:
        form.locator("button[type=submit]").click()
    assert again.value.status == 429
    page.goto(f"{server.url}/partner/")
    expect(page).to_have_url(re.compile(r"/accounts/verify/\?next=%2Fpartner%2F$"))


# --- Step-up ----------------------------------------------------------------------------------


def step_up_then_continue(page, server, user, words, pending) -> None:
    """The act was asked for with an old verification: the portal asks for the factor first
    (nothing done yet), then shows the form as it was sent, and "Continue" sends it."""
    expect(page).to_have_url(STEP_UP_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text(words["confirm"])
    assert pending()
    verify_with_app(page, app_of(user))
    expect(page).to_have_url(f"{server.url}/accounts/verify/continue/")
    assert pending()
    with page.expect_navigation():
        page.get_by_role("main").get_by_role("button", name=words["continue"], exact=True).click()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_accepting_an_offer_asks_for_the_factor_again_when_the_last_time_is_old(
    server, open_page, contoso, contoso_admin, northwind, partner_admin, language
):
    words = words_in(language)
    offer = DelegationOfferFactory(partner=northwind, tenant=contoso, created_by=partner_admin)
    page = open_page(language)
    sign_in(page, server, "megan@contoso.example")
    page.goto(f"{server.url}/customer/partner-relationships/offers/{offer.pk}/")
    with page.expect_navigation():
        page.locator("main button[value=accept]").click()
    consent = page.get_by_test_id("accept-confirm")
    expect(consent).to_be_visible()  # what is granted, to whom: read with a fresh verification
    verification_aged(page, step_up_seconds() + 1)
    consent.locator("button[type=submit]").click()

    def pending():
        return DelegationOffer.objects.get(pk=offer.pk).state == DelegationOffer.State.PENDING

    step_up_then_continue(page, server, contoso_admin, words, pending)
    expect(page.get_by_role("alert")).to_contain_text(words["accepted"])
    assert not pending()
    assert DelegationRelationship.objects.get(offer=offer).state == "active"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_terminating_a_relationship_asks_for_the_factor_again_when_the_last_time_is_old(
    server, open_page, contoso, northwind, partner_admin, language
):
    words = words_in(language)
    relationship = DelegationRelationshipFactory(partner=northwind, tenant=contoso)
    url = f"{server.url}/partner/delegated-admin/relationships/{relationship.pk}/terminate/"
    page = open_page(language, passkeys=True)
    sign_in(page, server, "partner@northwind.example")
    page.goto(f"{server.url}/accounts/security/")
    page.locator("#passkey-register-button").click()  # a passkey too, for the first step-up
    expect(page).to_have_url(re.compile(r"[?&]added=\d+"))

    # Verified a little less than MFA_STEP_UP_MINUTES ago: the page opens.
    verification_aged(page, step_up_seconds() - 60)
    page.goto(url)
    expect(page).to_have_url(url)
    # A little more: the factor first (a passkey this time), then back to the page.
    verification_aged(page, step_up_seconds() + 1)
    page.goto(url)
    expect(page).to_have_url(STEP_UP_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text(words["confirm"])
    page.locator("#passkey-verification-button").click()
    expect(page).to_have_url(url)

    # Old again when the button is pressed: the form is kept for the "Continue" page.
    verification_aged(page, step_up_seconds() + 1)
    page.get_by_role("main").locator("form button[type=submit]").click()

    def pending():
        relationship.refresh_from_db()
        return relationship.state == DelegationRelationship.State.ACTIVE

    step_up_then_continue(page, server, partner_admin, words, pending)
    expect(page.get_by_role("alert")).to_contain_text(words["ended"])
    assert not pending()


def test_adding_a_passkey_with_an_old_verification_waits_for_a_new_one(
    server, open_page, partner_admin
):
    page = open_page("en", passkeys=True)
    sign_in(page, server, "partner@northwind.example")
    page.goto(f"{server.url}/accounts/security/")
    verification_aged(page, step_up_seconds() + 1)  # the page stayed open a while
    page.locator("#passkey-register-button").click()
    with translation.override("en"):
        refused = gettext("Confirm it's you again (reload the page), then add the passkey.")
    expect(page.locator("#passkey-register-status-message")).to_contain_text(refused)
    assert not WebAuthnCredential.objects.exists()
    page.reload()  # the security page asks for the factor first, then comes back
    expect(page).to_have_url(STEP_UP_URL)
    verify_with_app(page, app_of(partner_admin))
    expect(page).to_have_url(f"{server.url}/accounts/security/")
    page.locator("#passkey-register-button").click()
    expect(page).to_have_url(re.compile(r"[?&]added=\d+"))
    assert WebAuthnCredential.objects.get().user == partner_admin


def test_generating_keys_in_the_admin_asks_for_the_factor_again_when_the_last_time_is_old(
    server, open_page, staff, products
):
    words = words_in("en")
    page = open_page("en")
    sign_in(page, server, "ops@example.com")
    page.goto(f"{server.url}/admin/keys/keybatch/generate/")
    page.get_by_label("Product").select_option(label="Business Standard (BUS-STD)")
    page.get_by_label("Number of keys").fill("3")
    verification_aged(page, step_up_seconds() + 1)
    page.get_by_role("button", name="Generate").click()
    step_up_then_continue(page, server, staff, words, lambda: not KeyBatch.objects.exists())
    expect(page).to_have_url(re.compile(r"/admin/keys/keyjob/\d+/change/$"))
    assert KeyBatch.objects.get().product.sku == "BUS-STD"


# --- The keyboard ----------------------------------------------------------------------------


def tab_to(page, selector: str, stops: int = 40) -> None:
    """Press Tab until the element is focused (failing after `stops` presses)."""
    for _stop in range(stops):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reached with the Tab key")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_enrolling_and_the_second_step_work_from_the_keyboard(
    server, open_page, partner_agent, language
):
    page = open_page(language, passkeys=True)
    sign_in(page, server, "agent@northwind.example", password_only=True)
    tab_to(page, "#passkey-register-button")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]added=\d+"))
    device = app_of(partner_agent)
    sign_out(page)

    sign_in(page, server, "agent@northwind.example", password_only=True)
    code = page.locator("main input[name=code]")
    expect(code).to_be_focused()  # the app's code is typed at once
    page.keyboard.type(wrong_code(device))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()  # what went wrong is read first
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the summary's link leads into the field
    expect(code).to_be_focused()
    page.keyboard.press("ControlOrMeta+A")  # the wrong code is still there: typed over
    page.keyboard.type(fresh_code(device))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server.url}/partner/")

    sign_out(page)
    sign_in(page, server, "agent@northwind.example", password_only=True)
    tab_to(page, "#passkey-verification-button")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server.url}/partner/")
