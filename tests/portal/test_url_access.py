"""Every URL of the portal, for every kind of actor: what they get.

The test walks the whole URLconf. Each URL name must have an expectation declared below, for
each actor; a URL added without one fails `test_every_url_declares_its_expectations`. The
objects in the URLs belong to Northwind ("own"): its tenant Contoso, and a redemption started by
Northwind's partner admin. Fabrikam is the other partner, Tailspin its tenant.

Statuses: an int, LOGIN (redirect to the sign-in page), ADMIN_LOGIN (redirect to the admin's
sign-in page), VERIFY (redirect to the second step of signing in).

Every actor but "anonymous" has passed both steps of signing in. One more actor, "unverified"
(Northwind's admin, who has an authenticator app, signed in with the password alone), reaches
only what UNVERIFIED declares; everything else sends them to the second step.
"""

import datetime

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from portal.models import ApiKey, User, WebhookDelivery, WebhookEvent
from portal.webhooks.services import webhook_endpoint_create
from tenants.models import RedemptionTarget, TenantUser, UserImport
from tenants.tokens import offer_token
from tests.factories import (
    DelegationOfferFactory,
    DelegationRelationshipFactory,
    SubscriptionFactory,
    TenantFactory,
)
from tests.helpers import api_key, url_patterns

LOGIN = "login"
ADMIN_LOGIN = "admin-login"
VERIFY = "verify"

ACTORS = [
    "anonymous",
    "partner_admin",
    "partner_agent",
    "other_partner_admin",
    "other_partner_agent",
    "customer_admin",
    "other_customer_admin",
    "customer_user",  # a Contoso user who is not an admin
    "staff",
]


def everyone(status):
    return dict.fromkeys(ACTORS, status)


def signed_in(status, anonymous=LOGIN):
    return {**everyone(status), "anonymous": anonymous}


def partners_only(status=200):
    """Pages for any partner user: others signed in are refused (403), not found."""
    return {
        **signed_in(403),
        "partner_admin": status,
        "partner_agent": status,
        "other_partner_admin": status,
        "other_partner_agent": status,
    }


def own_tenant(status=200):
    """A Northwind customer's page: Northwind's users only; the other partner gets 404."""
    return {
        **partners_only(404),
        "partner_admin": status,
        "partner_agent": status,
        "customer_admin": 403,
        "other_customer_admin": 403,
        "customer_user": 403,
        "staff": 403,
    }


def own_redemption(status=200):
    """A redemption belongs to the user who started it: a colleague gets 404 too."""
    return {**own_tenant(404), "partner_admin": status}


def partner_admins(status=200, other=404):
    """A Northwind admin's page about its own offer or relationship: agents are refused (403),
    the other partner's admin gets `other` (404 for Northwind's objects)."""
    return {**partners_only(403), "partner_admin": status, "other_partner_admin": other}


def customer_admins(status=200, other=200):
    """A customer admin's page: their own tenant's admins only. Users who are not admins get the
    tenant rule's 404; an admin of another tenant gets `other` (404 for Contoso's objects)."""
    return {
        **signed_in(403),
        "customer_admin": status,
        "other_customer_admin": other,
        "customer_user": 404,
    }


# url name -> (method, {actor: expected})
EXPECTED = {
    "home": ("GET", signed_in(302)),
    "healthz": ("GET", everyone(200)),
    "readyz": ("GET", everyone(200)),
    # Off without METRICS_TOKEN (tests/portal/test_metrics.py tries it with one).
    "metrics": ("GET", everyone(404)),
    "login": ("GET", {**everyone(302), "anonymous": 200}),
    "logout": ("POST", everyone(302)),
    "password_change": ("GET", signed_in(200)),
    "password_change_done": ("GET", signed_in(200)),
    "password_reset": ("GET", everyone(200)),
    "password_reset_done": ("GET", everyone(200)),
    "password_reset_confirm": ("GET", everyone(200)),  # a bad link says so
    "password_reset_complete": ("GET", everyone(200)),
    "set_language": ("POST", everyone(302)),
    "keys:check_key": ("GET", partners_only()),
    "keys:redeem_start": ("GET", partners_only()),
    # Without "I understand…" ticked in this session, the key entry sends back to the start.
    "keys:redeem_new": ("GET", partners_only(302)),
    "keys:redeem_keys": ("GET", own_redemption()),
    "keys:redeem_review": ("GET", own_redemption()),
    "keys:redeem_getting_started": ("GET", own_redemption()),
    "keys:redeem_cancel": ("POST", own_redemption(302)),
    "tenants:partner_dashboard": ("GET", partners_only()),
    "tenants:partner_customers": ("GET", partners_only()),
    "tenants:partner_customer": ("GET", own_tenant()),
    "tenants:tenant_created": ("GET", own_tenant()),
    "tenants:resend_activation": ("POST", own_tenant(302)),
    "tenants:create_tenant": ("GET", own_redemption()),
    "tenants:add_licenses": ("GET", own_tenant()),
    "tenants:renew": ("GET", own_tenant()),
    # A redemption for Contoso: its preview, for the partner user who started it.
    "tenants:apply_keys": ("GET", own_redemption()),
    "tenants:create_tenant_keep": ("POST", own_redemption(200)),
    "tenants:domain_check": ("GET", partners_only()),
    "tenants:customer_home": ("GET", customer_admins()),
    # Every tenant user's own licenses.
    "tenants:customer_licenses": (
        "GET",
        {**customer_admins(), "customer_user": 200},
    ),
    "tenants:customer_users": ("GET", customer_admins()),
    # Contoso's subscription: Tailspin's admin gets 404.
    "tenants:customer_partner_of_record": ("GET", customer_admins(other=404)),
    "tenants:customer_user_add": ("GET", customer_admins()),
    # Contoso's admin's own record: Tailspin's admin gets 404.
    "tenants:customer_user": ("GET", customer_admins(other=404)),
    "tenants:customer_user_remove": ("GET", customer_admins(other=404)),
    # Contoso's subscription for Contoso's admin: assigned (or refused with a message), then back.
    "tenants:customer_license_assign": ("POST", customer_admins(302, other=404)),
    # Contoso's admin is active already: told so, then back to the page.
    "tenants:customer_resend_activation": ("POST", customer_admins(302, other=404)),
    "tenants:customer_license_unassign": ("POST", customer_admins(302, other=404)),
    # Adding users from a file. The preview and its progress are the uploader's own file (Megan's
    # here): Tailspin's admin gets 404.
    "tenants:customer_user_import": ("GET", customer_admins()),
    "tenants:customer_user_import_template": ("GET", customer_admins()),
    "tenants:customer_user_import_preview": ("GET", customer_admins(other=404)),
    "tenants:customer_user_import_progress": ("GET", customer_admins(other=404)),
    # Acting for Contoso under the world's relationship (user and license administrator).
    "tenants:delegated_users": ("GET", own_tenant()),
    "tenants:delegated_user_add": ("GET", own_tenant()),
    "tenants:delegated_user": ("GET", own_tenant()),
    "tenants:delegated_user_remove": ("GET", own_tenant()),
    "tenants:delegated_resend_activation": ("POST", own_tenant(302)),
    "tenants:delegated_license_assign": ("POST", own_tenant(302)),
    "tenants:delegated_license_unassign": ("POST", own_tenant(302)),
    "tenants:delegated_user_import": ("GET", own_tenant()),
    "tenants:delegated_user_import_template": ("GET", own_tenant()),
    # The file Northwind's admin uploaded for Contoso: a colleague gets 404, as for a redemption.
    "tenants:delegated_user_import_preview": ("GET", own_redemption()),
    "tenants:delegated_user_import_progress": ("GET", own_redemption()),
    # Delegated administration, the partner's side. Fabrikam's admin sees the send page, which
    # says why it cannot send (not enrolled).
    "tenants:delegation": ("GET", partners_only()),
    "tenants:offer_new": ("GET", partner_admins(other=200)),
    "tenants:offer_withdraw": ("GET", partner_admins()),
    "tenants:offer_resend": ("POST", partner_admins(302)),
    "tenants:relationship_terminate": ("GET", partner_admins()),
    "tenants:partner_activity": ("GET", partners_only()),
    "tenants:partner_activity_export": ("GET", partner_admins(other=200)),
    "tenants:api_keys": ("GET", partner_admins(other=200)),
    "tenants:api_key_revoke": ("GET", partner_admins()),
    # Webhooks: Northwind's endpoint and one of its deliveries (failed: Resend sends it again).
    "tenants:webhooks": ("GET", partner_admins(other=200)),
    "tenants:webhook_add": ("GET", partner_admins(other=200)),
    "tenants:webhook": ("GET", partner_admins()),
    "tenants:webhook_edit": ("GET", partner_admins()),
    "tenants:webhook_rotate": ("GET", partner_admins()),
    "tenants:webhook_enable": ("POST", partner_admins(302)),
    "tenants:webhook_disable": ("POST", partner_admins(302)),
    "tenants:webhook_delete": ("GET", partner_admins()),
    "tenants:webhook_test": ("POST", partner_admins(302)),
    "tenants:webhook_delivery": ("GET", partner_admins()),
    "tenants:webhook_delivery_resend": ("POST", partner_admins(302)),
    # The customer's side.
    "tenants:customer_relationships": ("GET", customer_admins()),
    "tenants:offer_answer": ("GET", customer_admins(other=404)),
    "tenants:customer_relationship_terminate": ("GET", customer_admins(other=404)),
    "tenants:customer_activity": ("GET", customer_admins()),
    "tenants:customer_activity_export": ("GET", customer_admins()),
    # The offer's e-mail link: sign in first; then Contoso's admin goes on to the offer, and
    # everyone else gets 404.
    "tenants:offer_link": ("GET", {**signed_in(404), "customer_admin": 302}),
    "renewals:partner_renewals": ("GET", partners_only()),
    "renewals:partner_renewals_csv": ("GET", partners_only()),
    # Contoso's subscription (Northwind is its partner of record).
    "renewals:partner_subscription": ("GET", own_tenant()),
    # Only a partner admin of the subscription's partner of record may switch it.
    "renewals:partner_direct_billing": ("GET", {**own_tenant(), "partner_agent": 404}),
    "renewals:customer_subscription": ("GET", customer_admins(other=404)),
    "renewals:customer_direct_billing": ("GET", customer_admins(other=404)),
    "tenants:activate": ("GET", everyone(200)),  # a bad link says so, to anyone
    # Asking for a new link with a made-up one: refused, to anyone.
    "tenants:activation_renew": ("POST", everyone(400)),
    # The second factor. The verification page sends a verified session on (to the home page).
    "mfa:verify": ("GET", signed_in(302)),
    # Nothing waiting after a step-up: back to the home page.
    "mfa:resume": ("GET", signed_in(302)),
    "mfa:security": ("GET", signed_in(200)),
    "mfa:app_setup": ("GET", signed_in(200)),
    "mfa:recovery_codes": ("GET", signed_in(200)),
    # One's own factor of a kind that does not exist.
    "mfa:factor": ("GET", signed_in(404)),
    # Letting Northwind's agent enrol again: Northwind's admins only.
    "mfa:partner_user_reset": ("GET", partner_admins()),
    # Contoso's admin's own record: nobody resets their own factors (403).
    "tenants:customer_user_reset": ("GET", customer_admins(403, other=404)),
    # django-otp-webauthn's ceremonies (JSON). Registration needs a session; verification a
    # session too (no passwordless sign-in).
    "otp_webauthn:credential-registration-begin": ("POST", {**signed_in(200), "anonymous": 403}),
    "otp_webauthn:credential-registration-complete": (
        "POST",
        {**signed_in(400), "anonymous": 403},
    ),
    "otp_webauthn:credential-authentication-begin": (
        "POST",
        {**signed_in(200), "anonymous": 403},
    ),
    "otp_webauthn:credential-authentication-complete": (
        "POST",
        {**signed_in(400), "anonymous": 403},
    ),
    "otp_webauthn:js-i18n-catalog": ("GET", everyone(200)),
}

# The API's contract and its docs page: public.
API_OPEN = {"api:schema", "api:docs"}

# What a session that passed the password but not the second factor gets, where it is not VERIFY.
UNVERIFIED = {
    "healthz": 200,
    "readyz": 200,
    "metrics": 404,
    "login": 302,  # signed in already: sent on (and from there to the second step)
    "logout": 302,
    "set_language": 302,
    "password_reset": 200,
    "password_reset_done": 200,
    "mfa:verify": 200,
    "mfa:resume": 302,
    "otp_webauthn:credential-authentication-begin": 200,
    "otp_webauthn:credential-authentication-complete": 400,
    "otp_webauthn:js-i18n-catalog": 200,
}

# The admin: ops staff only, behind the admin's own sign-in. Its pages are declared as a whole.
ADMIN_ONLY = {**everyone(ADMIN_LOGIN), "staff": (200, 302)}
# Records nobody adds or deletes by hand (audit events, keys, redemptions, subscriptions…):
# their admins refuse it, staff included.
ADMIN_READ_ONLY = {
    f"admin:{model}_{action}"
    for model in (
        "keys_keybatch",
        "keys_keyjob",
        "keys_productkey",
        "keys_redemption",
        "keys_redemptionline",
        "mfa_accountwithoutfactor",
        "mfa_authenticatorapp",
        "portal_apikey",
        "portal_auditevent",
        "portal_webhookdelivery",
        "portal_webhookendpoint",
        "tenants_activitylog",
        "tenants_delegationnotice",
        "tenants_delegationoffer",
        "tenants_delegationrelationship",
        "renewals_renewalnotice",
        "tenants_license",
        "tenants_subscription",
        "tenants_subscriptionkey",
        "tenants_tenant",
        "tenants_tenantuser",
    )
    for action in ("add", "delete")
}
ADMIN_SPECIAL = {
    # The portal has one sign-in (password, then second factor): the admin's sends there.
    "admin:login": ("GET", everyone(302)),
    "admin:logout": ("POST", everyone(302)),
    # Without a search term and a field, the autocomplete refuses.
    "admin:autocomplete": ("GET", {**everyone(ADMIN_LOGIN), "staff": 403}),
    # The outbox: e-mails are written by the portal, never added by hand; an e-mail that does not
    # exist has no preview, image or resend.
    "admin:post_office_email_add": ("GET", {**everyone(ADMIN_LOGIN), "staff": 403}),
    "admin:post_office_email_preview": ("GET", {**everyone(ADMIN_LOGIN), "staff": 404}),
    "admin:post_office_email_image": ("GET", {**everyone(ADMIN_LOGIN), "staff": 404}),
    "admin:resend": ("GET", {**everyone(ADMIN_LOGIN), "staff": 404}),
    # A user that does not exist.
    "admin:auth_user_password_change": ("GET", {**everyone(ADMIN_LOGIN), "staff": 404}),
    # The admin's catch-all for unknown admin URLs (no name): staff get a 404.
    "admin/(?P<url>.*)$": ("GET", {**everyone(ADMIN_LOGIN), "staff": 404}),
    # "View on site" for an object that does not exist.
    "admin:view_on_site": ("GET", {**everyone(ADMIN_LOGIN), "staff": 404}),
    # A key job's progress and its one download, for a job that does not exist.
    "admin:keys_keyjob_progress": ("GET", {**everyone(ADMIN_LOGIN), "staff": 404}),
    "admin:keys_keyjob_download": ("POST", {**everyone(ADMIN_LOGIN), "staff": 404}),
}


def expectation(name: str):
    if name in EXPECTED:
        return EXPECTED[name]
    if name in API_OPEN:
        return ("GET", everyone(200))
    if name.startswith("api:"):
        # The REST API: an API key is the only way in, whoever the session is (tests/api's
        # test_api_access covers every endpoint for every kind of key).
        return ("GET", everyone(401))
    if name in ADMIN_SPECIAL:
        return ADMIN_SPECIAL[name]
    if name in ADMIN_READ_ONLY:
        return ("GET", {**everyone(ADMIN_LOGIN), "staff": 403})
    if name.startswith("admin:"):
        return ("GET", ADMIN_ONLY)
    if name.startswith("admin/") and name.endswith("/<path:object_id>/"):
        # The admin's short link to an object: redirects staff to its change page.
        return ("GET", {**everyone(ADMIN_LOGIN), "staff": 302})
    return None


def test_every_url_declares_its_expectations():
    missing = [name for name, _pattern in url_patterns() if expectation(name) is None]
    assert missing == []
    for name, (_method, expected) in {**EXPECTED, **ADMIN_SPECIAL}.items():
        assert set(expected) == set(ACTORS), name
    names = {name for name, _pattern in url_patterns()}
    assert set(UNVERIFIED) <= names


def test_the_creation_page_is_the_creating_partners_only(
    world, fabrikam, partner_admin, other_partner_admin
):
    """`/partner/customers/<id>/created/` is the creating partner's confirmation: a partner that
    may read the customer (partner of record, or a helpdesk relationship) gets the rule's 404
    there, and the page names the administrator created with the tenant."""
    contoso = world["contoso"]
    first_admin = world["contoso_admin"]
    later = User.objects.create_user("aaron@contoso.example", "portal-demo")
    TenantUser.objects.create(
        tenant=contoso, user=later, first_name="Aaron", last_name="Aardvark", email=later.email,
        is_admin=True,
    )  # fmt: skip
    created = f"/partner/customers/{contoso.pk}/created/"
    creator = Client()
    creator.force_login(partner_admin)
    page = creator.get(created)
    assert page.status_code == 200
    assert first_admin.email in page.content.decode()
    assert later.email not in page.content.decode()
    other = Client()
    other.force_login(other_partner_admin)
    helpdesk = DelegationRelationshipFactory(partner=fabrikam, tenant=contoso, roles=["helpdesk"])
    assert other.get(f"/partner/customers/{contoso.pk}/").status_code == 200
    assert other.get(created).status_code == 404
    helpdesk.delete()
    world["subscription"].partner_of_record = fabrikam
    world["subscription"].save()
    assert other.get(f"/partner/customers/{contoso.pk}/").status_code == 200
    assert other.get(created).status_code == 404


@pytest.fixture
def world(db, northwind, fabrikam, partner_admin, partner_agent, make_keys, redeem):
    contoso = TenantFactory(name="Contoso", domain_prefix="contoso", created_by_partner=northwind)
    subscription = SubscriptionFactory(
        tenant=contoso, end_date=datetime.date(2027, 3, 31), partner_of_record=northwind
    )
    tailspin = TenantFactory(name="Tailspin", domain_prefix="tailspin", created_by_partner=fabrikam)
    admins = {}
    for tenant, email in ((contoso, "megan@contoso.example"), (tailspin, "lee@tailspin.example")):
        user = User.objects.create_user(email, "portal-demo")
        admins[tenant.domain_prefix] = TenantUser.objects.create(
            tenant=tenant, user=user, first_name="A", last_name="B", email=email, is_admin=True
        )
    member = User.objects.create_user("lynne@contoso.example", "portal-demo")
    contoso_user = TenantUser.objects.create(
        tenant=contoso, user=member, first_name="L", last_name="R", email=member.email
    )
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    for_contoso = redeem(partner_admin, northwind, *make_keys(1))
    RedemptionTarget.objects.create(redemption=for_contoso, tenant=contoso, intent="add_licenses")
    # Northwind's pending offer to Contoso, and an active relationship from an earlier one.
    offer = DelegationOfferFactory(partner=northwind, tenant=contoso, created_by=partner_admin)
    relationship = DelegationRelationshipFactory(
        partner=northwind, tenant=contoso, roles=["user_admin", "license_admin"]
    )
    # A file of users waiting for its preview on each side: Megan's, and Northwind's admin's.
    imports = {
        side: UserImport.objects.create(tenant=contoso, created_by=by, rows=[], total=0)
        for side, by in (("customer", admins["contoso"].user), ("delegated", partner_admin))
    }
    api_key(partner_admin, "customers:read")
    webhook, _secret = webhook_endpoint_create(
        membership=partner_admin.partner_membership,
        url="http://127.0.0.1:9/hooks",
        event_types=["customer.created"],
    )
    delivery = WebhookDelivery.objects.create(
        event=WebhookEvent.objects.create(type="customer.created", partner=northwind),
        endpoint=webhook,
        state=WebhookDelivery.State.FAILED,
    )
    return {
        "api_key": ApiKey.objects.get(partner=northwind),
        "webhook": webhook,
        "delivery": delivery,
        "colleague": partner_agent,
        "imports": imports,
        "offer": offer,
        "relationship": relationship,
        "for_contoso": for_contoso,
        "contoso": contoso,
        "contoso_admin": admins["contoso"],
        "contoso_user": contoso_user,
        "subscription": subscription,
        "tailspin_admin": admins["tailspin"],
        "redemption": redemption,
    }


def _kwargs(name: str, pattern: str, world) -> dict:
    """Values for the pattern's parameters: the world's own objects where they mean one."""
    values = {}
    for part in pattern.split("<")[1:]:
        param = part.split(">")[0]
        converter, _, key = param.rpartition(":")
        if key == "pk":
            redemption_scoped = pattern.startswith("partner/redeem/")
            values[key] = world["redemption"].pk if redemption_scoped else world["contoso"].pk
            if name == "tenants:apply_keys":
                values[key] = world["for_contoso"].pk
            if name.startswith("renewals:"):  # the renewals pages are a subscription's
                values[key] = world["subscription"].pk
            if name == "tenants:api_key_revoke":
                values[key] = world["api_key"].pk
            if name.startswith("tenants:webhook"):
                values[key] = world["webhook"].pk
        elif key == "delivery_pk":
            values[key] = world["delivery"].pk
        elif key == "user_pk":
            values[key] = world["colleague"].pk
        elif key == "account_pk":
            values[key] = world["contoso_admin"].pk
        elif key == "import_pk":
            values[key] = world["imports"][name.split(":")[1].split("_")[0]].pk
        elif key == "offer_pk":
            values[key] = world["offer"].pk
        elif key == "relationship_pk":
            values[key] = world["relationship"].pk
        elif key == "token":
            values[key] = "set-x" if name != "tenants:offer_link" else offer_token(world["offer"])
        elif key == "subscription_pk":
            values[key] = world["subscription"].pk
        elif converter == "int":
            values[key] = 1
        elif key == "content_id":  # an inline image of an e-mail: 32 hex digits
            values[key] = "0" * 32
        else:
            values[key] = "MQ" if key == "uidb64" else "set-x"
    return values


def _path(name: str, pattern: str, world) -> str:
    if name == "admin/(?P<url>.*)$":
        return "/admin/no-such-page/"
    if name.endswith("/<path:object_id>/"):  # unnamed: the admin's short link to an object
        return "/" + name.replace("<path:object_id>", "1")
    kwargs = _kwargs(name, pattern, world)
    if "app_label" in kwargs:  # the admin's app index: a regex of the installed app labels
        kwargs["app_label"] = "keys"
    if name == "admin:view_on_site":
        kwargs = {"content_type_id": 999999, "object_id": 1}
    return reverse(name, kwargs=kwargs)


def _client_for(actor: str, request, world) -> Client:
    client = Client()
    user = {
        "anonymous": None,
        "customer_admin": world["contoso_admin"].user if actor == "customer_admin" else None,
        "other_customer_admin": world["tailspin_admin"].user
        if actor == "other_customer_admin"
        else None,
        "customer_user": world["contoso_user"].user if actor == "customer_user" else None,
    }.get(actor, "fixture")
    if user == "fixture":
        user = request.getfixturevalue(actor)
    if user is not None:
        client.force_login(user)
    return client


def _matches(response, expected) -> bool:
    if expected == VERIFY:
        return response.status_code == 302 and response["Location"].startswith("/accounts/verify/")
    if expected == LOGIN:
        return response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    if expected == ADMIN_LOGIN:
        return response.status_code == 302 and response["Location"].startswith("/admin/login/")
    if isinstance(expected, tuple):
        return response.status_code in expected
    return response.status_code == expected


@pytest.mark.parametrize(("name", "pattern"), url_patterns(), ids=[n for n, _p in url_patterns()])
def test_it_answers_each_actor_as_declared(
    request,
    name,
    pattern,
    world,
    partner_agent,
    other_partner_admin,
    other_partner_agent,
    staff,
):
    method, expected = expectation(name)
    path = _path(name, pattern, world)
    wrong = []
    for actor in ACTORS:
        client = _client_for(actor, request, world)
        # Each actor's request is rolled back: a POST that changes something (cancelling the
        # redemption, signing out) does not change what the next actor meets.
        with transaction.atomic():
            response = client.post(path) if method == "POST" else client.get(path)
            transaction.set_rollback(True)
        if not _matches(response, expected[actor]):
            wrong.append(f"{actor}: {response.status_code} {response.get('Location', '')}")
    half = Client()
    half.force_login(request.getfixturevalue("partner_admin"), verified=False)
    with transaction.atomic():
        response = half.post(path) if method == "POST" else half.get(path)
        transaction.set_rollback(True)
    unverified = UNVERIFIED.get(name, VERIFY)
    if name.startswith("api:"):  # no session reaches the API: the same for everyone
        unverified = 200 if name in API_OPEN else 401
    if not _matches(response, unverified):
        wrong.append(f"unverified: {response.status_code} {response.get('Location', '')}")
    assert wrong == [], f"{method} {path}"


# A partner whose only standing in Contoso is a delegated relationship (Fabrikam's admin, given
# one role): the roles decide. The renewals pages show a subscription's seats, dates and states
# ("read subscriptions"): a helpdesk relationship gets the rule's 404 there, as for a tenant it
# has nothing to do with; a billing reader's reads the subscription but does not switch it.
DELEGATED_ONLY = {
    "renewals:partner_subscription": {"helpdesk": 404, "billing_reader": 200},
    "renewals:partner_direct_billing": {"helpdesk": 404, "billing_reader": 404},
}


@pytest.mark.parametrize("role", ["helpdesk", "billing_reader"])
@pytest.mark.parametrize("name", sorted(DELEGATED_ONLY))
def test_a_partner_under_a_relationship_only_gets_what_its_roles_allow(
    name, role, world, fabrikam, other_partner_admin
):
    DelegationRelationshipFactory(partner=fabrikam, tenant=world["contoso"], roles=[role])
    client = Client()
    client.force_login(other_partner_admin)
    path = reverse(name, args=[world["subscription"].pk])
    assert client.get(path).status_code == DELEGATED_ONLY[name][role]
