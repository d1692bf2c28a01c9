from portal.access import customer_user_account, partner_membership
from portal.second_factor import (
    factor_required,
    grace_ends,
    has_factor,
    in_grace,
    session_verified,
)


def portal(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_membership": partner_membership(user),
        "nav_customer": customer_user_account(user),
        "mfa_grace_ends": _grace_banner(user),
    }


def _grace_banner(user):
    """The date by which a person in the grace period must add a factor (None: no banner)."""
    if session_verified(user) or not factor_required(user) or has_factor(user):
        return None
    if not in_grace(user):
        return None  # the gate already holds them on the security page
    return grace_ends(user)
