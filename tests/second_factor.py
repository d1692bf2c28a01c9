"""The second factor in tests: an authenticator app for a person, its current codes, and a test
client signed in *with* the factor (as everyone who holds power is in the portal).

`Client.force_login` is extended in conftest.py to verify the session with the person's app
(made here, a real confirmed device), so the suite's existing sign-ins stay what they were:
a person who passed both steps. `force_login(user, verified=False)` is the password alone.
A test that signs in through the password form adds `second_step` after it.
"""

import time

from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP

from mfa.models import STEP_SECONDS, AuthenticatorApp
from portal.second_factor import VERIFIED_AT_SESSION_KEY


def app_of(user) -> AuthenticatorApp:
    """The person's confirmed authenticator app, made when they have none."""
    device = AuthenticatorApp.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = AuthenticatorApp.for_new_secret(user=user, name="Test app")
        device.confirmed = True
        device.save()
    return device


def code_at(device: AuthenticatorApp, when: float | None = None) -> str:
    """The 6-digit code the person's app shows at `when` (now by default: time_machine moves it)."""
    totp = TOTP(device.secret, STEP_SECONDS, 0, 6, 0)
    totp.time = time.time() if when is None else when
    return f"{totp.token():06d}"


def fresh_code(device: AuthenticatorApp) -> str:
    """A code the portal will accept now: of the current step, or the next one when the current
    step's code was already used (waiting for the step after when both were)."""
    device.refresh_from_db()
    now_step = int(time.time()) // STEP_SECONDS
    while device.last_step >= now_step + 1:
        time.sleep(1)
        now_step = int(time.time()) // STEP_SECONDS
    step = max(now_step, device.last_step + 1)
    return code_at(device, step * STEP_SECONDS)


def session_verify(client, user) -> None:
    """Mark a test client's session as verified with the person's app, just now."""
    device = app_of(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[VERIFIED_AT_SESSION_KEY] = timezone.now().timestamp()
    session.save()


def second_step(client, user, **extra):
    """The second step of signing in, after the password form (`client.login` or a POST to
    /accounts/login/): a code from the person's authenticator app (made when they have none)
    sent to the verification page, as a person does. `extra`: the request's headers."""
    code = fresh_code(app_of(user))
    response = client.post("/accounts/verify/", {"method": "app", "code": code}, **extra)
    assert response.status_code == 302, "the verification page refused the app's code"
    return response
