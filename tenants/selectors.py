"""Reads that several places share: a tenant's users with their licenses (the users page and the
API), and who receives a tenant's or a partner's e-mail (the one rule, for every e-mail and
ledger).

A tenant's e-mail goes to its admins, each in the language saved on their account (the tenant's
preferred language for an admin without one yet). A partner's goes to its active partner admins
in theirs; a partner with no admin gets it at its contact address, in English. The ledgers of
once-only notices record the account as well as the address, hence `Recipient.user`.
"""

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects

from portal.models import Partner, PartnerMembership, User
from tenants.models import License, Tenant, TenantUser

CONTACT_LANGUAGE = "en"  # a partner's contact address has no account, so no saved language


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str
    user: User | None
    for_partner: bool  # a partner's admin (or contact address), not the tenant's

    @property
    def side(self) -> str:
        return "partner" if self.for_partner else "customer"


def licenses_by_product() -> QuerySet[License]:
    """Licenses with their subscription and product, by product name: how a user's licenses are
    listed (prefetched by `tenant_users`, or for one user with `user_licenses_prefetch`)."""
    return License.objects.select_related("subscription__product").order_by(
        "subscription__product__name"
    )


def tenant_users(tenant: Tenant, search: str = "") -> QuerySet[TenantUser]:
    """The tenant's users with their licenses: a fixed number of queries per page, whatever the
    number of users. Each word of `search` (the first 5, of its first 100 characters) must match
    a name, the user name or the contact e-mail."""
    users = (
        TenantUser.objects.filter(tenant=tenant)
        .select_related("user", "tenant")
        .prefetch_related(Prefetch("licenses", queryset=licenses_by_product()))
        .order_by("last_name", "first_name", "id")
    )
    for word in search[:100].split()[:5]:
        users = users.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
            | Q(email__icontains=word)
        )
    return users


def user_licenses_prefetch(tenant_user: TenantUser) -> TenantUser:
    """One user's licenses, loaded as `tenant_users` loads them for a page of users."""
    prefetch_related_objects([tenant_user], Prefetch("licenses", queryset=licenses_by_product()))
    return tenant_user


def tenant_admins(tenant: Tenant) -> QuerySet[TenantUser]:
    """The tenant's admins, with their portal accounts, by name."""
    return TenantUser.objects.filter(tenant_id=tenant.pk, is_admin=True).select_related("user")


def tenant_admin_recipients(tenant: Tenant) -> list[Recipient]:
    return [
        Recipient(
            email=admin.email,
            language=admin.user.language if admin.user else tenant.preferred_language,
            user=admin.user,
            for_partner=False,
        )
        for admin in tenant_admins(tenant)
    ]


def partner_admin_recipients(partner: Partner) -> list[Recipient]:
    admins = (
        PartnerMembership.objects.filter(
            partner_id=partner.pk, role=PartnerMembership.Role.ADMIN, user__is_active=True
        )
        .select_related("user")
        .order_by("pk")
    )
    recipients = [
        Recipient(email=m.user.email, language=m.user.language, user=m.user, for_partner=True)
        for m in admins
    ]
    return recipients or [
        Recipient(
            email=partner.contact_email, language=CONTACT_LANGUAGE, user=None, for_partner=True
        )
    ]


def recipients(*, tenant: Tenant | None = None, partner: Partner | None = None) -> list[Recipient]:
    """The tenant's admins, then the partner's admins, each address once (the first wins)."""
    found: dict[str, Recipient] = {}
    for recipient in [
        *(tenant_admin_recipients(tenant) if tenant is not None else []),
        *(partner_admin_recipients(partner) if partner is not None else []),
    ]:
        found.setdefault(recipient.email, recipient)
    return list(found.values())


def both_sides(*, tenant: Tenant, partner: Partner) -> list[Recipient]:
    """A delegated-admin offer's or relationship's two sides: the partner's admins, then the
    tenant's admins (each side's e-mail says different things, so nobody is merged)."""
    return [*partner_admin_recipients(partner), *tenant_admin_recipients(tenant)]
