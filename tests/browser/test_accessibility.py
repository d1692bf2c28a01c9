"""Every page of the portal under axe-core, in English and French, 1280 and 375 px wide.

Each page a person can reach, with its error states, is opened in Chromium and checked by
axe-core (bundled with axe-playwright-python: nothing is downloaded). The test fails on any
serious or critical violation and prints each one's rule, impact and elements. At 375 px no page
may scroll sideways. The pages are visited in the order a person meets them, in one browser
context per language and width: signed out, then as a partner admin (the second step of signing
in, a step-up and its "Continue" page), then as the customer admin who activates their account
and enrols (authenticator app, recovery codes, a passkey from Chromium's virtual authenticator),
then as ops in the Django admin, and last someone who types wrong codes until they are refused.

To look at the pages: A11Y_SCREENSHOTS=/tmp/shots saves a screenshot of each one.
"""

import datetime
import os
import re
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.db import OperationalError, connections
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import Page, expect

from keys.codec import format_key, generate_key
from mfa.services import recovery_codes_generate
from portal.models import PartnerMembership, User
from renewals.services import direct_billing_switch
from tenants.access import Permission, tenant_access
from tests.browser.helpers import (
    app_code,
    sign_in_here,
    verification_aged,
    verify_with_app,
    virtual_authenticator,
    wrong_app_code,
    wrong_code,
)
from tests.factories import (
    DelegationOfferFactory,
    DelegationRelationshipFactory,
    SubscriptionFactory,
    TenantFactory,
)
from tests.second_factor import app_of

pytestmark = pytest.mark.browser

AXE = Axe()
BLOCKING = {"serious", "critical"}
LOCALES = {"en": "en-US", "fr": "fr-FR"}
PHONE = 375
NEW_PASSWORD = "a-long-Passphrase-2026"
SCREENSHOTS = os.environ.get("A11Y_SCREENSHOTS")
VERIFY = "main form input[name=method][value=app]"


@dataclass
class World:
    """What the pages show: a partner with customers, redemptions at each step, links."""

    url: str
    customer: int  # created through step 2; its administrator has not activated yet
    activation: str
    reset: str
    draft: int  # keys typed, not yet confirmed
    confirmed: int  # keys confirmed: "Getting started" and step 2
    spare_key: str
    targeted: int  # keys for Contoso, confirmed: the preview of what they change
    refused: int  # a renewal Contoso cannot take (no such subscription): the preview says why
    expired: str  # Contoso's admin's activation link, genuine but too old
    subscription: int  # Contoso's subscription: its partner of record page
    alex: int  # a Contoso user who is not an admin, with a license
    offer: int  # Northwind's pending delegated-admin offer to Contoso
    relationship: int  # Northwind's active relationship with Contoso (user administrator)
    tailspin: int  # a customer Northwind administers as user and license administrator
    tailspin_user: int
    offer_link: str  # a made-up link to an offer: "not valid"
    ended: int  # Tailspin's Business Basic, ended by the switch to direct billing
    direct: int  # the directly billed subscription that replaced it
    # Files of users: Contoso's admin's, with bad lines, ready, being added by a worker; and
    # Northwind's admin's for Tailspin, ready.
    import_bad: int
    import_ready: int
    import_running: int
    import_tailspin: int
    ops: "Ops"
    agent: int  # a partner agent with an authenticator app: the team's "Let enrol again"
    partner_app: int  # the partner admin's authenticator app: a factor's page
    webhook: int  # Northwind's webhook endpoint (a long URL, failing), with a delivery log
    webhook_delivery: int  # one of its deliveries, failed after tries with long answers
    change: str = "/accounts/password_change/"


@dataclass
class Ops:
    """What the admin's pages show: one of each record ops open, and the ledgers not empty."""

    batch: int
    job: int  # a generation, finished: its keys wait for their download
    key: int
    partner: int
    email: int  # an e-mail in the outbox
    event: int  # an audit event: a key revoked, with its reason


def ops_world(staff, northwind, products, make_keys, subscription, relationship) -> Ops:
    from post_office.models import Email

    from keys.models import KeyBatch, ProductKey
    from keys.sealing import recipient_keys
    from keys.services import key_job_generate_start, keys_revoke
    from portal.models import AuditEvent
    from renewals.models import RenewalNotice
    from tenants.models import DelegationNotice

    job, _created = key_job_generate_start(
        product=products["BUS-PREM"], count=3, partner=northwind, actor=staff,
        submission=uuid.uuid4(), recipient_key=recipient_keys()[0],
    )  # fmt: skip
    revoked = ProductKey.objects.matching(make_keys(3, partner=northwind)[0]).get()
    keys_revoke(key_ids=[revoked.pk], actor=staff, reason="Distributor order 42 was cancelled")
    RenewalNotice.objects.create(
        subscription=subscription, end_date=subscription.end_date, days_before=30,
        event=RenewalNotice.Event.NOTICE, recipient_email="partner@northwind.example",
        language="en",
    )  # fmt: skip
    DelegationNotice.objects.create(
        relationship=relationship, ends_on=relationship.ends_on, threshold=30,
        recipient="partner@northwind.example",
    )  # fmt: skip
    return Ops(
        batch=KeyBatch.objects.latest("pk").pk,
        job=job.pk,
        key=ProductKey.objects.latest("pk").pk,
        partner=northwind.pk,
        email=Email.objects.latest("pk").pk,
        event=AuditEvent.objects.get(action="key.revoked").pk,
    )


@pytest.fixture
def world(
    settings,
    live_server,
    staff,
    partner_admin,
    partner_agent,
    northwind,
    nobody,
    products,
    make_keys,
    redeem,
    countries,
    tenant_details,
):
    from tenants.emails import activation_url
    from tenants.models import ActivityLog, License, RedemptionTarget, TenantUser
    from tenants.services import tenant_create
    from tenants.tokens import activation_token

    settings.ROOT_URLCONF = "tests.browser.error_urls"  # adds a page that fails: the 500 page
    # One try past each limit shows its 429 page.
    settings.SIGNIN_LIMIT_PER_ACCOUNT = 1
    settings.EMAIL_LINK_LIMIT_PER_ACCOUNT = 1
    settings.KEY_GUESS_LIMIT_PER_USER = 1
    # A wrong code, then the right one, still passes; three wrong codes show the 429 page.
    settings.MFA_LIMIT_PER_ACCOUNT = 2

    contoso = tenant_create(
        redemption=redeem(partner_admin, northwind, *make_keys(2, seats=3)),
        user=partner_admin,
        details=tenant_details(),
    )
    tailspin = TenantFactory(
        name="Tailspin Toys", domain_prefix="tailspin", created_by_partner=northwind
    )
    SubscriptionFactory(tenant=tailspin, product=products["BUS-PREM"], seats=25)
    today = timezone.localdate()
    basic = SubscriptionFactory(
        tenant=tailspin, product=products["BUS-BASIC"], seats=10, partner_of_record=northwind,
        start_date=today - datetime.timedelta(days=165),
        end_date=today + datetime.timedelta(days=200),
    )  # fmt: skip
    TenantFactory.create_batch(24, created_by_partner=northwind)  # the list has a second page
    admin = TenantUser.objects.get(tenant=contoso, is_admin=True)
    subscription = contoso.subscriptions.get()
    alex_account = User.objects.create_user("alex@contoso.example", "portal-demo")
    alex = TenantUser.objects.create(
        tenant=contoso, user=alex_account, first_name="Alex", last_name="Wilber",
        email=alex_account.email, username="alex",
    )  # fmt: skip
    License.objects.create(subscription=subscription, tenant_user=alex)
    targeted = redeem(partner_admin, northwind, *make_keys(1, seats=2))
    RedemptionTarget.objects.create(redemption=targeted, tenant=contoso, intent="add_licenses")
    refused = redeem(partner_admin, northwind, *make_keys(1, sku="BUS-BASIC"))
    RedemptionTarget.objects.create(redemption=refused, tenant=contoso, intent="renew")
    offer = DelegationOfferFactory(partner=northwind, tenant=contoso, created_by=partner_admin)
    relationship = DelegationRelationshipFactory(partner=northwind, tenant=contoso)
    DelegationRelationshipFactory(
        partner=northwind, tenant=tailspin, roles=["user_admin", "license_admin"]
    )
    tailspin_user = TenantUser.objects.create(
        tenant=tailspin, first_name="Pat", last_name="Lee", email="pat@tailspin.example",
        username="pat",
    )  # fmt: skip
    ActivityLog.objects.create(
        tenant=contoso, relationship=relationship, partner=northwind, actor=partner_admin,
        actor_label=partner_admin.email, action="tenant_user.changed", target_label=str(alex),
    )  # fmt: skip
    ActivityLog.objects.create(  # done with an API key: the "via API" badge
        tenant=contoso, relationship=relationship, partner=northwind, actor=partner_admin,
        actor_label=f"{partner_admin.email} · API key “PSA sync” (pkp_AbCd…9xYz)",
        via_api=True, action="tenant_user.created", target_label=str(alex),
    )  # fmt: skip
    direct = direct_billing_switch(
        access=tenant_access(user=partner_admin, tenant_id=tailspin.pk, permission=Permission.READ),
        subscription=basic,
    )
    imports = _user_imports(contoso, admin.user, tailspin, partner_admin)
    too_old = activation_token._num_seconds(activation_token._now()) - 30 * 24 * 3600
    expired = reverse(
        "tenants:activate",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(admin.user.pk)),
            "token": activation_token._make_token_with_timestamp(
                admin.user, too_old, activation_token.secret
            ),
        },
    )
    return World(
        url=_passkeys_on_localhost(settings, live_server),
        customer=contoso.pk,
        activation=urlsplit(activation_url(admin)).path,
        reset=reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(partner_admin.pk)),
                "token": default_token_generator.make_token(partner_admin),
            },
        ),
        draft=redeem(partner_admin, northwind, *make_keys(2), confirm=False).pk,
        confirmed=redeem(partner_admin, northwind, *make_keys(1, sku="BUS-PREM", seats=5)).pk,
        spare_key=make_keys(1, sku="BUS-BASIC")[0],
        targeted=targeted.pk,
        refused=refused.pk,
        expired=expired,
        subscription=subscription.pk,
        alex=alex.pk,
        offer=offer.pk,
        relationship=relationship.pk,
        tailspin=tailspin.pk,
        tailspin_user=tailspin_user.pk,
        offer_link="/customer/offer/not-a-link/",
        ended=basic.pk,
        direct=direct.pk,
        **imports,
        ops=ops_world(staff, northwind, products, make_keys, subscription, relationship),
        **_second_factors(northwind, partner_admin, partner_agent),
        **_webhooks(northwind, partner_admin),
    )


def _passkeys_on_localhost(settings, live_server) -> str:
    """The live server's URL with the host name passkeys need (WebAuthn refuses IP addresses)."""
    parts = urlsplit(live_server.url)
    url = live_server.url
    if parts.hostname != "localhost":
        url = f"{parts.scheme}://localhost:{parts.port}"
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [url]
    return url


def _second_factors(northwind, partner_admin, partner_agent) -> dict[str, int]:
    """The partner admin has an app and recovery codes, one agent an app, another nothing yet:
    the team table shows each state."""
    recovery_codes_generate(user=partner_admin, actor=partner_admin)
    newcomer = User.objects.create_user("new.agent@northwind.example", "portal-demo")
    PartnerMembership.objects.create(
        user=newcomer, partner=northwind, role=PartnerMembership.Role.AGENT
    )
    app_of(partner_agent)
    return {"agent": partner_agent.pk, "partner_app": app_of(partner_admin).pk}


def _webhooks(northwind, partner_admin) -> dict[str, int]:
    """An endpoint whose address is long and whose receiver answers at length: its log has a
    delivery of each state, the failed one with two tries. Written as rows: its host resolves
    nowhere here, and nothing is sent."""
    from portal.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
    from portal.webhooks.events import TEST_EVENT
    from portal.webhooks.secrets import secret_encrypt, secret_generate

    endpoint = WebhookEndpoint.objects.create(
        partner=northwind,
        url="https://integrations.northwind-partners.example/webhooks/partner-key-portal/"
        "production/inbound?subscription=0f3c2a9e-5b1d-4c7e-9a2f-6d8e1b3c5a7f",
        description="PSA and billing sync",
        event_types=["customer.created", "subscription.renewed", "subscription.state_changed"],
        secret_encrypted=secret_encrypt(secret_generate()),
        created_by=partner_admin,
        created_by_label=partner_admin.email,
        failing_since=timezone.now(),
    )
    State = WebhookDelivery.State
    deliveries = {
        state: WebhookDelivery.objects.create(
            event=WebhookEvent.objects.create(type=type, partner=northwind),
            endpoint=endpoint,
            state=state,
            attempts=2 if state == State.FAILED else 1,
            last_status_code={State.DELIVERED: 200, State.FAILED: 502}.get(state),
        )
        for state, type in [
            (State.DELIVERED, "customer.created"),
            (State.QUEUED, "subscription.renewed"),
            (State.FAILED, TEST_EVENT),
        ]
    }
    failed = deliveries[State.FAILED]
    WebhookAttempt.objects.create(
        delivery=failed, status_code=None, duration_ms=10000, error="TimeoutError: timed out"
    )
    WebhookAttempt.objects.create(
        delivery=failed,
        status_code=502,
        duration_ms=87,
        response_excerpt='{"error": "upstream unavailable", "trace": "'
        + "0123456789abcdef" * 40
        + '"}\n<html><body>Bad gateway</body></html>',
    )
    return {"webhook": endpoint.pk, "webhook_delivery": failed.pk}


def _user_imports(contoso, admin, tailspin, partner_admin) -> dict[str, int]:
    from tenants.models import UserImport

    def row(line, name, email, products=("Business Standard",), language="en"):
        return {
            "line": line, "first_name": name.title(), "last_name": "Lee", "username": name,
            "email": email, "language": language, "products": list(products),
        }  # fmt: skip

    ready = [row(2, "ann", "ann@contoso.example"), row(3, "bo", "bo@contoso.example", ())]
    bad = [*ready, row(4, "ann", "not-an-address", ("Visio",), "de")]
    return {
        "import_bad": UserImport.objects.create(
            tenant=contoso, created_by=admin, file_name="users.csv", rows=bad, total=3
        ).pk,
        "import_ready": UserImport.objects.create(
            tenant=contoso, created_by=admin, file_name="users.csv", rows=ready, total=2
        ).pk,
        "import_running": UserImport.objects.create(
            tenant=contoso,
            created_by=admin,
            file_name="many-users.csv",
            rows=[],
            total=600,
            done=250,
            state=UserImport.State.RUNNING,
        ).pk,
        "import_tailspin": UserImport.objects.create(
            tenant=tailspin,
            created_by=partner_admin,
            file_name="users.csv",
            total=1,
            rows=[row(2, "cy", "cy@tailspin.example", ("Business Premium",))],
        ).pk,
    }


# --- The pages, in the order a person meets them ------------------------------------------------


@dataclass
class Step:
    name: str
    go: Callable[[Page, World], None]
    status: int = 200
    shows: str | None = None  # a CSS selector that proves the page is in the state named
    bilingual: bool = False  # one page in both languages (the 500 page: Django gives it no request)


def goto(path: str):
    def go(page: Page, world: World):
        page.goto(world.url + path.format(w=world))

    return go


def submit(page: Page, button: str = "main form button[type=submit]"):
    with page.expect_navigation():
        page.locator(button).last.click()


def fill_sign_in(email: str, password: str):
    def go(page: Page, world: World):
        page.goto(f"{world.url}/accounts/login/")
        page.locator("input[name=username]").fill(email)
        page.locator("input[name=password]").fill(password)
        submit(page)

    return go


def post_reset(email: str):
    def go(page: Page, world: World):
        page.goto(f"{world.url}/accounts/password_reset/")
        page.locator("input[name=email]").fill(email)
        submit(page)

    return go


def new_passwords(path: str, first: str, second: str):
    def go(page: Page, world: World):
        page.goto(world.url + path.format(w=world))
        page.locator("input[name=new_password1]").fill(first)
        page.locator("input[name=new_password2]").fill(second)
        submit(page)

    return go


def sign_out(page: Page, world: World):
    with page.expect_navigation():
        page.evaluate("document.querySelector(\"form[action$='/logout/']\").submit()")


def signed_out(then):
    def go(page: Page, world: World):
        if page.locator("form[action$='/logout/']").count():
            sign_out(page, world)
        then(page, world)

    return go


def signs_in(email: str):
    """Whoever was signed in signs out first; then the password and the authenticator app's
    code (the person is given an app first, when they have none)."""

    def go(page: Page, world: World):
        device = app_of(User.objects.get(email=email))
        signed_out(fill_sign_in(email, "portal-demo"))(page, world)
        verify_with_app(page, device)

    return go


# --- The second factor -------------------------------------------------------------------------


def password_only(email: str, password: str = "portal-demo"):
    """Whoever was signed in signs out first; then the password, and the page that follows."""
    return signed_out(fill_sign_in(email, password))


def app_form(page: Page):
    return page.locator("main form:has(input[name=method][value=app])")


def wrong_code_sent(email: str):
    def go(page: Page, world: World):
        app_form(page).locator("input[name=code]").fill(
            wrong_code(app_of(User.objects.get(email=email)))
        )
        submit(page, "main form:has(input[name=method][value=app]) button[type=submit]")

    return go


def code_sent(email: str):
    """The authenticator app's code, on the verification page (sign-in or step-up)."""

    def go(page: Page, world: World):
        verify_with_app(page, app_of(User.objects.get(email=email)))

    return go


def too_many_wrong_codes(email: str):
    def go(page: Page, world: World):
        password_only(email)(page, world)
        for _try in range(3):
            wrong_code_sent(email)(page, world)
            if page.locator("[data-testid=retry-at]").count():
                return

    return go


def with_passkey_button(then, button: str):
    """`then`, and django-otp-webauthn's script has put its passkey button in (Chromium can
    make and use passkeys)."""

    def go(page: Page, world: World):
        then(page, world)
        expect(page.locator(button)).to_be_visible()

    return go


def step_up_asked(page: Page, world: World):
    """The form on the page sent when the last verification is older than the step-up allows."""
    verification_aged(page, settings.MFA_STEP_UP_MINUTES * 60 + 1)
    submit(page)


def app_setup_code(right: bool):
    """On the set-up page: the code of the secret it shows (or one that is not)."""

    def go(page: Page, world: World):
        secret = page.get_by_test_id("totp-secret").inner_text()
        code = app_code(secret) if right else wrong_app_code(secret)
        page.locator("main form input[name=code]").fill(code)
        submit(page)

    return go


def passkey_added(page: Page, world: World):
    """ "Add a passkey" with Chromium's virtual authenticator: the page lists it, marked."""
    cdp = virtual_authenticator(page)
    with_passkey_button(goto("/accounts/security/"), "#passkey-register-button")(page, world)
    page.locator("#passkey-register-button").click()
    expect(page.locator("main .list-group-item-success")).to_be_visible()
    cdp.detach()


def her_passkey(page: Page, world: World):
    from django_otp_webauthn.models import WebAuthnCredential

    passkey = WebAuthnCredential.objects.get(user__email="megan@contoso.example")
    page.goto(f"{world.url}/accounts/security/passkey/{passkey.pk}/")


def then(*steps):
    """Each of `steps`, in turn."""

    def go(page: Page, world: World):
        for step in steps:
            step(page, world)

    return go


def sent(page: Page, world: World):
    """The form on the page, sent as it is."""
    submit(page)


# --- A service the portal needs, away for one step: the 503 page (portal.outages) ------------


@contextmanager
def redis_away():
    """The cache on a port where nothing listens (a real refused connection, as
    tests/portal/test_outages.py does); the layout's local menus cache stays."""
    away = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    with override_settings(CACHES={**settings.CACHES, "default": away}):
        yield


@contextmanager
def database_away():
    """Every query of the live server's requests fails as when PostgreSQL restarts (drill 1
    restarts it for real): the connections' cursor, patched for the step."""

    def refuse(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    with mock.patch.object(type(connections["default"]), "cursor", refuse):
        yield


def while_away(service, then):
    """`then`, with `service` (redis_away, database_away) away meanwhile."""

    def go(page: Page, world: World):
        with service():
            then(page, world)

    return go


def check_key(key: str):
    def go(page: Page, world: World):
        page.goto(f"{world.url}/partner/keys/check/")
        page.locator("input[name=key]").fill(key)
        submit(page)

    return go


def a_good_key(page: Page, world: World):
    check_key(world.spare_key)(page, world)


def start_unticked(page: Page, world: World):
    page.goto(f"{world.url}/partner/redeem/")
    submit(page)


def start_ticked(page: Page, world: World):
    page.goto(f"{world.url}/partner/redeem/")
    page.locator("input[name=understood]").check()
    submit(page)


def a_bad_key(page: Page, world: World):
    start_ticked(page, world)
    page.locator("input[data-key-input]").first.fill(format_key(world.spare_key))
    page.locator("[data-key-add]").click()
    typo = world.spare_key[:-1] + ("B" if world.spare_key[-1] != "B" else "C")
    page.locator("input[data-key-input]").nth(1).fill(typo)
    submit(page, "main form button[value=next]")


def step2_errors(page: Page, world: World):
    page.goto(f"{world.url}/partner/redeem/{world.confirmed}/customer/")
    page.locator("input[name=admin_email]").fill("megan@northwind.example")  # the partner's own
    page.locator("input[name=domain_prefix]").fill("contoso.com")
    submit(page)


def menus_open(page: Page, world: World):
    """The header's menu (folded on a phone) and the account menu, open."""
    page.goto(f"{world.url}/partner/")
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():
        toggler.click()
        expect(page.locator("#nav")).to_be_visible()
    page.locator("#account-menu").click()
    expect(page.locator("#account-menu + .dropdown-menu")).to_be_visible()


def partner_menu_open(page: Page, world: World):
    """The header's Partner menu (overview, delegated administration, activity log), open."""
    page.goto(f"{world.url}/partner/")
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():
        toggler.click()
        expect(page.locator("#nav")).to_be_visible()
    page.locator("#partner-menu").click()
    expect(page.locator("#partner-menu + .dropdown-menu")).to_be_visible()


def submitted(path: str, text: str = ""):
    """The form at `path` sent with its first text field set to `text` (empty: as it is)."""

    def go(page: Page, world: World):
        page.goto(world.url + path.format(w=world))
        if text:
            page.locator("main form input[type=text]").first.fill(text)
        submit(page, "main form button[type=submit]")

    return go


def offer_without_roles(page: Page, world: World):
    page.goto(f"{world.url}/partner/delegated-admin/offers/new/?tenant={world.customer}")
    submit(page, "main form[method=post] button[type=submit]")


def api_key_named(name: str):
    """The API keys page's form sent with `name` and the "check keys" scope (none: as it is)."""

    def go(page: Page, world: World):
        page.goto(f"{world.url}/partner/api-keys/")
        if name:
            page.locator("main form input[name=name]").fill(name)
            page.locator("main form input[value='keys:check']").check()
        submit(page, "main form[method=post] button[type=submit]")

    return go


def webhook_added(url: str):
    """The Add an endpoint form sent with `url` and one event (none: as it is)."""

    def go(page: Page, world: World):
        page.goto(f"{world.url}/partner/webhooks/add/")
        if url:
            page.locator("main form input[name=url]").fill(url)
            page.locator("main form input[value='customer.created']").check()
        submit(page, "main form[method=post] button[type=submit]")

    return go


def revoke_an_api_key(page: Page, world: World):
    page.goto(f"{world.url}/partner/api-keys/")
    page.locator("[data-testid=api-keys] a.btn-outline-danger").first.click()
    page.wait_for_load_state()


def decline_an_offer(page: Page, world: World):
    page.goto(f"{world.url}/customer/partner-relationships/offers/{world.offer}/")
    submit(page, "main form button[value=decline]")


def accept_an_offer(page: Page, world: World):
    page.goto(f"{world.url}/customer/partner-relationships/offers/{world.offer}/")
    submit(page, "main form button[value=accept]")


def remove_the_partner_of_record(page: Page, world: World):
    from portal.models import Partner
    from tenants.models import Subscription

    northwind = Partner.objects.get(partner_id="1000001")
    Subscription.objects.filter(pk=world.subscription).update(partner_of_record=northwind)
    page.goto(f"{world.url}/customer/subscriptions/{world.subscription}/partner-of-record/")
    submit(page, "main form button[value=remove]")


def ask_for_a_new_link(page: Page, world: World):
    page.goto(world.url + world.expired)
    submit(page)


def guess_until_refused(page: Page, world: World):
    for _try in range(3):
        check_key(generate_key())(page, world)
        if page.locator("[data-testid=retry-at]").count():
            return


def admin_signs_in(page: Page, world: World):
    """Ops open the admin, whoever was signed in before: the portal's sign-in (password, then
    the authenticator app's code) leads back to it."""
    signed_out(goto("/admin/"))(page, world)
    sign_in_here(page, "ops@example.com")


def admin_submitted(path: str, **fields: str):
    """The admin form at `path` sent with `fields` filled in (none: as it is)."""

    def go(page: Page, world: World):
        page.goto(world.url + path.format(w=world))
        for name, value in fields.items():
            page.locator(f"#content-main form [name={name}]").fill(value)
        submit(page, "#content-main form input[type=submit]")

    return go


def revoke_asked(page: Page, world: World):
    """The first available key ticked, "Revoke the selected keys", Go: the confirmation."""
    page.goto(f"{world.url}/admin/keys/productkey/?state__exact=available")
    page.locator("#result_list input.action-select").first.check()
    page.locator("select[name=action]").select_option("revoke")
    submit(page, "#changelist-form button[name=index]")


def revoke_without_reason(page: Page, world: World):
    revoke_asked(page, world)
    submit(page, "#content-main form input[type=submit]")


ERROR = "[data-error-summary]"
ADMIN_ERROR = ".errornote"

STEPS = [
    # Signed out.
    Step("sign-in", goto("/accounts/login/")),
    Step("sign-in, wrong password", fill_sign_in("someone@example.com", "wrong"), shows=ERROR),
    Step("sign-in, too many tries", fill_sign_in("someone@example.com", "wrong"), 429, ERROR),
    Step("password reset", goto("/accounts/password_reset/")),
    Step("password reset, no address", post_reset(""), shows=ERROR),
    Step("password reset sent", post_reset("partner@northwind.example")),
    Step("password reset, too many e-mails", post_reset("partner@northwind.example"), 429),
    Step("new password", goto("{w.reset}")),
    Step("new password, mismatch", new_passwords("{w.reset}", NEW_PASSWORD, "x"), shows=ERROR),
    Step("new password saved", goto("/accounts/reset/done/")),
    Step("password link no longer works", goto("/accounts/reset/MQ/set-x/")),
    Step("page not found", goto("/no-such-page/"), 404),
    Step("server error", goto("/test-server-error/"), 500, bilingual=True),
    Step(
        "unavailable: the limits cannot be checked (Redis away)",
        while_away(redis_away, fill_sign_in("partner@northwind.example", "portal-demo")),
        503,
    ),
    # The partner admin.
    Step("second step of signing in", password_only("partner@northwind.example"), shows=VERIFY),
    Step(
        "second step, recovery code",
        goto("/accounts/verify/?method=recovery&next=/"),
        shows="main form input[name=method][value=recovery]",
    ),
    Step(
        "second step, wrong code",
        then(goto("/accounts/verify/?next=/"), wrong_code_sent("partner@northwind.example")),
        shows=ERROR,
    ),
    Step(
        "partner overview",
        code_sent("partner@northwind.example"),
        shows="[data-testid=team] a[href*='/second-factor/reset/']",
    ),
    Step("menus open", menus_open),
    Step("partner menu open", partner_menu_open),
    Step("customers", goto("/partner/customers/")),
    Step("customers, no match", goto("/partner/customers/?q=zzz")),
    Step("customer", goto("/partner/customers/{w.customer}/")),
    Step("customer created", goto("/partner/customers/{w.customer}/created/")),
    Step("renewals", goto("/partner/renewals/"), shows="[data-testid=renewals]"),
    Step("renewals, none in the window", goto("/partner/renewals/?window=disabled")),
    Step("subscription timeline", goto("/partner/renewals/{w.subscription}/"), shows=".timeline"),
    Step("subscription ended by direct billing", goto("/partner/renewals/{w.ended}/")),
    Step("subscription billed directly", goto("/partner/renewals/{w.direct}/")),
    Step("check a key", goto("/partner/keys/check/")),
    Step("check a key, typing mistake", check_key("BCDFG-HJKMP-QRTVW-XY234-6789K"), shows=ERROR),
    Step("check a key, found", a_good_key),
    Step("redeem", goto("/partner/redeem/")),
    Step("redeem, not ticked", start_unticked, shows=ERROR),
    Step("key entry", start_ticked),
    Step("key entry, bad key", a_bad_key, shows=ERROR),
    Step("key entry with keys", goto("/partner/redeem/{w.draft}/keys/")),
    Step("review", goto("/partner/redeem/{w.draft}/review/")),
    Step("discard", goto("/partner/redeem/{w.draft}/cancel/")),
    Step("getting started", goto("/partner/redeem/{w.confirmed}/getting-started/")),
    Step("step 2", goto("/partner/redeem/{w.confirmed}/customer/")),
    Step("step 2, errors", step2_errors, shows=ERROR),
    Step("add licenses", goto("/partner/customers/{w.customer}/add-licenses/")),
    Step("renew", goto("/partner/customers/{w.customer}/renew/")),
    Step("what the keys change", goto("/partner/redeem/{w.targeted}/apply/")),
    Step(
        "what the keys change, refused",
        goto("/partner/redeem/{w.refused}/apply/"),
        shows="[data-testid=row-problem]",
    ),
    # Delegated administration, the partner's side.
    Step("delegated administration", goto("/partner/delegated-admin/")),
    Step("send delegated admin offers", goto("/partner/delegated-admin/offers/new/")),
    Step(
        "send an offer, customer chosen",
        goto("/partner/delegated-admin/offers/new/?tenant={w.customer}"),
    ),
    Step("send an offer, no role", offer_without_roles, shows=ERROR),
    Step("withdraw an offer", goto("/partner/delegated-admin/offers/{w.offer}/withdraw/")),
    Step(
        "terminate a relationship",
        goto("/partner/delegated-admin/relationships/{w.relationship}/terminate/"),
    ),
    Step("activity log, partner", goto("/partner/activity/")),
    Step("API keys, none yet", goto("/partner/api-keys/")),
    Step("API keys, errors", api_key_named(""), shows=ERROR),
    Step("API key created", api_key_named("Billing sync"), shows="[data-testid=api-key-value]"),
    Step("API keys", goto("/partner/api-keys/"), shows="[data-testid=api-keys]"),
    Step("revoke an API key", revoke_an_api_key),
    Step("add a webhook endpoint", goto("/partner/webhooks/add/")),
    Step("add a webhook endpoint, errors", webhook_added(""), shows=ERROR),
    Step(
        "webhook signing secret",
        webhook_added("http://127.0.0.1:9/hooks"),
        shows="[data-testid=webhook-secret]",
    ),
    Step("webhooks", goto("/partner/webhooks/"), shows="[data-testid=webhook-endpoints]"),
    Step(
        "a webhook endpoint and its log",
        goto("/partner/webhooks/{w.webhook}/"),
        shows="[data-testid=deliveries]",
    ),
    Step(
        "a webhook delivery's tries",
        goto("/partner/webhooks/{w.webhook}/deliveries/{w.webhook_delivery}/"),
        shows="[data-testid=answer]",
    ),
    Step("replace a webhook signing secret", goto("/partner/webhooks/{w.webhook}/rotate-secret/")),
    Step("acting for a customer: users", goto("/partner/customers/{w.tailspin}/users/")),
    Step(
        "acting for a customer: a user",
        goto("/partner/customers/{w.tailspin}/users/{w.tailspin_user}/"),
    ),
    Step("acting for a customer: add a user", goto("/partner/customers/{w.tailspin}/users/add/")),
    Step(
        "acting for a customer: add users from a file",
        goto("/partner/customers/{w.tailspin}/users/import/"),
    ),
    Step(
        "acting for a customer: users file preview",
        goto("/partner/customers/{w.tailspin}/users/import/{w.import_tailspin}/"),
        shows="[data-testid=import-add]",
    ),
    Step("change password", goto("{w.change}")),
    Step("change password, errors", new_passwords("{w.change}", "x", "y"), shows=ERROR),
    Step("password changed", goto("/accounts/password_change/done/")),
    Step(
        "sign-in security",
        with_passkey_button(goto("/accounts/security/"), "#passkey-register-button"),
        shows="[data-testid=recovery-left]",
    ),
    Step("an authenticator app", goto("/accounts/security/app/{w.partner_app}/")),
    Step("let a team member enrol again", goto("/partner/team/{w.agent}/second-factor/reset/")),
    Step("confirm it's you (step-up)", step_up_asked, shows=VERIFY),
    Step(
        "continue where you were",
        code_sent("partner@northwind.example"),
        shows="main form[action$='/second-factor/reset/']",
    ),
    Step("not allowed (partner on a customer page)", goto("/customer/"), 403),
    Step("page not found, signed in", goto("/partner/customers/999999/"), 404),
    Step(
        "unavailable: the database is away",
        while_away(database_away, goto("/partner/customers/")),
        503,
    ),
    Step("too many key look-ups", guess_until_refused, 429),
    # The customer admin activates their account (after asking for a new link).
    Step(
        "activation link expired",
        signed_out(goto("{w.expired}")),
        shows="form[action$='/renew/']",
    ),
    Step("new activation link sent", ask_for_a_new_link),
    Step("activation", goto("{w.activation}")),
    Step("activation, mismatch", new_passwords("{w.activation}", NEW_PASSWORD, "x"), shows=ERROR),
    Step(
        "second factor needed after activation",
        with_passkey_button(
            new_passwords("{w.activation}", NEW_PASSWORD, NEW_PASSWORD), "#passkey-register-button"
        ),
        shows="[data-testid=must-enrol]",
    ),
    Step(
        "set up an authenticator app",
        goto("/accounts/security/authenticator-app/"),
        shows="[data-testid=totp-secret]",
    ),
    Step("set up an authenticator app, wrong code", app_setup_code(right=False), shows=ERROR),
    Step("recovery codes offered", app_setup_code(right=True)),
    Step("recovery codes shown once", sent, shows="[data-testid=recovery-codes]"),
    Step("recovery codes, some left", goto("/accounts/security/recovery-codes/")),
    Step("sign-in security, passkey added", passkey_added),
    Step("a passkey", her_passkey, shows="main form input[name=name]"),
    Step(
        "second step, every factor",
        with_passkey_button(
            password_only("megan@contoso.example", NEW_PASSWORD), "#passkey-verification-button"
        ),
        shows=VERIFY,
    ),
    Step("customer home", code_sent("megan@contoso.example")),
    Step("users and licenses", goto("/customer/users/")),
    Step("users, no match", goto("/customer/users/?q=zzz")),
    Step("a user", goto("/customer/users/{w.alex}/")),
    Step("let a user enrol again", goto("/customer/users/{w.alex}/second-factor/reset/")),
    Step("add a user", goto("/customer/users/add/")),
    Step("add a user, errors", submitted("/customer/users/add/"), shows=ERROR),
    Step("add users from a file", goto("/customer/users/import/")),
    Step("add users from a file, no file", submitted("/customer/users/import/"), shows=ERROR),
    Step(
        "users file, bad lines",
        goto("/customer/users/import/{w.import_bad}/"),
        shows="[data-testid=import-problems]",
    ),
    Step(
        "users file, ready",
        goto("/customer/users/import/{w.import_ready}/"),
        shows="[data-testid=import-add]",
    ),
    Step(
        "users file, being added",
        goto("/customer/users/import/{w.import_running}/"),
        shows="#user-import progress",
    ),
    Step("remove a user", goto("/customer/users/{w.alex}/remove/")),
    Step("partner of record", goto("/customer/subscriptions/{w.subscription}/partner-of-record/")),
    Step(
        "partner of record, unknown ID",
        submitted("/customer/subscriptions/{w.subscription}/partner-of-record/", "9999999"),
        shows=ERROR,
    ),
    Step("partner relationships", goto("/customer/partner-relationships/")),
    Step("a delegated admin offer", goto("/customer/partner-relationships/offers/{w.offer}/")),
    Step("decline an offer, confirm", decline_an_offer, shows='[data-testid="decline-confirm"]'),
    Step("accept an offer, consent", accept_an_offer, shows='[data-testid="accept-confirm"]'),
    Step(
        "remove the partner of record, confirm",
        remove_the_partner_of_record,
        shows='[data-testid="remove-confirm"]',
    ),
    Step(
        "remove a partner's roles",
        goto("/customer/partner-relationships/{w.relationship}/remove-roles/"),
    ),
    Step("activity log, customer", goto("/customer/activity/")),
    Step(
        "activity log, bad range",
        goto("/customer/activity/?start=2026-02-02&end=2026-01-01"),
        shows=ERROR,
    ),
    Step("offer link not valid", goto("{w.offer_link}"), 400),
    Step("subscription", goto("/customer/subscriptions/{w.subscription}/"), shows=".timeline"),
    Step(
        "switch to direct billing",
        goto("/customer/subscriptions/{w.subscription}/direct-billing/"),
        shows="[data-testid=days-lost]",
    ),
    Step("activation link used", goto("{w.activation}")),
    Step("not allowed (customer on a partner page)", goto("/partner/"), 403),
    # A user of the customer who is not an admin: their own licenses.
    Step("own licenses", signs_in("alex@contoso.example")),
    # Someone signed in with no role.
    Step("no access yet", signs_in("nobody@example.com"), 403),
    # Ops, in the Django admin. The 375 px check holds here too, on purpose: Django's change
    # list style sheet already lets a wide table scroll inside its own box
    # (`#changelist-form .results`), never the page, and the portal's own admin pages do the same
    # (static/portal/admin.css); a page that scrolls sideways hides its actions off-screen.
    Step("admin sign-in", signed_out(goto("/admin/login/"))),
    Step("admin home", admin_signs_in),
    Step("admin: key batches", goto("/admin/keys/keybatch/")),
    Step("admin: a key batch", goto("/admin/keys/keybatch/{w.ops.batch}/change/")),
    Step("admin: import keys", goto("/admin/keys/keybatch/import/")),
    Step(
        "admin: import keys, errors",
        admin_submitted("/admin/keys/keybatch/import/"),
        shows=".errorlist",
    ),
    Step("admin: generate keys", goto("/admin/keys/keybatch/generate/")),
    Step(
        "admin: generate keys, errors",
        admin_submitted("/admin/keys/keybatch/generate/", count="0"),
        shows=".errorlist",
    ),
    Step("admin: key jobs", goto("/admin/keys/keyjob/")),
    Step("admin: a key job", goto("/admin/keys/keyjob/{w.ops.job}/change/")),
    Step("admin: product keys", goto("/admin/keys/productkey/")),
    Step("admin: a product key", goto("/admin/keys/productkey/{w.ops.key}/change/")),
    Step("admin: look up a key", goto("/admin/keys/productkey/lookup/")),
    Step(
        "admin: look up a key, typing mistake",
        admin_submitted("/admin/keys/productkey/lookup/", key="BCDFG-HJKMP-QRTVW-XY234-6789K"),
        shows=".errorlist",
    ),
    Step("admin: revoke keys", revoke_asked, shows="[data-testid=revoke-confirmation]"),
    Step("admin: revoke keys, no reason", revoke_without_reason, shows=ADMIN_ERROR),
    Step("admin: partners", goto("/admin/portal/partner/")),
    Step("admin: a partner", goto("/admin/portal/partner/{w.ops.partner}/change/")),
    Step("admin: tenants", goto("/admin/tenants/tenant/")),
    Step("admin: a tenant", goto("/admin/tenants/tenant/{w.customer}/change/")),
    Step("admin: subscriptions", goto("/admin/tenants/subscription/")),
    Step("admin: a subscription", goto("/admin/tenants/subscription/{w.subscription}/change/")),
    Step("admin: notice days", goto("/admin/renewals/noticeoffset/")),
    Step("admin: add notice days", goto("/admin/renewals/noticeoffset/add/")),
    Step("admin: renewal notices", goto("/admin/renewals/renewalnotice/")),
    Step("admin: delegation notices", goto("/admin/tenants/delegationnotice/")),
    Step("admin: delegated admin offers", goto("/admin/tenants/delegationoffer/")),
    Step("admin: an offer", goto("/admin/tenants/delegationoffer/{w.offer}/change/")),
    Step("admin: relationships", goto("/admin/tenants/delegationrelationship/")),
    Step(
        "admin: a relationship",
        goto("/admin/tenants/delegationrelationship/{w.relationship}/change/"),
    ),
    Step("admin: audit log", goto("/admin/portal/auditevent/")),
    Step("admin: an audit event", goto("/admin/portal/auditevent/{w.ops.event}/change/")),
    Step("admin: outbox", goto("/admin/post_office/email/")),
    Step("admin: an e-mail", goto("/admin/post_office/email/{w.ops.email}/change/")),
    Step("admin: accounts without a second factor", goto("/admin/mfa/accountwithoutfactor/")),
    Step("admin: authenticator apps", goto("/admin/mfa/authenticatorapp/")),
    # Someone who types wrong codes until the portal stops checking them.
    Step(
        "too many wrong codes",
        too_many_wrong_codes("agent@northwind.example"),
        429,
        "[data-testid=retry-at]",
    ),
]


def violations(page: Page) -> list[str]:
    found = []
    for violation in AXE.run(page).response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"])
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


def sideways(page: Page) -> str | None:
    widths = page.evaluate(
        "({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    if widths["scroll"] > widths["client"]:
        return f"scrolls sideways: {widths['scroll']} px wide in {widths['client']} px"
    return None


@pytest.mark.parametrize("width", [1280, PHONE])
@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_page_passes_axe_and_fits(browser, world, language, width):
    # Reduced motion: Bootstrap then has no transitions, so axe never measures a colour halfway.
    context = browser.new_context(
        locale=LOCALES[language],
        viewport={"width": width, "height": 900},
        reduced_motion="reduce",
    )
    page = context.new_page()
    statuses = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.request.is_navigation_request() else None,
    )
    problems = []
    for step in STEPS:
        statuses.clear()
        step.go(page, world)
        page.wait_for_load_state()
        where = f"{step.name} [{page.url.removeprefix(world.url)}]"
        if not statuses or statuses[-1] != step.status:
            problems.append(f"{where}: status {statuses[-1:]} instead of {step.status}")
        if step.shows and not page.locator(step.shows).count():
            problems.append(f"{where}: nothing matches {step.shows}")
        lang = page.locator("html").get_attribute("lang")
        if lang != language and not (step.bilingual and lang):
            problems.append(f"{where}: <html lang={lang!r}>")
        if not page.locator("meta[name=viewport][content*=device-width]").count():
            problems.append(f"{where}: no viewport")
        problems += [f"{where}: {v}" for v in violations(page)]
        if width == PHONE and (wide := sideways(page)):
            problems.append(f"{where}: {wide}")
        if SCREENSHOTS:
            name = re.sub(r"\W+", "-", step.name).strip("-")
            directory = Path(SCREENSHOTS)
            directory.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=directory / f"{language}-{width}-{name}.png", full_page=True)
    context.close()
    for problem in problems:
        print(problem)
    assert problems == [], "\n".join(problems)
