"""Demo data for a newcomer's `make run`. Idempotent: running it again changes nothing."""

import os
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from keys.codec import format_key, validate_key
from keys.models import Product, ProductKey
from keys.services import (
    batch_generate,
    key_digest,
    redemption_keys_confirm,
    redemption_start,
)
from mfa.demo import demo_enrol
from portal.models import Partner, PartnerMembership, User
from tenants.access import customer_access
from tenants.delegation.forms import offer_default_message
from tenants.delegation.offers import OfferDetails, offer_answer, offer_send
from tenants.models import DelegationOffer, Subscription, Tenant, TenantUser
from tenants.services import TenantDetails, tenant_admin_activate, tenant_create

DEMO_PASSWORD = "portal-demo"  # noqa: S105 — printed by `make run`; demo data only

PRODUCTS = [
    ("BUS-BASIC", "Business Basic"),
    ("BUS-STD", "Business Standard"),
    ("BUS-PREM", "Business Premium"),
]
PARTNERS = [
    # partner ID, name, enrolled, user, role
    ("1000001", "Northwind Partners", True, "partner@example.com", PartnerMembership.Role.ADMIN),
    (
        "1000002",
        "Fabrikam Resellers",
        False,
        "agent@fabrikam.example",
        PartnerMembership.Role.AGENT,
    ),
]


# The accounts `make run` lists, enrolled with an authenticator app (var/demo_mfa.txt).
DEMO_ACCOUNTS = [
    "partner@example.com",
    "agent@fabrikam.example",
    "admin@contoso.example",
    "admin@adatum.example",
    "ops@example.com",
]

DEMO_KEYS_FILE = settings.VAR_DIR / "demo_keys.txt"
# 5 to create customers with, 5 more to add licenses to them or renew them.
DEMO_KEYS_PER_PRODUCT = 10


def read_demo_keys() -> list[tuple[str, str]]:
    """(SKU, canonical key) for each line of var/demo_keys.txt."""
    if not DEMO_KEYS_FILE.exists():
        return []
    pairs = []
    for line in DEMO_KEYS_FILE.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            pairs.append((parts[0], validate_key(parts[1])))
    return pairs


def _demo_keys(northwind: Partner) -> None:
    """10 available keys per product for Northwind; their plain text goes to var/demo_keys.txt.

    The database keeps only digests, so the file is the one place a newcomer can read them. A
    product whose demo keys are no longer in the database (a fresh database) gets new ones.
    """
    kept = read_demo_keys()
    known = {
        bytes(digest)
        for digest in ProductKey.objects.filter(
            digest__in=[key_digest(k) for _sku, k in kept]
        ).values_list("digest", flat=True)
    }
    kept = [(sku, key) for sku, key in kept if key_digest(key) in known]
    for product in Product.objects.filter(sku__in=[sku for sku, _name in PRODUCTS]):
        if any(sku == product.sku for sku, _key in kept):
            continue
        _batch, keys = batch_generate(
            product=product,
            count=DEMO_KEYS_PER_PRODUCT,
            seats_per_key=5,
            partner=northwind,
            note="demo keys (seed_demo)",
            actor=None,
        )
        kept.extend((product.sku, key) for key in keys)
    text = "".join(f"{sku} {format_key(key)}\n" for sku, key in kept)
    DEMO_KEYS_FILE.write_text(text)
    os.chmod(DEMO_KEYS_FILE, 0o600)


def _demo_tenant(
    northwind: Partner,
    name: str = "Contoso",
    prefix: str = "contoso",
    first_name: str = "Megan",
    last_name: str = "Bowen",
    country: str = "US",
    language: str = "en",
) -> None:
    """A customer (Contoso, and Adatum for delegated administration), created through the same
    services as the browser flow, from a key of its own: 2 seats of Business Standard, one of
    them the admin's, so one seat is left to assign."""
    if Tenant.objects.filter(domain_prefix=prefix).exists():
        return
    partner_admin = User.objects.get(email="partner@example.com")
    _batch, (key,) = batch_generate(
        product=Product.objects.get(sku="BUS-STD"),
        count=1,
        seats_per_key=2,
        partner=northwind,
        note=f"{name}'s key (seed_demo)",
        actor=None,
    )
    redemption, errors = redemption_start(
        user=partner_admin, partner=northwind, raw_keys=[key], client_address=None
    )
    if errors:
        raise CommandError(f"Cannot redeem the demo key: {errors}")
    redemption_keys_confirm(redemption=redemption, user=partner_admin)
    tenant = tenant_create(
        redemption=redemption,
        user=partner_admin,
        details=TenantDetails(
            country=country,
            name=name,
            admin_first_name=first_name,
            admin_last_name=last_name,
            admin_email=f"admin@{prefix}.example",
            admin_phone="+1 425 555 0100",
            language=language,
            domain_prefix=prefix,
        ),
    )
    admin = User.objects.get(email=f"admin@{prefix}.example")
    tenant_admin_activate(user=admin, password=DEMO_PASSWORD)
    assert tenant.users.filter(user=admin, is_admin=True).exists()


def _demo_delegation(northwind: Partner) -> None:
    """A pending offer from Northwind to Contoso, and an active relationship with Adatum: both
    sides of delegated administration can be seen at once."""
    membership = PartnerMembership.objects.get(user__email="partner@example.com")
    contoso = Tenant.objects.get(domain_prefix="contoso")
    adatum = Tenant.objects.get(domain_prefix="adatum")
    if not DelegationOffer.objects.filter(partner=northwind, tenant=contoso).exists():
        offer_send(
            membership=membership,
            tenant=contoso,
            details=OfferDetails(
                roles=["user_admin", "license_admin"],
                duration_days=365,
                auto_extend=True,
                message=offer_default_message(northwind, contoso.preferred_language),
            ),
        )
    if not DelegationOffer.objects.filter(partner=northwind, tenant=adatum).exists():
        offer = offer_send(
            membership=membership,
            tenant=adatum,
            details=OfferDetails(
                roles=["user_admin", "license_admin", "billing_reader"],
                duration_days=730,
                auto_extend=False,
                message=offer_default_message(northwind, adatum.preferred_language),
            ),
        )
        adatum_admin = User.objects.get(email="admin@adatum.example")
        offer_answer(access=customer_access(adatum_admin), offer=offer, accept=True)


# Customers whose subscription ends soon or ended, so that the renewal list, the timeline and the
# notices can be seen at once: (domain prefix, name, days from today to the end date, state).
RENEWAL_DEMOS = [
    ("alpineski", "Alpine Ski House", 1, Subscription.State.ACTIVE),
    ("fourthcoffee", "Fourth Coffee", 7, Subscription.State.ACTIVE),
    ("litware", "Litware", 30, Subscription.State.ACTIVE),
    ("proseware", "Proseware", 60, Subscription.State.ACTIVE),
    ("wingtip", "Wingtip Toys", -10, Subscription.State.EXPIRED),
    ("woodgrove", "Woodgrove Bank", -45, Subscription.State.DISABLED),
]


def _demo_renewals(northwind: Partner) -> None:
    """One Northwind customer per line of RENEWAL_DEMOS, Northwind its partner of record. Made
    directly (demo rows, dated from today): the renewal sweeps pick them up like any other."""
    today = timezone.localdate()
    product = Product.objects.get(sku="BUS-STD")
    for prefix, name, days, state in RENEWAL_DEMOS:
        if Tenant.objects.filter(domain_prefix=prefix).exists():
            continue
        tenant = Tenant.objects.create(
            name=name, domain_prefix=prefix, country="US", created_by_partner=northwind
        )
        TenantUser.objects.create(
            tenant=tenant,
            first_name="Alex",
            last_name="Admin",
            email=f"admin@{prefix}.example",
            is_admin=True,
        )
        end = today + timedelta(days=days)
        Subscription.objects.create(
            tenant=tenant,
            product=product,
            seats=10,
            start_date=end - timedelta(days=364),
            end_date=end,
            state=state,
            created_by_partner=northwind,
            partner_of_record=northwind,
        )


def _user(email: str, **extra) -> User:
    user = User.objects.filter(email=email).first()  # normalized by the field
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, **extra)
    return user


class Command(BaseCommand):
    help = "Create the demo products, partners and users (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.DEBUG:
            # The demo makes a superuser whose password is printed in the README: on a real
            # installation that is an open door.
            raise CommandError(
                "seed_demo runs only with DEBUG on: it creates a superuser (ops@example.com) and "
                f"partner users whose password is the published demo password {DEMO_PASSWORD!r}. "
                "Run it on a developer's machine (make run), never on a real installation.",
                returncode=1,
            )
        for sku, name in PRODUCTS:
            Product.objects.get_or_create(sku=sku, defaults={"name": name, "term_months": 12})
        for partner_id, name, enrolled, email, role in PARTNERS:
            domain = email.split("@", 1)[1]
            partner, _ = Partner.objects.get_or_create(
                partner_id=partner_id,
                defaults={
                    "name": name,
                    "cloud_program_enrolled": enrolled,
                    "contact_email": f"contact@{domain}",
                },
            )
            user = _user(email)
            PartnerMembership.objects.get_or_create(
                user=user, defaults={"partner": partner, "role": role}
            )
        _user("ops@example.com", is_staff=True, is_superuser=True)
        northwind = Partner.objects.get(partner_id="1000001")
        _demo_keys(northwind)
        _demo_tenant(northwind)
        _demo_tenant(northwind, "Adatum", "adatum", "Adèle", "Vance", country="FR", language="fr")
        _demo_delegation(northwind)
        _demo_renewals(northwind)
        # Everyone who holds power signs in with a second factor; the demo's are in a file.
        demo_enrol(list(User.objects.filter(email__in=DEMO_ACCOUNTS).order_by("pk")))
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
