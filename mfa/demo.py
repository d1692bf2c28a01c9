"""The demo's second factor: each demo account gets an authenticator app whose secret is written
to var/demo_mfa.txt (`<e-mail> <base32 secret>` a line), so that `make run` and
`manage.py demo_codes` can print the current codes. Only with DEBUG on, like the demo itself."""

import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_otp.oath import TOTP

from mfa.models import DIGITS, STEP_SECONDS, AuthenticatorApp
from portal.models import User

DEMO_MFA_FILE = settings.VAR_DIR / "demo_mfa.txt"


def _debug_only() -> None:
    if not settings.DEBUG:
        raise ImproperlyConfigured(
            "Demo second factors exist only with DEBUG on (a developer's machine)."
        )


def demo_enrol(users: list[User]) -> None:
    """An authenticator app for each demo account that has none; the file lists them all."""
    _debug_only()
    lines = []
    for user in users:
        device = AuthenticatorApp.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = AuthenticatorApp.for_new_secret(user=user, name="Demo authenticator app")
            device.confirmed = True
            device.save()
        lines.append(f"{user.email} {device.secret_base32}\n")
    DEMO_MFA_FILE.write_text("".join(lines))
    DEMO_MFA_FILE.chmod(0o600)


def demo_codes() -> list[tuple[str, str]]:
    """(e-mail, the code its app shows now) for each line of var/demo_mfa.txt."""
    _debug_only()
    if not DEMO_MFA_FILE.exists():
        return []
    codes = []
    for line in DEMO_MFA_FILE.read_text().splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        device = AuthenticatorApp.objects.filter(user__email=parts[0], confirmed=True).first()
        if device is None or device.secret_base32 != parts[1]:
            continue  # the account's app changed since: this secret no longer signs in
        totp = TOTP(device.secret, STEP_SECONDS, 0, DIGITS, 0)
        totp.time = time.time()
        codes.append((parts[0], f"{totp.token():0{DIGITS}d}"))
    return codes
