"""The second factor's rule: who must have one, and whether a session has settled it.

One place for every decision that depends on it: `portal.access` (partner users, customer
admins), the admin site, the gate in front of every page (mfa.middleware) and the step-up before
dangerous acts (mfa.step_up). It reads django-otp's devices and session state; it imports no app.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

# When the session last proved a factor (a Unix time): sign-in and every step-up write it.
VERIFIED_AT_SESSION_KEY = "mfa_verified_at"


def factor_required(user) -> bool:
    """Partner users (admins and agents), customer admins and staff must have a second factor.
    (`factor_required_q` is the same rule in SQL.)"""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    try:
        user.partner_membership  # noqa: B018 — the look-up is the question
        return True
    except ObjectDoesNotExist:
        pass
    try:
        return bool(user.tenant_user.is_admin)
    except (AttributeError, ObjectDoesNotExist):
        return False


def factor_required_q() -> Q:
    """`factor_required` for a queryset of active users."""
    return Q(is_staff=True) | Q(partner_membership__isnull=False) | Q(tenant_user__is_admin=True)


def has_factor(user) -> bool:
    """A confirmed passkey or authenticator app (recovery codes back them up; alone they are no
    enrolment). Remembered on the user object for the request."""
    if not user.is_authenticated:
        return False
    cached = getattr(user, "_mfa_has_factor", None)
    if cached is None:
        cached = any(
            not isinstance(device, StaticDevice)
            for device in devices_for_user(user, confirmed=True)
        )
        user._mfa_has_factor = cached
    return cached


def can_verify(user) -> bool:
    """Something to verify with: a passkey, an app, or a recovery code still unused. The one
    test of "this person has a factor to prove" (the gate, the step-up, the verify page).
    Remembered on the user object for the request: the gate, the access rule and the page's
    header each ask it of a session that has not verified."""
    cached = getattr(user, "_mfa_can_verify", None)
    if cached is None:
        cached = has_factor(user) or (
            StaticToken.objects.filter(device__user=user, device__confirmed=True).exists()
        )
        user._mfa_can_verify = cached
    return cached


def grace_ends(user) -> datetime:
    return user.mfa_grace_from + timedelta(days=settings.MFA_ENROLMENT_GRACE_DAYS)


def in_grace(user) -> bool:
    """A person who must enrol but may still work without a factor (with a banner). With no
    grace days there is none, whatever the clock says."""
    return user.mfa_grace_from <= timezone.now() < grace_ends(user)


def session_verified(user) -> bool:
    """The session behind this request user proved a factor (django-otp's `is_verified`)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def factor_settled(user) -> bool:
    """Whether this request's session may act with the account's powers.

    Verified with a factor; or no factor and none owed (a tenant user who did not enrol, a
    person still in the grace period). A user object that did not come through a request (a
    task, a command) has no session to settle: it is not asked.
    """
    if not hasattr(user, "is_verified"):
        return True
    if session_verified(user):
        return True
    if can_verify(user):
        return False
    return not factor_required(user) or in_grace(user)


def enrolment_owed(user) -> bool:
    """Must enrol before anything else: no factor, one required, the grace period over."""
    return factor_required(user) and not has_factor(user) and not in_grace(user)


def verified_recently(request) -> bool:
    """The session proved a factor less than MFA_STEP_UP_MINUTES ago (the step-up's rule)."""
    if not session_verified(request.user):
        return False
    at = request.session.get(VERIFIED_AT_SESSION_KEY)
    if not isinstance(at, (int, float)):
        return False
    age = timezone.now().timestamp() - at
    return 0 <= age < settings.MFA_STEP_UP_MINUTES * 60
