"""Reads that several places share: a tenant's users with their licenses (the users page and the
API), a partner's customers, and who receives a tenant's or a partner's e-mail.

Who receives a tenant's or a partner's e-mail: the one rule, for every e-mail and ledger.
A tenant's e-mail goes to its admins, each in the language saved on their account (the tenant's
preferred language for an admin without one yet). A partner's goes to its active partner admins
in theirs; a partner with no admin gets it at its contact address, in English. The ledgers of
once-only notices record the account as well as the address, hence `Recipient.user`.

A partner's customer list (`partner_customer_list`) and one customer as the partner sees it
(`partner_customer_of`): for the partner's pages and the API alike.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import (
    Case,
    Count,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from portal.models import Partner, PartnerMembership, User
from tenants import access as tenant_rule
from tenants.access import Permission, TenantAccess
from tenants.models import License, Subscription, Tenant, TenantUser

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
    return admins_of_tenants([tenant.pk])


def admins_of_tenants(tenant_ids: Iterable[int]) -> QuerySet[TenantUser]:
    """These tenants' admins, with their portal accounts, by name."""
    return TenantUser.objects.filter(tenant_id__in=tenant_ids, is_admin=True).select_related("user")


class RecipientBook:
    """Who receives the e-mail of these tenants and partners: one query for all the tenants'
    admins, one for all the partners' admins, however many there are (a sweep's batch asks it
    for each of its rows). `recipients`, `both_sides` and the functions below ask it for one."""

    def __init__(
        self,
        *,
        tenants: Iterable[Tenant | None] = (),
        partners: Iterable[Partner | None] = (),
    ):
        self._tenants = _tenant_admins({t.pk: t for t in tenants if t is not None})
        self._partners = _partner_admins({p.pk: p for p in partners if p is not None})

    def tenant_admins(self, tenant: Tenant) -> list[Recipient]:
        return self._tenants[tenant.pk]

    def partner_admins(self, partner: Partner) -> list[Recipient]:
        return self._partners[partner.pk]

    def recipients(
        self, *, tenant: Tenant | None = None, partner: Partner | None = None
    ) -> list[Recipient]:
        """The tenant's admins, then the partner's admins, each address once (the first wins)."""
        found: dict[str, Recipient] = {}
        for recipient in [
            *(self.tenant_admins(tenant) if tenant is not None else []),
            *(self.partner_admins(partner) if partner is not None else []),
        ]:
            found.setdefault(recipient.email, recipient)
        return list(found.values())

    def both_sides(self, *, tenant: Tenant, partner: Partner) -> list[Recipient]:
        """A delegated-admin offer's or relationship's two sides: the partner's admins, then the
        tenant's admins (each side's e-mail says different things, so nobody is merged)."""
        return [*self.partner_admins(partner), *self.tenant_admins(tenant)]


def _tenant_admins(tenants: dict[int, Tenant]) -> dict[int, list[Recipient]]:
    """Each tenant's admins, by name, each in the language of their account (the tenant's
    preferred language for an admin without one yet)."""
    found: dict[int, list[Recipient]] = {pk: [] for pk in tenants}
    if not tenants:
        return found
    for admin in admins_of_tenants(tenants):
        tenant = tenants[admin.tenant_id]
        found[tenant.pk].append(
            Recipient(
                email=admin.email,
                language=admin.user.language if admin.user else tenant.preferred_language,
                user=admin.user,
                for_partner=False,
            )
        )
    return found


def _partner_admins(partners: dict[int, Partner]) -> dict[int, list[Recipient]]:
    """Each partner's active admins, in their languages; its contact address, in English, when
    it has none."""
    found: dict[int, list[Recipient]] = {pk: [] for pk in partners}
    if partners:
        memberships = (
            PartnerMembership.objects.filter(
                partner_id__in=partners, role=PartnerMembership.Role.ADMIN, user__is_active=True
            )
            .select_related("user")
            .order_by("pk")
        )
        for m in memberships:
            found[m.partner_id].append(
                Recipient(
                    email=m.user.email, language=m.user.language, user=m.user, for_partner=True
                )
            )
    return {
        pk: found[pk]
        or [
            Recipient(email=p.contact_email, language=CONTACT_LANGUAGE, user=None, for_partner=True)
        ]
        for pk, p in partners.items()
    }


def tenant_admin_recipients(tenant: Tenant) -> list[Recipient]:
    return RecipientBook(tenants=[tenant]).tenant_admins(tenant)


def partner_admin_recipients(partner: Partner) -> list[Recipient]:
    return RecipientBook(partners=[partner]).partner_admins(partner)


def recipients(*, tenant: Tenant | None = None, partner: Partner | None = None) -> list[Recipient]:
    """The tenant's admins, then the partner's admins, each address once (the first wins)."""
    return RecipientBook(tenants=[tenant], partners=[partner]).recipients(
        tenant=tenant, partner=partner
    )


def both_sides(*, tenant: Tenant, partner: Partner) -> list[Recipient]:
    """A delegated-admin offer's or relationship's two sides (RecipientBook.both_sides)."""
    return RecipientBook(tenants=[tenant], partners=[partner]).both_sides(
        tenant=tenant, partner=partner
    )


# --- A partner's customers ---------------------------------------------------------------------

# The customer list's sort orders: by name, or the soonest end date first (none last: a customer
# with no subscription the partner may read sorts after every date). Each ends with the primary
# key, so that an order is total (the API's cursor needs it).
CUSTOMER_ORDERS = {
    "name": ("name", "id"),
    "end": ("end_order", "name", "id"),
}
NO_END_DATE = date.max  # `end_order` of a customer with no readable subscription

MAX_SEARCH_WORDS = 5
MAX_SEARCH_LENGTH = 100  # characters of a search kept


def partner_may(partner: Partner, permission: Permission) -> Case:
    """For an annotation on tenants: whether the rule gives the partner `permission` in the
    row's tenant. True or False, never NULL (a tenant no partner created compares NULL to the
    partner). In SQL only where a query sorts or filters on it: a page's rows learn it from
    `customer_rows`, two small queries instead of the rule compiled into every column."""
    return Case(
        When(tenant_rule.partner_customer_q(partner, permission=permission), then=Value(True)),
        default=Value(False),
    )


def partner_next_end(partner: Partner) -> Case:
    """For an annotation on tenants: the soonest end date of the subscriptions the partner may
    read there (NULL: none), for sorting and filtering on it. A sub-query, not MIN over a join:
    no GROUP BY, and the paginator's count leaves it out. `customer_hints` reads the same date
    off the rows' subscriptions."""
    soonest = Subscription.objects.filter(tenant=OuterRef("pk")).order_by("end_date")
    readable = partner_may(partner, Permission.SUBSCRIPTIONS_READ)
    return Case(When(Q(readable), then=Subquery(soonest.values("end_date")[:1])))


def partner_customer_list(
    partner: Partner,
    search: str = "",
    order: str = "name",
    tenants: QuerySet[Tenant] | None = None,
) -> QuerySet[Tenant]:
    """The partner's customers with their subscriptions: a fixed number of queries per page.
    What the list shows of each row (readable subscriptions, next end date, what the partner may
    do) comes from `customer_rows`, once the page is read.

    Each word of `search` must match the name, the domain, or an admin's name or e-mail.
    `tenants` narrows the list to tenants the rule already allowed (one customer's page).
    """
    tenants = (
        tenant_rule.partner_customers(partner) if tenants is None else tenants
    ).prefetch_related(
        Prefetch(
            "subscriptions",
            queryset=Subscription.objects.select_related("product")
            .annotate(seats_used=Count("licenses"))
            .order_by("end_date", "id"),  # `customer_hints`: the soonest first
        )
    )
    if order == "end":  # only then: the rule once more
        end = Coalesce(partner_next_end(partner), Value(NO_END_DATE))
        tenants = tenants.annotate(end_order=end)
    tenants = tenants.order_by(*CUSTOMER_ORDERS.get(order, CUSTOMER_ORDERS["name"]))
    for word in search.split()[:MAX_SEARCH_WORDS]:
        admins = TenantUser.objects.filter(tenant=OuterRef("pk"), is_admin=True).filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        )
        tenants = tenants.filter(
            Q(name__icontains=word) | Q(domain_prefix__icontains=word) | Exists(admins)
        )
    return tenants


def customer_rows(partner: Partner, tenants: Iterable[Tenant]) -> list[Tenant]:
    """A page of `partner_customer_list`, each row with what the list shows of it
    (`customer_hints`), from the partner's standing in each (the rule, two queries)."""
    tenants = list(tenants)
    standings = tenant_rule.partner_standings(partner, [tenant.pk for tenant in tenants])
    return [customer_hints(tenant, standings.get(tenant.pk)) for tenant in tenants]


def customer_hints(tenant: Tenant, access: TenantAccess | None) -> Tenant:
    """What a customer's row shows, from the partner's standing in it: whether it may read the
    subscriptions (else the list hides them), redeem, read the users, and the soonest end date of
    the subscriptions it may read (`tenant` from `partner_customer_list`: its subscriptions read,
    the soonest first). None: no standing (any more) — nothing shown."""

    def can(permission: Permission) -> bool:
        return access is not None and access.can(permission)

    tenant.sees_subscriptions = can(Permission.SUBSCRIPTIONS_READ)
    tenant.may_redeem = can(Permission.REDEEM)
    tenant.may_read_users = can(Permission.USERS_READ)
    subscriptions = tenant.subscriptions.all()
    readable = tenant.sees_subscriptions and subscriptions
    tenant.next_end_date = subscriptions[0].end_date if readable else None
    return tenant


def partner_customer_of(user: User, partner: Partner, pk: int) -> tuple[TenantAccess, Tenant]:
    """One customer as the partner may see it (next end date, subscriptions), and the partner's
    standing in it: the tenant rule decides (READ), or Http404."""
    access = tenant_rule.tenant_access(user=user, tenant_id=pk, permission=Permission.READ)
    # The rule decided: a customer under a delegated-admin relationship only is in no list.
    only = Tenant.objects.filter(pk=access.tenant.pk)
    tenant = partner_customer_list(partner, tenants=only).first()
    if tenant is None:
        raise Http404
    return access, customer_hints(tenant, access)
