"""Everything that changes a person's second factors, and checks a code.

Each change is one transaction with its audit event and the e-mail to the person, in their
language. Pages, the admin and commands call these; nothing else writes the devices.
"""

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp_webauthn.models import WebAuthnCredential

from mfa.codes import RECOVERY_CODE_COUNT, recovery_code_digest, recovery_code_new
from mfa.models import AuthenticatorApp
from portal.emails import email_queue
from portal.models import User
from portal.second_factor import VERIFIED_AT_SESSION_KEY, factor_required
from portal.services import attempt_settle, audit_log
from portal.throttle import Counter, attempt_start

FACTOR_KINDS = {
    WebAuthnCredential: "passkey",
    AuthenticatorApp: "app",
    StaticDevice: "recovery_codes",
}


def _where(user: User) -> dict:
    """The partner and tenant an audit event about this person belongs to."""
    where = {}
    with contextlib.suppress(ObjectDoesNotExist):
        where["partner"] = user.partner_membership.partner
    with contextlib.suppress(AttributeError, ObjectDoesNotExist):
        where["tenant"] = user.tenant_user.tenant
    return where


def factor_change_record(
    *, action: str, user: User, actor: User | None, event: str, details: dict
) -> None:
    """The audit event and the e-mail to the person (every factor change tells its owner)."""
    audit_log(action=action, actor=actor, target=user, details=details, **_where(user))
    email_queue(
        template="mfa_changed",
        to=[user.email],
        language=user.language,
        context={
            "user": user,
            "event": event,
            "kind": details.get("kind", ""),
            "at": timezone.now(),
        },
    )


def devices_of(user: User) -> dict:
    """The person's confirmed factors, by kind, for the security page."""
    recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return {
        "passkeys": list(WebAuthnCredential.objects.filter(user=user, confirmed=True)),
        "apps": list(AuthenticatorApp.objects.filter(user=user, confirmed=True)),
        "recovery": recovery,
        "recovery_left": recovery.token_set.count() if recovery else 0,
    }


def session_verified_with(request, device) -> None:
    """The session proved `device` now: django-otp's login, and the time for the step-up. The
    session gets a new key, as at the password step: a key seen before it no longer works."""
    request.session.cycle_key()
    otp_login(request, device)
    request.session[VERIFIED_AT_SESSION_KEY] = timezone.now().timestamp()


# Adding factors ---------------------------------------------------------------------------


def app_setup_start(*, user: User) -> AuthenticatorApp:
    """A new, unconfirmed authenticator app (a set-up left unfinished before is dropped)."""
    with transaction.atomic():
        AuthenticatorApp.objects.filter(user=user, confirmed=False).delete()
        device = AuthenticatorApp.for_new_secret(user=user, name=str(_("Authenticator app")))
        device.save()
    return device


def app_setup_confirm(*, device: AuthenticatorApp, code: str, request) -> bool:
    """The first code proves the set-up: the app then counts as a factor."""
    with transaction.atomic():
        device = AuthenticatorApp.objects.select_for_update().filter(pk=device.pk).first()
        if device is None:
            return False  # dropped meanwhile (a new set-up was started): the page starts again
        if device.confirmed:
            return True  # the same form sent twice: the first one turned it on
        if not device.verify_token(code):
            return False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        factor_change_record(
            action="mfa.factor_added",
            user=device.user,
            actor=request.user,
            event="added",
            details={"kind": "app", "device": device.name},
        )
    session_verified_with(request, device)
    return True


def passkey_added(*, credential: WebAuthnCredential, request) -> None:
    """A passkey was registered (django-otp-webauthn's ceremony): name it, record it."""
    taken = set(
        WebAuthnCredential.objects.filter(user=credential.user).values_list("name", flat=True)
    )
    number = len(taken)
    while str(_("Passkey %(number)s") % {"number": number}) in taken:
        number += 1  # "Passkey 2" removed, then another added: not a second "Passkey 3"
    credential.name = str(_("Passkey %(number)s") % {"number": number})
    credential.save(update_fields=["name"])
    factor_change_record(
        action="mfa.factor_added",
        user=credential.user,
        actor=request.user,
        event="added",
        details={"kind": "passkey", "device": credential.name},
    )


def passkey_rename(*, credential: WebAuthnCredential, name: str, actor: User) -> None:
    previous = credential.name
    with transaction.atomic():
        credential.name = name
        credential.save(update_fields=["name"])
        audit_log(
            action="mfa.passkey_renamed",
            actor=actor,
            target=credential.user,
            details={"previous": previous, "name": name},
            **_where(credential.user),
        )


def recovery_codes_generate(*, user: User, actor: User) -> list[str]:
    """Ten new codes; the old set stops working. The codes are returned once, never stored."""
    codes = [recovery_code_new() for _ in range(RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=user, defaults={"name": str(_("Recovery codes")), "confirmed": True}
        )
        device.token_set.all().delete()
        StaticToken.objects.bulk_create(
            StaticToken(device=device, token=recovery_code_digest(code)) for code in codes
        )
        factor_change_record(
            action="mfa.recovery_codes_generated",
            user=user,
            actor=actor,
            event="recovery_codes",
            details={"kind": "recovery_codes", "count": len(codes)},
        )
    return codes


# Removing factors --------------------------------------------------------------------------


def removal_problem(*, user: User, device) -> str:
    """Why this factor may not be removed by its owner ('' when it may)."""
    if isinstance(device, StaticDevice) or not factor_required(user):
        return ""
    if _keeps_a_factor(user, besides=device):
        return ""
    return str(
        _(
            "This is your last passkey or authenticator app, and your account must have one. "
            "Add another first, then remove this one."
        )
    )


def factor_remove(*, device, actor: User) -> None:
    """Remove one factor. With the last passkey or app go the recovery codes (they back up a
    factor; alone they would be a way in that nobody can see)."""
    kind = FACTOR_KINDS[type(device)]
    with transaction.atomic():
        # One removal at a time per person: two at once must not both pass the check below.
        user = User.objects.select_for_update().get(pk=device.user_id)
        problem = removal_problem(user=user, device=device)
        if problem:
            raise ValidationError(problem)
        name = device.name
        device.delete()
        details = {"kind": kind, "device": name}
        if kind != "recovery_codes" and not _keeps_a_factor(user):
            details["recovery_codes_removed"] = bool(
                StaticDevice.objects.filter(user=user).delete()[0]
            )
        factor_change_record(
            action="mfa.factor_removed", user=user, actor=actor, event="removed", details=details
        )


def _keeps_a_factor(user: User, *, besides=None) -> bool:
    """Whether the person has a confirmed passkey or app (other than `besides`)."""
    passkeys = WebAuthnCredential.objects.filter(user=user, confirmed=True)
    apps = AuthenticatorApp.objects.filter(user=user, confirmed=True)
    if isinstance(besides, WebAuthnCredential):
        passkeys = passkeys.exclude(pk=besides.pk)
    if isinstance(besides, AuthenticatorApp):
        apps = apps.exclude(pk=besides.pk)
    return passkeys.exists() or apps.exists()


def factors_reset(*, user: User, actor: User, by: str) -> int:
    """The person lost their factors: all are removed, and a new one is required at the next
    sign-in. `by` says who asked ("partner", "tenant" or "ops"). Returns how many went."""
    with transaction.atomic():
        removed = 0
        for model in FACTOR_KINDS:
            removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
        # The grace period does not start again: a reset means "enrol at the next sign-in".
        factor_change_record(
            action="mfa.factors_reset",
            user=user,
            actor=actor,
            event="reset",
            details={"by": by, "removed": removed},
        )
    return removed


# Checking codes ----------------------------------------------------------------------------


@dataclass
class CodeCheck:
    device: object | None = None
    blocked_until: datetime | None = None


def _code_counters(user: User, client_address: str | None) -> list[Counter]:
    counters = [Counter(f"mfa:account:{user.pk}", settings.MFA_LIMIT_PER_ACCOUNT)]
    if client_address:
        counters.append(Counter(f"mfa:addr:{client_address}", settings.MFA_LIMIT_PER_ADDRESS))
    return counters


def _code_check(*, request, devices, code: str, kind: str) -> CodeCheck:
    """Count the try, then let each device try the code, rows locked (a code works once)."""
    user = request.user
    attempt = attempt_start(
        _code_counters(user, request.client_address),
        timedelta(minutes=settings.MFA_WINDOW_MINUTES),
    )
    if attempt.blocked:
        return CodeCheck(blocked_until=attempt.until)
    matched = None
    with transaction.atomic():
        for device in devices.select_for_update():
            if device.verify_token(code):
                matched = device
                break
    attempt_settle(
        attempt,
        failed=matched is None,
        action="mfa.limit_reached",
        client_address=request.client_address,
        actor=user,
        details={"kind": kind},
    )
    if matched is not None:
        session_verified_with(request, matched)
    return CodeCheck(device=matched)


def app_code_check(*, request, code: str) -> CodeCheck:
    devices = AuthenticatorApp.objects.filter(user=request.user, confirmed=True)
    return _code_check(request=request, devices=devices, code=code, kind="app")


def recovery_code_check(*, request, code: str) -> CodeCheck:
    """A recovery code signs in once; its use is recorded and told to the person."""
    devices = StaticDevice.objects.filter(user=request.user, confirmed=True)
    with transaction.atomic():  # the code's deletion and its record: together or not at all
        check = _code_check(
            request=request, devices=devices, code=recovery_code_digest(code), kind="recovery_code"
        )
        if check.device is not None:
            left = StaticToken.objects.filter(device=check.device).count()
            factor_change_record(
                action="mfa.recovery_code_used",
                user=request.user,
                actor=request.user,
                event="recovery_used",
                details={"kind": "recovery_codes", "left": left},
            )
    return check
