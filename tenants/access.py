"""Who may act on a tenant, and as what: the one rule (design, "Access").

`portal.access` says who a signed-in person is (partner member, customer user, staff); this
module says what they may do *in a given tenant*. It answers a capacity:

- the tenant's own admin: everything in the tenant;
- a tenant user who is not an admin: their own licenses;
- a partner that created the tenant or is partner of record for one of its subscriptions: read
  the customer, redeem keys into it (add licenses, renew), resend its admins' activation;
- (issue: delegated administration) a partner under an active delegated-admin relationship:
  what its roles allow — `_delegated_access` is the place for it;
- or nothing: 404, the same answer as for a tenant that does not exist, so that nobody learns
  that a tenant exists.

Views get the tenant from `tenant_access`, never from a bare `get()`, and services take the
`TenantAccess` to record who acted and in which capacity.
"""

import enum
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from portal.access import partner_membership
from portal.models import Partner, PartnerMembership, User
from tenants.models import Subscription, Tenant, TenantUser


class Capacity(enum.StrEnum):
    TENANT_ADMIN = "tenant_admin"
    TENANT_USER = "tenant_user"
    PARTNER = "partner"


class Permission(enum.StrEnum):
    READ = "read"  # see the customer: organization, subscriptions, admins
    REDEEM = "redeem"  # redeem product keys into it: add licenses, renew
    RESEND_ACTIVATION = "resend_activation"  # send an admin's activation link again
    MANAGE = "manage"  # the tenant's own administration (users, licenses, partner of record)
    OWN_LICENSES = "own_licenses"  # see one's own licenses
    DIRECT_BILLING = "direct_billing"  # switch a subscription to direct billing (renewals)


PERMISSIONS: dict[Capacity, frozenset[Permission]] = {
    Capacity.TENANT_ADMIN: frozenset(Permission),
    Capacity.TENANT_USER: frozenset({Permission.OWN_LICENSES}),
    Capacity.PARTNER: frozenset({Permission.READ, Permission.REDEEM, Permission.RESEND_ACTIVATION}),
}


@dataclass(frozen=True)
class TenantAccess:
    """A person's standing in one tenant. Services take it and audit the acting party."""

    user: User
    tenant: Tenant
    capacity: Capacity
    partner: Partner | None = None  # the partner acting, for the partner capacities
    membership: PartnerMembership | None = None
    tenant_user: TenantUser | None = None  # the person's own record, for the tenant capacities

    def can(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.capacity]

    def require(self, permission: Permission) -> "TenantAccess":
        """The same 404 as a missing tenant: never say what exists or what one may not do."""
        if not self.can(permission):
            raise Http404
        return self

    @property
    def audit_details(self) -> dict[str, str]:
        """Added to every audit event written under this access: who acted as what."""
        return {"capacity": str(self.capacity)}


def partner_tenants(partner: Partner) -> QuerySet[Tenant]:
    """Tenants a partner may see: those it created, and those naming it partner of record.

    Filtered with EXISTS, not a join: a join on subscriptions would also feed any aggregate the
    caller adds (the customer list's next end date would count only the subscriptions of record).
    """
    of_record = Subscription.objects.filter(tenant=OuterRef("pk"), partner_of_record=partner)
    return Tenant.objects.filter(Q(created_by_partner=partner) | Exists(of_record))


def tenant_access(*, user: User, tenant_id: int, permission: Permission) -> TenantAccess:
    """This tenant, for this person, in which capacity; Http404 when none allows `permission`."""
    access = _tenant_capacity(user, tenant_id)
    if access is None:
        raise Http404
    return access.require(permission)


def _tenant_capacity(user: User, tenant_id: int) -> TenantAccess | None:
    if not user.is_authenticated or not user.is_active:
        return None
    account = customer_account(user)
    if account is not None:
        if account.tenant_id != tenant_id:
            return None
        return _customer_access(user, account)
    membership = partner_membership(user)
    if membership is not None:
        tenant = partner_tenants(membership.partner).filter(pk=tenant_id).first()
        if tenant is None:
            return None  # here: _delegated_access(membership, tenant_id) (delegated admin)
        return TenantAccess(
            user=user,
            tenant=tenant,
            capacity=Capacity.PARTNER,
            partner=membership.partner,
            membership=membership,
        )
    return None


def customer_account(user: User) -> TenantUser | None:
    """The person's own record in a customer tenant, or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    return TenantUser.objects.select_related("tenant").filter(user=user).first()


def _customer_access(user: User, account: TenantUser) -> TenantAccess:
    return TenantAccess(
        user=user,
        tenant=account.tenant,
        capacity=Capacity.TENANT_ADMIN if account.is_admin else Capacity.TENANT_USER,
        tenant_user=account,
    )


def tenant_user_of(access: TenantAccess, pk: int) -> TenantUser:
    """A user of the tenant the access was checked for; the rule's 404 for anyone else's."""
    account = (
        TenantUser.objects.select_related("user", "tenant")
        .filter(tenant=access.tenant, pk=pk)
        .first()
    )
    if account is None:
        raise Http404
    return account


def subscription_of(access: TenantAccess, pk: int) -> Subscription:
    """A subscription of the tenant the access was checked for; the rule's 404 otherwise."""
    subscription = (
        Subscription.objects.select_related("product", "tenant", "partner_of_record")
        .filter(tenant=access.tenant, pk=pk)
        .first()
    )
    if subscription is None:
        raise Http404
    return subscription


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
            account = customer_account(request.user)
            if account is None:
                raise PermissionDenied
            access = _customer_access(request.user, account).require(permission)
            request.access = access
            request.tenant = access.tenant
            request.tenant_user = account
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
