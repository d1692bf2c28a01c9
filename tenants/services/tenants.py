"""Customers' tenants: the rules for creating one from a redemption, and the customer admin's
activation. Every write goes through here."""

import re
import string
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keys.models import Product, ProductKey, Redemption
from keys.services import (
    RedemptionClosed,
    RedemptionKeysChanged,
    redemption_cancel,
    redemption_keys_confirm,
    redemption_keys_consume,
    redemption_lock,
    redemption_start,
)
from portal.identity import email_normalize
from portal.models import Partner, PartnerMembership, User
from portal.services import audit_log, email_link_attempt_start
from tenants import webhooks
from tenants.access import TenantAccess
from tenants.audit import act_record
from tenants.emails import activation_email_queue, tenant_created_email_queue
from tenants.models import (
    DOMAIN_PREFIX_PATTERN,
    License,
    Subscription,
    SubscriptionKey,
    SupportedCountry,
    Tenant,
    TenantUser,
)

# Organization names that are only a legal form say nothing about the customer.
LEGAL_SUFFIXES = {
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation", "co",
    "company", "plc", "gmbh", "ag", "kg", "sa", "sas", "sasu", "sarl", "eurl", "sca", "snc",
    "srl", "spa", "bv", "nv", "ab", "as", "oy", "pty", "pty ltd", "kk", "sl", "sci",
}  # fmt: skip
# Prefixes kept for the service's own addresses.
RESERVED_PREFIXES = {"www", "admin", "mail", "portal", "api", "support", "help", "login", "ops"}


def organization_name_problem(name: str) -> str | None:
    name = name.strip()
    if not name:
        return _("Enter the organization's name.")
    if not any(ch.isalnum() for ch in name):
        return _("The organization's name needs letters or digits, not only punctuation.")
    bare = " ".join(name.lower().translate(str.maketrans("", "", string.punctuation)).split())
    if bare in LEGAL_SUFFIXES:
        return _(
            "“%(name)s” is only a legal form. Enter the organization's full name, for example "
            "“Contoso %(name)s”."
        ) % {"name": name}
    return None


def domain_prefix_problem(prefix: str) -> str | None:
    """Why this prefix cannot be used (format, reserved, taken), or None when it can."""
    suffix = settings.TENANT_DOMAIN_SUFFIX
    if not prefix:
        return _("Enter a domain prefix.")
    if "." in prefix:
        first = prefix.split(".")[0] or "contoso"
        return _(
            "Type only the first part of the domain: for “%(typed)s”, type “%(first)s”. "
            "The customer's domain will be %(first)s.%(suffix)s."
        ) % {"typed": prefix, "first": first, "suffix": suffix}
    if len(prefix) < 3:
        return _("A domain prefix has at least 3 characters.")
    if len(prefix) > 40:
        return _("A domain prefix has at most 40 characters.")
    if not re.fullmatch(r"[a-z0-9-]+", prefix):
        return _("Use only lower-case letters, digits and hyphens.")
    if not re.fullmatch(DOMAIN_PREFIX_PATTERN, prefix):
        return _("A domain prefix cannot start or end with a hyphen.")
    if prefix in RESERVED_PREFIXES:
        return _("%(domain)s is reserved. Choose another prefix.") % {
            "domain": f"{prefix}.{suffix}"
        }
    if Tenant.objects.filter(domain_prefix=prefix).exists():
        return _("%(domain)s is already taken. Choose another prefix.") % {
            "domain": f"{prefix}.{suffix}"
        }
    return None


# Examples for step 2's hint, in order: the first one nobody has taken is shown.
DOMAIN_PREFIX_EXAMPLES = ("your-company", "your-organization", "my-customer", "new-customer")


def domain_prefix_example() -> str:
    """A prefix for the hint that is free, so the example does not suggest a taken one."""
    taken = set(
        Tenant.objects.filter(domain_prefix__in=DOMAIN_PREFIX_EXAMPLES).values_list(
            "domain_prefix", flat=True
        )
    )
    return next((p for p in DOMAIN_PREFIX_EXAMPLES if p not in taken), DOMAIN_PREFIX_EXAMPLES[0])


def partner_email_domains(partner) -> set[str]:
    """The partner's own e-mail domains: a customer admin's address must not be at one of them."""
    emails = [
        partner.contact_email,
        *PartnerMembership.objects.filter(partner=partner).values_list("user__email", flat=True),
    ]
    return {email.rsplit("@", 1)[-1].lower() for email in emails if "@" in email}


def admin_email_problem(email: str, partner) -> str | None:
    """Why this address cannot be the customer admin's, or None."""
    email = email_normalize(email)
    if email.rsplit("@", 1)[-1] in partner_email_domains(partner):
        return _(
            "This address is at your own organization's domain. Enter the address of the "
            "person in the customer's organization who will be its administrator."
        )
    if User.objects.filter(email=email).exists():
        return _("An account already uses this e-mail address. Enter another address.")
    return None


def supported_country_codes() -> list[str]:
    return [str(code) for code in SupportedCountry.objects.values_list("country", flat=True)]


def subscription_end(start: date, term_months: int) -> date:
    """The last day of service: the day before the same date `term_months` later."""
    return start + relativedelta(months=term_months) - relativedelta(days=1)


@dataclass(frozen=True)
class TenantDetails:
    country: str
    name: str
    admin_first_name: str
    admin_last_name: str
    admin_email: str
    admin_phone: str
    language: str
    domain_prefix: str


class TenantCreateError(Exception):
    """Something the form could not know in advance; `field` names the form field, if any."""

    def __init__(self, message: str, field: str | None = None, back_to_keys: bool = False):
        self.field = field
        self.back_to_keys = back_to_keys  # the keys changed: the partner must look at them again
        super().__init__(message)


def tenant_create(*, redemption: Redemption, user: User, details: TenantDetails) -> Tenant:
    """ "Create my account": the tenant, its subscriptions, the customer admin, the keys redeemed.

    One transaction: any failure leaves no tenant, the keys still reserved and the redemption
    resumable. A second call for the same redemption (a double submit) returns the tenant the
    first one created. The e-mails are written to the outbox in the same transaction.
    """
    with transaction.atomic():
        # Lock the redemption: two submits of the same form run one after the other.
        redemption = redemption_lock(redemption)
        if redemption.state == Redemption.State.COMPLETED:
            return Tenant.objects.get(redemption=redemption)
        if redemption.state != Redemption.State.DRAFT:
            raise TenantCreateError(_("This redemption was cancelled."))
        if redemption.created_by_id != user.pk:
            raise TenantCreateError(_("This redemption belongs to another user."))
        if details.country not in supported_country_codes():
            raise TenantCreateError(
                _("The service is not offered in this country or region."), field="country"
            )
        problem = domain_prefix_problem(details.domain_prefix)
        if problem:
            raise TenantCreateError(problem, field="domain_prefix")
        problem = admin_email_problem(details.admin_email, redemption.partner)
        if problem:
            raise TenantCreateError(problem, field="admin_email")
        try:
            with transaction.atomic():
                tenant, admin = _create(redemption, user, details)
        except RedemptionKeysChanged:
            raise TenantCreateError(
                _("The keys of this redemption changed. Check them again before step 2."),
                back_to_keys=True,
            ) from None
        except IntegrityError:
            # Someone took the prefix or the address between our check and our insert; any
            # other broken constraint is a bug and propagates.
            for field, problem in (
                ("domain_prefix", domain_prefix_problem(details.domain_prefix)),
                ("admin_email", admin_email_problem(details.admin_email, redemption.partner)),
            ):
                if problem:
                    raise TenantCreateError(problem, field=field) from None
            raise
        # In the same transaction: the e-mails and the webhooks exist exactly when the tenant does.
        activation_email_queue(account=admin)
        tenant_created_email_queue(tenant=tenant, user=user)
        webhooks.customer_created(tenant, timezone.localdate())
    return tenant


class KeysRefused(Exception):
    """Typed keys that cannot be reserved: `errors`, {index in the list: message}, as the key
    entry shows them. Nothing was reserved."""

    def __init__(self, errors: dict[int, str]):
        self.errors = errors
        super().__init__(" ".join(errors.values()))


@contextmanager
def keys_reserved(
    *,
    user: User,
    partner: Partner,
    raw_keys: Sequence[str],
    client_address: str | None,
    on_created: Callable[[Redemption], None] | None = None,
) -> Iterator[Redemption]:
    """The browser's step 1 in one go, for a call that finishes the redemption at once (the
    API): the typed keys reserved into a new redemption (all or none), then confirmed. Raises
    KeysRefused and KeyGuessLimitReached (nothing reserved). When the body raises, the
    redemption is cancelled: no key stays held by a call that failed. `on_created` as for
    `redemption_start`."""
    if not raw_keys:
        raise KeysRefused({0: _("Enter at least one product key.")})
    redemption, errors = redemption_start(
        user=user,
        partner=partner,
        raw_keys=raw_keys,
        client_address=client_address,
        on_created=on_created,
    )
    if errors:
        raise KeysRefused(errors)
    try:
        yield redemption_keys_confirm(redemption=redemption, user=user)
    except Exception:
        with suppress(RedemptionClosed):  # completed after all: nothing is held
            redemption_cancel(redemption=redemption, user=user)
        raise


def tenant_create_from_keys(
    *,
    user: User,
    partner: Partner,
    raw_keys: Sequence[str],
    details: TenantDetails,
    client_address: str | None,
) -> Tenant:
    """ "Create a customer from product keys" in one call: the keys reserved and confirmed
    (`keys_reserved`), then `tenant_create`, with the same rules, audit events and e-mails as
    the browser's steps. All or nothing: on KeysRefused nothing was reserved; on
    TenantCreateError (a prefix or address taken meanwhile, the keys changed) or any other
    failure the redemption is cancelled and every key is available again."""
    with keys_reserved(
        user=user, partner=partner, raw_keys=raw_keys, client_address=client_address
    ) as redemption:
        return tenant_create(redemption=redemption, user=user, details=details)


def keys_by_product(lines) -> list[tuple[Product, list[ProductKey]]]:
    """A redemption's keys grouped by product, in the order they were typed: one subscription
    per product."""
    groups: dict[int, tuple[Product, list[ProductKey]]] = {}
    for line in lines:
        product = line.product_key.batch.product
        groups.setdefault(product.pk, (product, []))[1].append(line.product_key)
    return list(groups.values())


def _create(redemption, user, details: TenantDetails) -> tuple[Tenant, TenantUser]:
    now = timezone.now()
    partner = redemption.partner
    tenant = Tenant.objects.create(
        name=details.name.strip(),
        domain_prefix=details.domain_prefix,
        country=details.country,
        preferred_language=details.language,
        created_by_partner=partner,
        created_by=user,
        redemption=redemption,
        created_at=now,
    )
    audit = {"actor": user, "partner": partner, "tenant": tenant}
    audit_log(action="tenant.created", target=tenant, **audit)
    # The keys service redeems the keys and completes the redemption; this writes tenants' rows.
    lines = redemption_keys_consume(redemption=redemption, user=user, tenant=tenant)
    subscriptions = [
        _subscription_create(product, keys, audit, now) for product, keys in keys_by_product(lines)
    ]
    admin = _admin_create(details, audit, now)
    # The seed: the admin "automatically gets admin rights and a license is assigned".
    License.objects.create(subscription=subscriptions[0], tenant_user=admin, assigned_at=now)
    audit_log(
        action="license.assigned", target=subscriptions[0], details={"tenant_user": admin.pk},
        **audit,
    )  # fmt: skip
    return tenant, admin


def _subscription_create(product: Product, keys: list[ProductKey], audit: dict, now):
    """One product's subscription from its keys (seats summed), with the keys recorded."""
    today, user = now.date(), audit["actor"]
    subscription = Subscription.objects.create(
        tenant=audit["tenant"],
        product=product,
        seats=sum(key.batch.seats_per_key for key in keys),
        start_date=today,
        end_date=subscription_end(today, product.term_months),
        created_by_partner=audit["partner"],
        created_at=now,
    )
    audit_log(
        action="subscription.created",
        target=subscription,
        details={
            "product": product.sku,
            "seats": subscription.seats,
            "end_date": subscription.end_date.isoformat(),
        },
        **audit,
    )
    for key in keys:
        SubscriptionKey.objects.create(
            subscription=subscription,
            product_key=key,
            kind=SubscriptionKey.Kind.CREATED,
            seats=key.batch.seats_per_key,
            redeemed_at=now,
            redeemed_by=user,
        )
        audit_log(
            action="subscription.key_added",
            target=subscription,
            details={"key": key.pk, "seats": key.batch.seats_per_key, "kind": "created"},
            **audit,
        )
    return subscription


def _admin_create(details: TenantDetails, audit: dict, now) -> TenantUser:
    account = User.objects.create_user(
        details.admin_email,
        password=None,  # the admin sets it through the activation link; the partner never does
        first_name=details.admin_first_name.strip(),
        last_name=details.admin_last_name.strip(),
        language=details.language,
    )
    admin = TenantUser.objects.create(
        tenant=audit["tenant"],
        user=account,
        first_name=account.first_name,
        last_name=account.last_name,
        email=account.email,
        phone=details.admin_phone.strip(),
        is_admin=True,
        created_at=now,
    )
    audit_log(action="tenant_user.created", target=admin, details={"admin": True}, **audit)
    return admin


@transaction.atomic
def tenant_admin_activate(*, user: User, password: str) -> None:
    """The customer admin sets a password through the activation link."""
    user = User.objects.select_for_update().get(pk=user.pk)
    user.set_password(password)
    user.save(update_fields=["password"])
    account = TenantUser.objects.select_related("tenant").get(user=user)
    audit_log(action="tenant_user.activated", actor=user, target=account, tenant=account.tenant)


def activation_resend(*, account: TenantUser, access: TenantAccess) -> bool:
    """Send the activation e-mail again (a new link). False when the account is already active.

    `access` is the acting party's standing in the account's tenant (the caller checked it allows
    resending); the audit event records who acted and as what.
    """
    if account.tenant_id != access.tenant.pk:
        raise ValueError("The account is not in the tenant the access was checked for.")
    if account.user is None or account.user.has_usable_password():
        return False
    with transaction.atomic():
        act_record(access, action="tenant_user.activation_resent", target=account)
        # Sent by one of the tenant's admins: the e-mail says who added the person.
        activation_email_queue(account=account, added_by=access.tenant_user)
    return True


class EmailLinksLimited(Exception):
    """Past the link e-mails' limit for this address or client: nothing was sent."""

    def __init__(self, until: datetime):
        self.until = until
        super().__init__(until.isoformat())


def activation_resend_limited(
    *, account: TenantUser, access: TenantAccess, client_address: str | None
) -> bool:
    """`activation_resend` under the limit of every link e-mail (per address asked and per
    client): raises EmailLinksLimited when past it. A resend that sends nothing (the account is
    active already) is not counted."""
    attempt = email_link_attempt_start(
        email=account.email, client_address=client_address, actor=access.user
    )
    if attempt.blocked:
        raise EmailLinksLimited(attempt.until)
    sent = activation_resend(account=account, access=access)
    if not sent:
        attempt.refund()
    return sent


def activation_renew(*, account: TenantUser) -> bool:
    """The admin holds a genuine but expired activation link and asks for a new one.

    Nobody is signed in: the expired link is the proof (the caller checked it). False when the
    account is active already (nothing to send).
    """
    if account.user is None or account.user.has_usable_password():
        return False
    with transaction.atomic():
        audit_log(
            action="tenant_user.activation_renewed",
            target=account,
            tenant=account.tenant,
            partner=account.tenant.created_by_partner,
        )
        activation_email_queue(account=account)
    return True
