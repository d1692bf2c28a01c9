"""Who may see what: the one place that answers it for partner users, customer admins and staff.

Views use the decorators; they attach what they checked to the request (`request.membership`,
`request.partner`) so the view never looks it up again. What a person may do *in a tenant* is
decided by the one rule in `tenants/access.py`.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.urls import reverse

from portal.models import PartnerMembership, User
from portal.second_factor import factor_settled


def partner_membership(user: User) -> PartnerMembership | None:
    """The person's partner membership, if this session may use it (second factor settled)."""
    if not user.is_authenticated or not user.is_active or not factor_settled(user):
        return None
    try:
        return user.partner_membership
    except ObjectDoesNotExist:
        return None


def customer_user_account(user: User):
    """The person's tenant user record (admin or not), or None.

    `tenant_user` is declared by `tenants.TenantUser`; portal only follows the relation by name so
    that it imports no app.
    """
    if not user.is_authenticated or not user.is_active or not factor_settled(user):
        return None
    try:
        return user.tenant_user
    except (AttributeError, ObjectDoesNotExist):
        return None


def customer_admin_account(user: User):
    """The customer admin's tenant user record, or None."""
    account = customer_user_account(user)
    return account if account is not None and account.is_admin else None


def home_url_for(user: User) -> str | None:
    """Where a signed-in person starts. None when the account has no role in the portal."""
    if partner_membership(user) is not None:
        return reverse("tenants:partner_dashboard")
    account = customer_user_account(user)
    if account is not None:
        # A tenant user who is not an admin sees their own licenses only.
        return reverse("tenants:customer_home" if account.is_admin else "tenants:customer_licenses")
    if user.is_active and user.is_staff and factor_settled(user):
        return reverse("admin:index")
    return None


def partner_required(view):
    """Signed in as a member of a partner organization (any role)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        membership = partner_membership(request.user)
        if membership is None:
            raise PermissionDenied
        request.membership = membership
        request.partner = membership.partner
        return view(request, *args, **kwargs)

    return wrapper


def partner_admin_required(view):
    """Signed in as a partner admin."""

    @partner_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership.is_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
