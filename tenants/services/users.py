"""The customer's users and their licenses (design §3, "Existing tenant"): add, edit and remove
users, assign and unassign licenses, never beyond the seats bought.

Every function takes the acting party's `TenantAccess` (the caller got it from the tenant rule)
and records it in the audit log.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.identity import email_normalize
from portal.models import User
from tenants.access import Permission, TenantAccess
from tenants.audit import act_record
from tenants.emails import activation_email_queue
from tenants.lifecycle import subscription_state
from tenants.models import USERNAME_PATTERN, License, Subscription, Tenant, TenantUser

# Licenses of these subscriptions cannot be assigned (the lifecycle: renew first).
UNASSIGNABLE_STATES = {Subscription.State.DISABLED, Subscription.State.DELETED}


class TenantUserError(Exception):
    """Nothing changed. `field` names the form field the problem is about, if any."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)


class LicenseError(Exception):
    """Nothing changed: the message says why, in words the admin can act on."""


# What editing a user changes (their language is theirs to choose, once signed in).
USER_EDITED_FIELDS = ("first_name", "last_name", "username", "email", "phone", "is_admin")


@dataclass(frozen=True)
class UserDetails:
    first_name: str
    last_name: str
    username: str
    email: str
    phone: str
    is_admin: bool
    language: str = "en"


def username_problem(
    username: str, tenant: Tenant, exclude: TenantUser | None = None
) -> str | None:
    """Why `username` cannot be this tenant's user's name (format, taken), or None."""
    problem = username_format_problem(username, tenant)
    if problem:
        return problem
    taken = TenantUser.objects.filter(tenant=tenant, username=username)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        return username_taken_message(username, tenant)
    return None


def username_taken_message(username: str, tenant: Tenant) -> str:
    return _("%(name)s is already taken.") % {"name": f"{username}@{tenant.domain}"}


def username_format_problem(username: str, tenant: Tenant) -> str | None:
    """What is wrong with the shape of `username`, without asking the database (an import
    checks thousands of names, then asks once which are taken)."""
    if not username:
        return _("Enter a user name.")
    if "@" in username:
        return _("Type only the part before the @: the domain is always %(domain)s.") % {
            "domain": tenant.domain
        }
    if len(username) > 64:
        return _("A user name has at most 64 characters.")
    if not re.fullmatch(r"[a-z0-9.-]+", username):
        return _("Use only lower-case letters, digits, dots and hyphens.")
    if not re.fullmatch(USERNAME_PATTERN, username) or ".." in username:
        return _("A user name starts and ends with a letter or a digit, without two dots in a row.")
    return None


def user_email_problem(email: str, tenant: Tenant, exclude: TenantUser | None = None) -> str | None:
    """Why this contact address cannot be used (it is also the person's sign-in), or None."""
    email = email_normalize(email)
    accounts = User.objects.filter(email=email)
    members = TenantUser.objects.filter(tenant=tenant, email=email)
    if exclude is not None:
        members = members.exclude(pk=exclude.pk)
        if exclude.user_id:
            accounts = accounts.exclude(pk=exclude.user_id)
    if members.exists() or accounts.exists():
        return email_taken_message()
    return None


def email_taken_message() -> str:
    return _("An account already uses this e-mail address. Enter another address.")


def _check(problem: str | None, field: str) -> None:
    if problem:
        raise TenantUserError(problem, field=field)


def _lock_tenant(tenant: Tenant) -> None:
    # Changes to who is an admin take turns per tenant: two admins demoting each other at once
    # must not leave the tenant without one.
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()


def tenant_user_add(
    *, access: TenantAccess, details: UserDetails, subscriptions: Sequence[Subscription] = ()
) -> TenantUser:
    """ "Add a user": the tenant user and their portal account (no password: they choose it
    through the activation link, which is queued in the same transaction), with a license of
    each of `subscriptions`. A license that cannot be assigned (LicenseError: a seat taken
    meanwhile) leaves nothing behind: neither the user nor the e-mail."""
    access.require(Permission.USERS_MANAGE)
    if subscriptions:
        access.require(Permission.LICENSES_MANAGE)
    if details.is_admin:
        _require_admins(access)
    tenant = access.tenant
    _check(username_problem(details.username, tenant), "username")
    _check(user_email_problem(details.email, tenant), "email")
    try:
        with transaction.atomic():
            account = User.objects.create_user(
                details.email,
                password=None,
                first_name=details.first_name,
                last_name=details.last_name,
                language=details.language,
            )
            tenant_user = TenantUser.objects.create(
                tenant=tenant,
                user=account,
                first_name=details.first_name,
                last_name=details.last_name,
                username=details.username,
                email=account.email,
                phone=details.phone,
                is_admin=details.is_admin,
                created_at=timezone.now(),
            )
            act_record(
                access,
                action="tenant_user.created",
                target=tenant_user,
                details={"admin": details.is_admin},
                activity_details={"username": tenant_user.username, "admin": details.is_admin},
            )
            activation_email_queue(account=tenant_user, added_by=_added_by(access))
            for subscription in subscriptions:
                # The same seat rule and row lock as "Assign a license".
                license_assign(access=access, subscription=subscription, tenant_user=tenant_user)
    except IntegrityError:
        # Someone took the name or the address between the check and the insert.
        _check(username_problem(details.username, tenant), "username")
        _check(user_email_problem(details.email, tenant), "email")
        raise
    return tenant_user


@dataclass(frozen=True)
class _Adder:
    full_name: str


def _added_by(access: TenantAccess):
    """Who the activation e-mail says added the person: the tenant's admin, or the partner
    acting under a delegated-admin relationship (named with its organization)."""
    if access.tenant_user is not None or access.relationship is None:
        return access.tenant_user
    name = access.user.get_full_name() or access.user.email
    return _Adder(full_name=f"{name} ({access.partner.name})")


def _require_admins(access: TenantAccess) -> None:
    # A delegated user administrator manages users, not administrators (design, "Access").
    if not access.can(Permission.ADMINS_MANAGE):
        raise TenantUserError(
            _(
                "Only the organization's administrators can make, change or remove an "
                "administrator."
            ),
            field="is_admin",
        )


def _other_admins(tenant_user: TenantUser) -> int:
    return (
        TenantUser.objects.filter(tenant_id=tenant_user.tenant_id, is_admin=True)
        .exclude(pk=tenant_user.pk)
        .count()
    )


def tenant_user_edit(
    *, access: TenantAccess, tenant_user: TenantUser, details: UserDetails
) -> bool:
    """Change a user's name, user name, contact e-mail (also their sign-in), phone or admin
    role. The last admin cannot stop being one. Returns whether anything changed."""
    access.require(Permission.USERS_MANAGE)
    tenant = access.tenant
    if tenant_user.tenant_id != tenant.pk:
        raise ValueError("The user is not in the tenant the access was checked for.")
    _check(username_problem(details.username, tenant, exclude=tenant_user), "username")
    _check(user_email_problem(details.email, tenant, exclude=tenant_user), "email")
    with transaction.atomic():
        _lock_tenant(tenant)
        current = TenantUser.objects.select_for_update().get(pk=tenant_user.pk)
        if current.is_admin or details.is_admin:
            _require_admins(access)
        if current.is_admin and not details.is_admin:
            if current.pk == getattr(access.tenant_user, "pk", None):
                raise TenantUserError(
                    _("You cannot remove your own admin role. Ask another administrator."),
                    field="is_admin",
                )
            if _other_admins(current) == 0:
                raise TenantUserError(
                    _("%(name)s is the last administrator: the organization needs one.")
                    % {"name": current.full_name},
                    field="is_admin",
                )
        new = {field: getattr(details, field) for field in USER_EDITED_FIELDS}
        new["email"] = email_normalize(new["email"])
        changes = {
            field: [getattr(current, field), value]
            for field, value in new.items()
            if getattr(current, field) != value
        }
        if not changes:
            return False
        for field, value in new.items():
            setattr(current, field, value)
        try:
            with transaction.atomic():
                current.save(update_fields=list(new))
                if current.user_id:
                    User.objects.filter(pk=current.user_id).update(
                        email=current.email,
                        first_name=current.first_name,
                        last_name=current.last_name,
                    )
        except IntegrityError:
            _check(username_problem(details.username, tenant, exclude=current), "username")
            _check(user_email_problem(details.email, tenant, exclude=current), "email")
            raise
        act_record(
            access, action="tenant_user.changed", target=current, details={"changes": changes}
        )
    tenant_user.refresh_from_db()
    return True


def tenant_user_remove(*, access: TenantAccess, tenant_user: TenantUser) -> int:
    """Remove a user: their licenses are freed and their portal account is deleted. Neither
    the last admin nor oneself. Returns the number of licenses freed."""
    access.require(Permission.USERS_MANAGE)
    if tenant_user.tenant_id != access.tenant.pk:
        raise ValueError("The user is not in the tenant the access was checked for.")
    if tenant_user.pk == getattr(access.tenant_user, "pk", None):
        raise TenantUserError(_("You cannot remove your own account. Ask another administrator."))
    with transaction.atomic():
        _lock_tenant(access.tenant)
        current = TenantUser.objects.select_for_update().filter(pk=tenant_user.pk).first()
        if current is None:
            return 0  # removed already (a double submit)
        if current.is_admin:
            _require_admins(access)
        if current.is_admin and _other_admins(current) == 0:
            raise TenantUserError(
                _("%(name)s is the last administrator: the organization needs one.")
                % {"name": current.full_name}
            )
        licenses = list(
            License.objects.filter(tenant_user=current).values_list(
                "subscription__product__sku", flat=True
            )
        )
        act_record(
            access,
            action="tenant_user.removed",
            target=current,
            details={
                "username": current.username,
                "email": current.email,
                "admin": current.is_admin,
                "licenses_freed": sorted(licenses),
            },
            activity_details={"username": current.username, "licenses_freed": sorted(licenses)},
        )
        account_id = current.user_id
        current.delete()  # its licenses go with it
        if account_id:
            User.objects.filter(pk=account_id).delete()
    return len(licenses)


def subscription_unassignable(subscription: Subscription, today) -> str | None:
    """Why no license of `subscription` can be assigned today, or None: the one rule that
    `license_assign`, the add-user form and an import of users ask."""
    # The dates decide (tenants.lifecycle): a late lifecycle sweep opens no window.
    state = subscription_state(subscription, today)
    if state in UNASSIGNABLE_STATES:
        return _("The %(product)s subscription is %(state)s: its licenses cannot be assigned.") % {
            "product": subscription.product.name,
            "state": Subscription.State(state).label.lower(),
        }
    if subscription.ended_by_direct_billing:
        return _(
            "The prepaid %(product)s subscription ended when it switched to direct "
            "billing: assign the licenses of the new one."
        ) % {"product": subscription.product.name}
    return None


def seats_full_message(subscription: Subscription) -> str:
    return _(
        "All %(seats)d seats of %(product)s are assigned. Unassign a license first, "
        "or ask your partner for more licenses."
    ) % {"seats": subscription.seats, "product": subscription.product.name}


@dataclass(frozen=True)
class SeatChoice:
    """A subscription as the add-user form offers it: its free seats, or why it cannot be
    chosen (`problem`)."""

    subscription: Subscription
    used: int
    unassignable: str | None  # subscription_unassignable's reason

    @property
    def free(self) -> int:
        return max(self.subscription.seats - self.used, 0)

    @property
    def problem(self) -> str | None:
        if self.unassignable:
            return self.unassignable
        return None if self.free else _("All seats are assigned.")


def seat_choices(tenant: Tenant, today) -> list[SeatChoice]:
    """Every subscription of the tenant with its free seats, by product: what a new user can
    get. A read for the form; `license_assign` counts again under its lock."""
    subscriptions = (
        Subscription.objects.filter(tenant=tenant)
        .select_related("product")
        .annotate(used=Count("licenses"))
        .order_by("product__name", "-end_date", "pk")
    )
    return [
        SeatChoice(subscription, subscription.used, subscription_unassignable(subscription, today))
        for subscription in subscriptions
    ]


def license_assign(
    *, access: TenantAccess, subscription: Subscription, tenant_user: TenantUser
) -> bool:
    """Assign one seat of `subscription` to `tenant_user`. False when they already have it.

    The subscription row is locked, then the licenses counted, then one inserted: two admins
    racing for the last seat take turns, and the second one counts the first one's license.
    """
    access.require(Permission.LICENSES_MANAGE)
    tenant = access.tenant
    if subscription.tenant_id != tenant.pk or tenant_user.tenant_id != tenant.pk:
        raise ValueError("The subscription or the user is not in the tenant of the access.")
    with transaction.atomic():
        locked = (
            Subscription.objects.select_for_update()
            .select_related("product")
            .get(pk=subscription.pk)
        )
        problem = subscription_unassignable(locked, timezone.localdate())
        if problem:
            raise LicenseError(problem)
        if License.objects.filter(subscription=locked, tenant_user=tenant_user).exists():
            return False
        used = License.objects.filter(subscription=locked).count()
        if used >= locked.seats:
            raise LicenseError(seats_full_message(locked))
        License.objects.create(subscription=locked, tenant_user=tenant_user)
        act_record(
            access,
            action="license.assigned",
            target=locked,
            details={"tenant_user": tenant_user.pk, "username": tenant_user.username},
            activity_details={"username": tenant_user.username},
            person=tenant_user,
        )
    return True


def license_unassign(
    *, access: TenantAccess, subscription: Subscription, tenant_user: TenantUser
) -> bool:
    """Free `tenant_user`'s seat of `subscription`. False when they had none."""
    access.require(Permission.LICENSES_MANAGE)
    if subscription.tenant_id != access.tenant.pk or tenant_user.tenant_id != access.tenant.pk:
        raise ValueError("The subscription or the user is not in the tenant of the access.")
    with transaction.atomic():
        deleted, _rows = License.objects.filter(
            subscription=subscription, tenant_user=tenant_user
        ).delete()
        if not deleted:
            return False
        act_record(
            access,
            action="license.unassigned",
            target=subscription,
            details={"tenant_user": tenant_user.pk, "username": tenant_user.username},
            activity_details={"username": tenant_user.username},
            person=tenant_user,
        )
    return True
