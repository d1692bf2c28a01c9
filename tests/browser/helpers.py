"""Helpers the browser tests share: signing in (both steps), finding a field by its label, and
the words of the redeem flow in English and French."""

import re
import time
from base64 import b32decode
from importlib import import_module
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django_otp.oath import TOTP
from playwright.sync_api import expect

from mfa.models import DIGITS, STEP_SECONDS
from portal.models import User
from portal.second_factor import VERIFIED_AT_SESSION_KEY
from tests.second_factor import app_of, code_at, fresh_code

VERIFY_PATH = "/accounts/verify/"


def sign_in(
    page, live_server, email: str, password: str = "portal-demo", *, password_only: bool = False
) -> None:
    """Sign in as everyone who holds power does: the password, then the second step with the
    person's authenticator app (made here when they have none). `password_only`: stop after the
    password, wherever the portal then sends the person (the second step, or enrolment when
    they have no factor yet)."""
    page.goto(f"{live_server.url}/accounts/login/")
    sign_in_here(page, email, password, password_only=password_only)


def sign_in_here(
    page, email: str, password: str = "portal-demo", *, password_only: bool = False
) -> None:
    """`sign_in` on the sign-in page the browser is on (where a link led, with its `next`)."""
    user = User.objects.filter(email__iexact=email).first()
    device = app_of(user) if user is not None and not password_only else None
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    if device is not None and urlsplit(page.url).path == VERIFY_PATH:
        verify_with_app(page, device)


def verify_with_app(page, device) -> None:
    """On the verification page: type the app's code and send it ("Verify"); the portal must
    then move on."""
    form = page.locator("main form:has(input[name=method][value=app])")
    form.locator("input[name=code]").fill(fresh_code(device))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert urlsplit(page.url).path != VERIFY_PATH, f"the code was refused: {page.url}"


def sign_out(page) -> None:
    """The Sign out form of the page (the portal's header or the admin's), sent."""
    with page.expect_navigation():
        page.evaluate("document.querySelector(\"form[action$='/logout/']\").submit()")


def _none_of(near: set[str]) -> str:
    return next(code for n in range(10**DIGITS) if (code := f"{n:0{DIGITS}d}") not in near)


def wrong_code(device) -> str:
    """Six digits that the person's app shows at no step near now: the portal must refuse them."""
    return _none_of({code_at(device, time.time() + k * STEP_SECONDS) for k in range(-3, 4)})


def wrong_app_code(secret: str) -> str:
    """`wrong_code` for an app known only by the secret a set-up page shows."""
    return _none_of({app_code(secret, time.time() + k * STEP_SECONDS) for k in range(-3, 4)})


def verification_aged(page, seconds: float) -> None:
    """Make the last verification of the browser's session `seconds` old, as if the person had
    proved their factor that long ago (the step-up's clock; the portal reads it per request)."""
    key = next(
        cookie["value"]
        for cookie in page.context.cookies()
        if cookie["name"] == settings.SESSION_COOKIE_NAME
    )
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    assert VERIFIED_AT_SESSION_KEY in session, "the session was never verified"
    session[VERIFIED_AT_SESSION_KEY] = timezone.now().timestamp() - seconds
    session.save()


def app_code(secret: str, when: float | None = None) -> str:
    """What an authenticator app shows at `when` (now by default) for the secret a person typed
    into it from the set-up page ("ABCD EFGH …", base32 without padding)."""
    plain = secret.replace(" ", "").upper()
    totp = TOTP(b32decode(plain + "=" * (-len(plain) % 8)), STEP_SECONDS, 0, DIGITS, 0)
    totp.time = time.time() if when is None else when
    return f"{totp.token():0{DIGITS}d}"


def enrol_with_app(page) -> str:
    """From the security page: set up an authenticator app as a person without a camera does
    (the secret read off the page, typed into the app), prove it with the app's code, and land
    on the offer of recovery codes. Returns the secret."""
    page.locator("main a[href$='/accounts/security/authenticator-app/']").click()
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.locator("main form input[name=code]").fill(app_code(secret))
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/security/recovery-codes/$"))
    return secret


def field(page, label):
    """A form field by its exact label (crispy-forms adds an asterisk to required ones)."""
    return page.get_by_label(re.compile(r"^\s*" + re.escape(label) + r"\s*\*?\s*$"))


# The redeem flow (steps 1 and 2, the customer's activation) as the pages word it.
REDEEM_WORDS = {
    "en": {
        "locale": "en-US",
        "redeem": "Redeem product keys",
        "understand": "I understand. I'm the most appropriate person to do this for my "
        "organization.",
        "start": "Start",
        "add": "Add another product key",
        "next": "Next",
        "review": "Does everything look right?",
        "done": "Done adding product keys",
        "getting_started": "Getting started",
        "step2": "Start step 2",
        "create": "Create my account",
        "resume": "Resume",
        "ready": "The account of Contoso is ready",
        "activate": "Activate my account",
        "country": "Country or region",
        "org": "Organization name",
        "first": "Administrator's first name",
        "last": "Administrator's last name",
        "email": "Administrator's e-mail address",
        "phone": "Administrator's phone number",
        "language": "Preferred language",
        "prefix": "Domain prefix",
        "available": "contoso.cloudsuite.example is available.",
        "used": "1 of 6 used",
    },
    "fr": {
        "locale": "fr-FR",
        "redeem": "Récupérer les clés de produit",
        "understand": "Je comprends. Je suis la personne la plus apte à effectuer cette action "
        "pour mon organisation",
        "start": "Démarrer",
        "add": "Ajouter une autre clé de produit",
        "next": "Suivant",
        "review": "Tout vous semble-t-il correct ?",
        "done": "Ajout des clés de produit terminé",
        "getting_started": "Mise en route",
        "step2": "Démarrer l’étape 2",
        "create": "Créer mon compte",
        "resume": "Reprendre",
        "ready": "Le compte de Contoso est prêt",
        "activate": "Activer mon compte",
        "country": "Pays ou région",
        "org": "Nom de l’organisation",
        "first": "Prénom de l’administrateur",
        "last": "Nom de l’administrateur",
        "email": "Adresse e-mail de l’administrateur",
        "phone": "Téléphone de l’administrateur",
        "language": "Langue préférée",
        "prefix": "Préfixe de domaine",
        "available": "contoso.cloudsuite.example est disponible.",
        "used": "1 sur 6 utilisées",
    },
}


# Chromium's virtual authenticator: a platform authenticator (like Windows Hello or Touch ID)
# that keeps passkeys and always verifies its user.
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def virtual_authenticator(page):
    """Give the page's browser a passkey authenticator (through Chromium's DevTools protocol).
    It lives as long as the returned session: keep it, detach it when done."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return cdp
