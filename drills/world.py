"""The data a drill works on, made through the portal's own services (and bulk inserts where a
drill needs many rows of one kind): Northwind, its partner admin with an authenticator app, an
API key, a key inventory, customers to renew, and the rows the sweeps find due."""

import datetime
import os
import threading
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

PASSWORD = "drill-" + os.urandom(12).hex()
# The domain prefixes of the customers written in bulk for the sweeps (due_subscriptions,
# ending_relationships): rows of the drill's, not made by the portal's services.
BULK_PREFIXES = "^(due|delegated)[0-9]{4}$"


@dataclass
class World:
    partner: object
    admin: object  # the partner admin (a User), with a confirmed authenticator app
    product: object
    api_key: str
    keys: list[str] = field(default_factory=list)  # unused keys of Northwind's, canonical
    customers: list[int] = field(default_factory=list)  # customers made to be renewed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_keys(self, count: int) -> list[str]:
        """Keys nobody used yet (the traffic's threads each take their own)."""
        with self.lock:
            taken, self.keys = self.keys[:count], self.keys[count:]
        if len(taken) < count:
            raise RuntimeError("the drill ran out of keys: make more in world.build()")
        return taken


def person(email: str, *, staff: bool = False):
    """An account with a password and a confirmed authenticator app (as a person has after
    enrolling; confirming through the pages needs a code typed in a browser)."""
    from mfa.services import app_setup_start
    from portal.models import User

    user = User.objects.create_user(email, PASSWORD, is_staff=staff, is_superuser=staff)
    device = app_setup_start(user=user)
    device.confirmed = True
    device.save()
    return user


def build(*, keys: int = 0, customers: int = 0) -> World:
    """Northwind with `keys` unused keys (1 seat each) and `customers` customers made from keys
    through the API's service, each with one Business Standard subscription."""
    from keys.models import Product
    from keys.services import batch_generate
    from portal.api.services import api_key_create, scopes_allowed
    from portal.models import Partner, PartnerMembership

    with transaction.atomic():
        product = Product.objects.create(sku="BUS-STD", name="Business Standard", term_months=12)
        partner = Partner.objects.create(
            name="Northwind Partners",
            partner_id="1000001",
            cloud_program_enrolled=True,
            contact_email="contact@northwind.example",
        )
        admin = person("partner@northwind.example")
        membership = PartnerMembership.objects.create(user=admin, partner=partner, role="admin")
        _key, raw = api_key_create(
            membership=membership,
            name="drill",
            scopes=scopes_allowed("admin"),
            days=30,
            role="admin",
        )
    world = World(partner=partner, admin=admin, product=product, api_key=raw)
    if keys + customers:
        _batch, world.keys = batch_generate(
            product=product, count=keys + customers, seats_per_key=1, partner=partner, actor=None
        )
    world.customers = [customer_make(world, f"renew{n:03d}").pk for n in range(customers)]
    return world


def customer_details(prefix: str, **overrides) -> dict[str, str]:
    """Step 2's fields for a new customer: each prefix gives its own name and admin address."""
    return {
        "country": "FR",
        "name": f"Customer {prefix}",
        "admin_first_name": "Megan",
        "admin_last_name": "Bowen",
        "admin_email": f"admin@{prefix}.example",
        "admin_phone": "+33 1 23 45 67 89",
        "language": "en",
        "domain_prefix": prefix,
        **overrides,
    }


def customer_make(world: World, prefix: str):
    from tenants.services import TenantDetails, tenant_create_from_keys

    return tenant_create_from_keys(
        user=world.admin,
        partner=world.partner,
        raw_keys=world.take_keys(1),
        details=TenantDetails(**customer_details(prefix)),
        client_address=None,
    )


def customer_admin(tenant, email: str):
    """An activated admin of `tenant`, with a password and an authenticator app."""
    from tenants.models import TenantUser

    user = person(email)
    TenantUser.objects.create(
        tenant=tenant,
        user=user,
        first_name="Lee",
        last_name="Gu",
        username="lee.gu",
        email=email,
        is_admin=True,
    )
    return user


def _customers_with_an_admin(world: World, count: int, label: str, first_name: str) -> list:
    """`count` customers of Northwind named "`label` 0000"…, each with one admin whose first name
    is `first_name` (in the caller's transaction)."""
    from tenants.models import Tenant, TenantUser

    slug = label.lower()
    tenants = Tenant.objects.bulk_create(
        Tenant(
            name=f"{label} {n:04d}",
            domain_prefix=f"{slug}{n:04d}",
            country="FR",
            preferred_language="en",
            created_by_partner=world.partner,
        )
        for n in range(count)
    )
    TenantUser.objects.bulk_create(
        TenantUser(
            tenant=t,
            first_name=first_name,
            last_name=f"{label}{n:04d}",
            username=first_name.lower(),
            email=f"admin@{slug}{n:04d}.example",
            is_admin=True,
        )
        for n, t in enumerate(tenants)
    )
    return tenants


def due_subscriptions(world: World, count: int, *, days_left: int = 30) -> list[int]:
    """`count` customers, each with an admin and a subscription ending in `days_left` days whose
    renewal notice is due today (Northwind their partner of record): two notices each."""
    from tenants.models import Subscription

    today = timezone.localdate()
    end = today + datetime.timedelta(days=days_left)
    with transaction.atomic():
        tenants = _customers_with_an_admin(world, count, "Due", "Ada")
        rows = Subscription.objects.bulk_create(
            Subscription(
                tenant=t,
                product=world.product,
                seats=5,
                start_date=end - datetime.timedelta(days=364),
                end_date=end,
                created_by_partner=world.partner,
                partner_of_record=world.partner,
                renewal_notice_on=today,
            )
            for t in tenants
        )
    return [row.pk for row in rows]


def ending_relationships(world: World, count: int, *, days_left: int = 7) -> list[int]:
    """`count` customers under a delegated-admin relationship with Northwind ending in
    `days_left` days, each with an admin: two end-of-term notices each (both sides)."""
    from tenants.models import DelegationOffer, DelegationRelationship

    today, now = timezone.localdate(), timezone.now()
    with transaction.atomic():
        tenants = _customers_with_an_admin(world, count, "Delegated", "Bo")
        offers = DelegationOffer.objects.bulk_create(
            DelegationOffer(
                partner=world.partner,
                tenant=t,
                roles=["helpdesk"],
                duration_days=60,
                state="accepted",
                created_by=world.admin,
                created_at=now,
                answered_at=now,
                expires_at=now + datetime.timedelta(days=90),
            )
            for t in tenants
        )
        rows = DelegationRelationship.objects.bulk_create(
            DelegationRelationship(
                offer=o,
                partner=world.partner,
                tenant=o.tenant,
                roles=["helpdesk"],
                starts_on=today - datetime.timedelta(days=53),
                ends_on=today + datetime.timedelta(days=days_left),
            )
            for o in offers
        )
    return [row.pk for row in rows]


def activity(world: World, relationships: list[int], per_relationship: int) -> int:
    """Entries of the delegated-admin activity log under `relationships` (what the partner's
    users did in those customers): the export reads them in chunks (QuerySet.iterator())."""
    from tenants.models import ActivityLog, DelegationRelationship

    rows = ActivityLog.objects.bulk_create(
        ActivityLog(
            tenant_id=relationship.tenant_id,
            relationship=relationship,
            partner=world.partner,
            actor=world.admin,
            actor_label=world.admin.email,
            action="tenant_user.changed",
            target_label=f"User {n}",
        )
        for relationship in DelegationRelationship.objects.filter(pk__in=relationships)
        for n in range(per_relationship)
    )
    return len(rows)


def outbox_batch(count: int) -> set[str]:
    """`count` e-mails written to the outbox at once, as a sweep writes them."""
    from email.utils import make_msgid

    from post_office.models import PRIORITY, STATUS, Email

    with transaction.atomic():
        rows = Email.objects.bulk_create(
            Email(
                from_email="Partner Key Portal <no-reply@portal.example>",
                to=[f"reader{n}@batch.example"],
                subject=f"Batch message {n}",
                message="A message of the drill's batch.",
                status=STATUS.queued,
                priority=PRIORITY.medium,
                message_id=make_msgid(domain="portal.example"),
            )
            for n in range(count)
        )
    return {row.message_id for row in rows}
