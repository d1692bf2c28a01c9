"""Who may act on a tenant, and as what: the one rule (design, "Access").

`portal.access` says who a signed-in person is (partner member, customer user, staff); this
module says what they may do *in a given tenant*. It answers a capacity:

- the tenant's own admin: everything in the tenant;
- a tenant user who is not an admin: their own licenses;
- a partner that created the tenant or is partner of record for one of its subscriptions: read
  the customer, redeem keys into it (add licenses, renew), resend its admins' activation;
- a partner under an active delegated-admin relationship: what its roles allow (ROLE_PERMISSIONS),
  checked on every request, so access ends the moment the relationship does;
- or nothing: 404, the same answer as for a tenant that does not exist, so that nobody learns
  that a tenant exists.

Views get the tenant from `tenant_access`, never from a bare `get()`, and services take the
`TenantAccess` to record who acted and in which capacity.
"""

import enum
import functools
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from portal.access import customer_user_account, partner_membership
from portal.models import Partner, PartnerMembership, User
from tenants.lifecycle import direct_billing_open, in_lifecycle
from tenants.models import (
    DelegatedRole,
    DelegationOffer,
    DelegationRelationship,
    Subscription,
    Tenant,
    TenantUser,
    UserImport,
)


class Capacity(enum.StrEnum):
    TENANT_ADMIN = "tenant_admin"
    TENANT_USER = "tenant_user"
    PARTNER = "partner"
    DELEGATED = "delegated"  # a partner under an active delegated-admin relationship


class Permission(enum.StrEnum):
    READ = "read"  # see the customer: organization, subscriptions, admins
    REDEEM = "redeem"  # redeem product keys into it: add licenses, renew
    RESEND_ACTIVATION = "resend_activation"  # send an admin's activation link again
    MANAGE = "manage"  # the tenant's own settings (partner of record, delegated admin, activity)
    OWN_LICENSES = "own_licenses"  # see one's own licenses
    USERS_READ = "users_read"  # see the users and their licenses
    USERS_MANAGE = "users_manage"  # add, edit, remove users who are not admins
    ADMINS_MANAGE = "admins_manage"  # make, edit, remove administrators
    USER_ACTIVATION_RESEND = "user_activation_resend"  # send a user's activation again
    LICENSES_MANAGE = "licenses_manage"  # assign and unassign licenses
    SUBSCRIPTIONS_READ = "subscriptions_read"  # subscriptions: seats, dates, states
    DIRECT_BILLING = "direct_billing"  # switch a subscription to direct billing (renewals)


PERMISSIONS: dict[Capacity, frozenset[Permission]] = {
    Capacity.TENANT_ADMIN: frozenset(Permission),
    Capacity.TENANT_USER: frozenset({Permission.OWN_LICENSES}),
    Capacity.PARTNER: frozenset(
        {
            Permission.READ,
            Permission.REDEEM,
            Permission.RESEND_ACTIVATION,
            Permission.USERS_READ,
            Permission.SUBSCRIPTIONS_READ,
        }
    ),
}

# What each delegated role allows (design, "Access"). A partner under a relationship also sees
# the customer (READ); it keeps what it has as creator or partner of record.
ROLE_PERMISSIONS: dict[DelegatedRole, frozenset[Permission]] = {
    # Everything the tenant's admin may, but not "one's own licenses": the partner has none.
    DelegatedRole.GLOBAL_ADMIN: frozenset(Permission) - {Permission.OWN_LICENSES},
    DelegatedRole.USER_ADMIN: frozenset(
        {Permission.USERS_READ, Permission.USERS_MANAGE, Permission.USER_ACTIVATION_RESEND}
    ),
    DelegatedRole.LICENSE_ADMIN: frozenset({Permission.USERS_READ, Permission.LICENSES_MANAGE}),
    DelegatedRole.BILLING_READER: frozenset({Permission.SUBSCRIPTIONS_READ}),
    DelegatedRole.HELPDESK: frozenset({Permission.USERS_READ, Permission.USER_ACTIVATION_RESEND}),
}


def role_permissions(roles) -> frozenset[Permission]:
    granted = {Permission.READ}
    for role in roles:
        granted |= ROLE_PERMISSIONS[DelegatedRole(role)]
    return frozenset(granted)


@dataclass(frozen=True)
class TenantAccess:
    """A person's standing in one tenant. Services take it and audit the acting party."""

    user: User | None  # None: the partner itself, nobody acting (`partner_standing`)
    tenant: Tenant
    capacity: Capacity
    partner: Partner | None = None  # the partner acting, for the partner capacities
    membership: PartnerMembership | None = None
    tenant_user: TenantUser | None = None  # the person's own record, for the tenant capacities
    # Under a delegated-admin relationship: the relationship, and what its roles allow.
    relationship: DelegationRelationship | None = None
    granted: frozenset[Permission] | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return self.granted if self.granted is not None else PERMISSIONS[self.capacity]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> "TenantAccess":
        """The same 404 as a missing tenant: never say what exists or what one may not do."""
        if not self.can(permission):
            raise Http404
        return self

    @property
    def audit_details(self) -> dict[str, str | int]:
        """Added to every audit event written under this access: who acted as what."""
        if self.relationship is not None:
            return {"capacity": str(self.capacity), "relationship": self.relationship.pk}
        return {"capacity": str(self.capacity)}


def roles_granting(permission: Permission) -> list[DelegatedRole]:
    """The delegated roles whose relationship allows `permission` (READ: every role)."""
    return [role for role in DelegatedRole if permission in role_permissions([role])]


def _created_or_of_record(partner: Partner) -> Q:
    """The partner capacity: it created the tenant, or is partner of record for one of its
    subscriptions. EXISTS, not a join: a join on subscriptions would also feed any aggregate the
    caller adds (the customer list's next end date would count only the subscriptions of
    record)."""
    of_record = Subscription.objects.filter(tenant=OuterRef("pk"), partner_of_record=partner)
    return Q(created_by_partner=partner) | Exists(of_record)


def partner_customers(
    partner: Partner, *, permission: Permission = Permission.READ, today=None
) -> QuerySet[Tenant]:
    """A partner's customers: the tenants where this rule gives the partner `permission` — those
    it created or is partner of record for (the partner capacity), and those it administers under
    a relationship in force whose roles allow it. The one meaning of "a partner's customers", for
    the customer list (READ), the offer chooser (READ) and the renewal list (SUBSCRIPTIONS_READ).
    """
    return Tenant.objects.filter(partner_customer_q(partner, permission=permission, today=today))


def partner_customer_q(
    partner: Partner, *, permission: Permission = Permission.READ, today=None
) -> Q:
    """`partner_customers`' condition on a tenant row: true where the rule gives the partner
    `permission`. An annotation asks it of the rows it is on (the customer list's sort by the
    next end date, the API's filter on it), with no sub-query of the tenants table."""
    today = today or timezone.localdate()
    allowed = _created_or_of_record(partner) if permission in PERMISSIONS[Capacity.PARTNER] else Q()
    in_force = _granting(DelegationRelationship.objects.in_force(today), permission)
    delegated = Exists(in_force.filter(partner=partner, tenant=OuterRef("pk")))
    return allowed | delegated if allowed else Q(delegated)


def _granting(relationships: QuerySet, permission: Permission) -> QuerySet:
    """The relationships whose roles allow `permission` (READ: every one)."""
    if permission == Permission.READ:
        return relationships
    # Roles are a JSON list of the catalog's codes. `icontains` on the quoted code works on
    # PostgreSQL and on the embedded SQLite alike (JSON containment does not exist there); no
    # code is a quoted part of another.
    granting = [Q(roles__icontains=f'"{role.value}"') for role in roles_granting(permission)]
    return relationships.filter(functools.reduce(operator.or_, granting, Q(pk__in=[])))


def customer_partners(
    tenant_ids: Iterable[int],
    *,
    permission: Permission = Permission.READ,
    partner_ids: Iterable[int] | None = None,
    today=None,
) -> dict[int, set[int]]:
    """`partner_customers` read the other way: {tenant id: ids of the partners whose customer it
    is, for `permission`}, for many tenants in one query, among `partner_ids` when given (who
    hears about a tenant: webhooks). The same three sources: creator, partner of record, a
    relationship in force whose roles allow it; tests/tenants/test_customer_partners.py proves
    that both forms agree."""
    found: dict[int, set[int]] = defaultdict(set)
    tenant_ids = list(tenant_ids)
    partner_ids = None if partner_ids is None else list(partner_ids)
    if not tenant_ids or partner_ids == []:
        return found

    def among(field: str) -> dict:
        return {} if partner_ids is None else {f"{field}__in": partner_ids}

    today = today or timezone.localdate()
    relationships = _granting(DelegationRelationship.objects.in_force(today), permission)
    # No order (the models' own): ORDER BY is not allowed inside a UNION.
    pairs = (
        relationships.filter(tenant_id__in=tenant_ids, **among("partner_id"))
        .order_by()
        .values_list("tenant_id", "partner_id")
    )
    if permission in PERMISSIONS[Capacity.PARTNER]:
        created = Tenant.objects.filter(pk__in=tenant_ids, **among("created_by_partner_id"))
        of_record = Subscription.objects.filter(
            tenant_id__in=tenant_ids, **among("partner_of_record_id")
        )
        pairs = pairs.union(
            created.order_by().values_list("pk", "created_by_partner_id"),
            of_record.exclude(partner_of_record=None)
            .order_by()
            .values_list("tenant_id", "partner_of_record_id"),
        )
    for tenant_id, partner_id in pairs:
        found[tenant_id].add(partner_id)
    return found


def tenant_access(*, user: User, tenant_id: int, permission: Permission) -> TenantAccess:
    """This tenant, for this person, in which capacity; Http404 when none allows `permission`."""
    access = _tenant_capacity(user, tenant_id)
    if access is None:
        raise Http404
    return access.require(permission)


def _tenant_capacity(user: User, tenant_id: int) -> TenantAccess | None:
    if not user.is_authenticated or not user.is_active:
        return None
    account = customer_user_account(user)
    if account is not None:
        if account.tenant_id != tenant_id:
            return None
        return _customer_access(user, account)
    membership = partner_membership(user)
    if membership is not None:
        tenant = Tenant.objects.filter(
            _created_or_of_record(membership.partner), pk=tenant_id
        ).first()
        relationship = relationship_in_force(membership.partner, tenant_id)
        return _partner_capacity(user, membership, tenant, relationship)
    return None


def _partner_capacity(
    user: User | None,
    membership: PartnerMembership,
    tenant: Tenant | None,
    relationship: DelegationRelationship | None,
) -> TenantAccess | None:
    """A partner's standing in a tenant, from the tenant if it created it or is partner of record
    there (`tenant`, else None) and its relationship in force there (else None)."""
    delegated = _delegated_access(user, membership, relationship) if relationship else None
    if delegated is not None:
        if tenant is None:
            return delegated
        # Creator or partner of record too: both capacities' permissions.
        return replace(delegated, granted=delegated.granted | PERMISSIONS[Capacity.PARTNER])
    if tenant is None:
        return None
    return TenantAccess(
        user=user,
        tenant=tenant,
        capacity=Capacity.PARTNER,
        partner=membership.partner,
        membership=membership,
    )


def partner_tenant_accesses(user: User, tenant_ids) -> dict[int, TenantAccess]:
    """`tenant_access`'s answer for many tenants at once, before any permission is asked: a
    partner user's standing in each of `tenant_ids` where it has one, in two queries whatever
    their number (for a list that shows what may be done on each row). Ask `can` of each."""
    membership = partner_membership(user)
    if membership is None:
        return {}
    return _partner_accesses(user, membership, tenant_ids)


def partner_standings(partner: Partner, tenant_ids) -> dict[int, TenantAccess]:
    """`partner_standing` for many tenants at once, in two queries whatever their number: the
    partner's own standing in each of `tenant_ids` where it has one (a page of its customer
    list: what it may do in each row)."""
    admin = PartnerMembership(partner=partner, role=PartnerMembership.Role.ADMIN)  # not saved
    return _partner_accesses(None, admin, tenant_ids)


def _partner_accesses(
    user: User | None, membership: PartnerMembership, tenant_ids
) -> dict[int, TenantAccess]:
    tenant_ids = set(tenant_ids)
    if not tenant_ids:
        return {}
    partner = membership.partner
    tenants = {
        tenant.pk: tenant
        for tenant in Tenant.objects.filter(_created_or_of_record(partner), pk__in=tenant_ids)
    }
    relationships: dict[int, DelegationRelationship] = {}
    for relationship in _relationships_in_force(partner).filter(tenant_id__in=tenant_ids):
        relationships.setdefault(relationship.tenant_id, relationship)  # the latest end first
    accesses = {
        pk: _partner_capacity(user, membership, tenants.get(pk), relationships.get(pk))
        for pk in tenant_ids
    }
    return {pk: access for pk, access in accesses.items() if access is not None}


def _relationships_in_force(partner: Partner) -> QuerySet[DelegationRelationship]:
    """The partner's relationships in force today, the one that ends last first per tenant. Read
    on every request, never cached (`DelegationRelationship.objects.in_force`)."""
    return (
        DelegationRelationship.objects.in_force(timezone.localdate())
        .select_related("tenant", "partner")
        .filter(partner=partner)
        .order_by("tenant_id", "-ends_on")
    )


def partner_standing(partner: Partner, tenant_id: int) -> TenantAccess | None:
    """The partner's own standing in a tenant, as its admins have it, with nobody acting: for
    what is sent to the partner rather than shown to one of its people (its webhooks' payloads
    say what it may do, as the API says it to a partner admin's key). None when the rule gives
    it nothing there (any more: a former partner of record)."""
    admin = PartnerMembership(partner=partner, role=PartnerMembership.Role.ADMIN)  # not saved
    tenant = Tenant.objects.filter(_created_or_of_record(partner), pk=tenant_id).first()
    return _partner_capacity(None, admin, tenant, relationship_in_force(partner, tenant_id))


def relationship_in_force(partner: Partner, tenant_id: int) -> DelegationRelationship | None:
    """The partner's relationship with the tenant in force today, or None."""
    return _relationships_in_force(partner).filter(tenant_id=tenant_id).first()


def _delegated_access(
    user: User | None, membership: PartnerMembership, relationship: DelegationRelationship
) -> TenantAccess:
    return TenantAccess(
        user=user,
        tenant=relationship.tenant,
        capacity=Capacity.DELEGATED,
        partner=membership.partner,
        membership=membership,
        relationship=relationship,
        granted=role_permissions(relationship.roles),
    )


def customer_access(user: User) -> TenantAccess | None:
    """The person's standing in their own tenant (admin or user), or None."""
    account = customer_user_account(user)
    return _customer_access(user, account) if account is not None else None


def _customer_access(user: User, account: TenantUser) -> TenantAccess:
    return TenantAccess(
        user=user,
        tenant=account.tenant,
        capacity=Capacity.TENANT_ADMIN if account.is_admin else Capacity.TENANT_USER,
        tenant_user=account,
    )


def direct_billing_allowed(access: TenantAccess, subscription: Subscription) -> bool:
    """Who may switch a subscription to direct billing: the tenant's admin, a partner admin of
    the subscription's partner of record, or a partner admin under a relationship whose roles
    allow it (global administrator). Partner agents never switch (design, "Access": a partner
    admin's action)."""
    if access.membership is not None and not access.membership.is_admin:
        return False
    if access.can(Permission.DIRECT_BILLING):
        return True
    return (
        access.membership is not None
        and subscription.partner_of_record_id is not None
        and subscription.partner_of_record_id == access.membership.partner_id
    )


@dataclass(frozen=True)
class SubscriptionActions:
    """What the person may do with a subscription, as its page offers it."""

    may_renew: bool  # "Renew with a key": a prepaid subscription, in a tenant one may redeem into
    may_switch: bool  # "Switch to direct billing"


def subscription_actions(
    access: TenantAccess | None, subscription: Subscription, today: date
) -> SubscriptionActions:
    if access is None:  # no standing in the tenant (any more): nothing to offer
        return SubscriptionActions(may_renew=False, may_switch=False)
    return SubscriptionActions(
        may_renew=in_lifecycle(subscription) and access.can(Permission.REDEEM),
        may_switch=direct_billing_allowed(access, subscription)
        and direct_billing_open(subscription, today),
    )


def created_tenant(membership: PartnerMembership, pk: int) -> TenantAccess:
    """A tenant the partner created, with the partner's standing in it (READ at least, and
    SUBSCRIPTIONS_READ: its creation page shows the subscriptions); 404 for any other partner,
    whatever else it may read."""
    access = tenant_access(
        user=membership.user, tenant_id=pk, permission=Permission.SUBSCRIPTIONS_READ
    )
    if access.tenant.created_by_partner_id != membership.partner_id:
        raise Http404
    return access


def tenant_user_of(access: TenantAccess, pk: int) -> TenantUser:
    """A user of the tenant the access was checked for; the rule's 404 for anyone else's."""
    return _one_or_404(
        TenantUser.objects.select_related("user", "tenant").filter(tenant=access.tenant, pk=pk)
    )


def subscription_of(access: TenantAccess, pk: int) -> Subscription:
    """A subscription of the tenant the access was checked for; the rule's 404 otherwise."""
    return _one_or_404(
        Subscription.objects.select_related("product", "tenant", "partner_of_record").filter(
            tenant=access.tenant, pk=pk
        )
    )


def user_import_of(access: TenantAccess, pk: int) -> UserImport:
    """A file of users uploaded by this person for the tenant the access was checked for; the
    rule's 404 for anyone else's (a colleague's file too: its preview is its uploader's)."""
    return _one_or_404(
        UserImport.objects.filter(tenant=access.tenant, created_by=access.user, pk=pk)
    )


def customer_required(permission: Permission):
    """A customer page (no tenant in the URL: the person's own tenant).

    Someone who is not in any tenant gets 403 (they have no customer pages at all); a tenant user
    whose capacity does not allow the page gets the rule's 404. The view finds `request.access`,
    `request.tenant` and `request.tenant_user`.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            account = customer_user_account(request.user)
            if account is None:
                raise PermissionDenied
            access = _customer_access(request.user, account).require(permission)
            request.access = access
            request.tenant = access.tenant
            request.tenant_user = account
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def tenant_page(permission: Permission):
    """A page that serves both sides: the customer admin's own (no tenant in the URL) and the
    partner's, acting for the customer (`pk`: the tenant, under /partner/customers/<pk>/).

    The customer side is `customer_required`. The partner side is for partner users only (others
    get 403, as every partner page), and the tenant rule answers the partner's capacity there:
    404 unless it allows `permission`. The view finds `request.access`, `request.tenant`,
    `request.tenant_user` (None for a partner) and `request.acting_for` (True on the partner
    side); `tenant_url()` and the `tenant_url` template tag give the link on the same side.
    """

    def decorator(view):
        customer_view = customer_required(permission)(view)

        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            pk = kwargs.pop("pk", None)
            if pk is None:
                request.acting_for = False
                return customer_view(request, *args, **kwargs)
            if partner_membership(request.user) is None:
                raise PermissionDenied
            access = tenant_access(user=request.user, tenant_id=pk, permission=permission)
            request.access = access
            request.tenant = access.tenant
            request.tenant_user = None
            request.acting_for = True
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def tenant_url(request, page: str, *args) -> str:
    """The link to one of the tenant pages (`tenants.urls.tenant_pages`: "users", "user", …) on
    the side this page is served on: the customer's own, or the partner's, acting for the tenant.
    """
    if getattr(request, "acting_for", False):
        return reverse(f"tenants:delegated_{page}", args=[request.tenant.pk, *args])
    return reverse(f"tenants:customer_{page}", args=args)


# --- Delegated administration: offers and relationships ---------------------------------------


def offer_may_answer(access: TenantAccess | None, offer: DelegationOffer) -> bool:
    """Only an admin of the offer's own tenant answers it (not the partner, not another tenant's
    admin)."""
    return (
        access is not None
        and access.capacity == Capacity.TENANT_ADMIN
        and access.tenant.pk == offer.tenant_id
    )


def relationship_may_terminate(
    by: TenantAccess | PartnerMembership, relationship: DelegationRelationship
) -> str | None:
    """ "customer" or "partner": the side `by` ends the relationship for — the tenant's admin
    (a `TenantAccess`), or one of the partner's admins (a membership); None when neither."""
    if isinstance(by, TenantAccess):
        return "customer" if offer_may_answer(by, relationship.offer) else None
    if by.is_admin and by.partner_id == relationship.partner_id:
        return "partner"
    return None


def _one_or_404(queryset):
    found = queryset.first()
    if found is None:
        raise Http404
    return found


def partner_offer(membership: PartnerMembership, pk: int) -> DelegationOffer:
    """One of the partner's own offers; the rule's 404 for anyone else's."""
    return _one_or_404(
        DelegationOffer.objects.select_related("tenant", "partner").filter(
            pk=pk, partner_id=membership.partner_id
        )
    )


def partner_relationship(membership: PartnerMembership, pk: int) -> DelegationRelationship:
    """One of the partner's own relationships; the rule's 404 for anyone else's."""
    return _one_or_404(
        DelegationRelationship.objects.select_related("tenant", "partner", "offer").filter(
            pk=pk, partner_id=membership.partner_id
        )
    )


def tenant_offer(access: TenantAccess, pk: int) -> DelegationOffer:
    """An offer made to the tenant the access was checked for; 404 otherwise."""
    return _one_or_404(
        DelegationOffer.objects.select_related("tenant", "partner").filter(
            pk=pk, tenant=access.tenant
        )
    )


def tenant_relationship(access: TenantAccess, pk: int) -> DelegationRelationship:
    """A relationship of the tenant the access was checked for; 404 otherwise."""
    return _one_or_404(
        DelegationRelationship.objects.select_related("tenant", "partner", "offer").filter(
            pk=pk, tenant=access.tenant
        )
    )


def offer_for_answer(user: User, pk: int) -> tuple[DelegationOffer, TenantAccess]:
    """The offer of a signed e-mail link, for the admin of its tenant only; 404 for anyone else
    (the partner, another tenant's admin), as for an offer that does not exist."""
    access = customer_access(user)
    offer = DelegationOffer.objects.select_related("tenant", "partner").filter(pk=pk).first()
    if offer is None or not offer_may_answer(access, offer):
        raise Http404
    return offer, access
