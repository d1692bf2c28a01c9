"""The gate: a signed-in session that still owes its second factor reaches only the pages that
settle it (verify, or enrol when a factor is required and there is none), and signing out."""

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from portal.second_factor import can_verify, enrolment_owed, session_verified

# Open to a session that has not verified yet (the verification page and its passkey ceremony).
VERIFYING = {
    "mfa:verify",
    "mfa:resume",
    "otp_webauthn:credential-authentication-begin",
    "otp_webauthn:credential-authentication-complete",
    "otp_webauthn:js-i18n-catalog",
}
# Open, as well, to a person who must enrol and has no factor yet.
ENROLLING = VERIFYING | {
    "mfa:security",
    "mfa:app_setup",
    "mfa:recovery_codes",
    "mfa:factor",
    "otp_webauthn:credential-registration-begin",
    "otp_webauthn:credential-registration-complete",
}
# Open to everyone, whatever the session (signing out, the language switch, the health checks,
# Prometheus's scrape).
ALWAYS = {
    "logout",
    "login",
    "set_language",
    "healthz",
    "readyz",
    "metrics",
    "password_reset",
    "password_reset_done",
}


def _with_next(url_name: str, request) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': request.get_full_path()})}"


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or session_verified(user):
            return None
        name = request.resolver_match.view_name if request.resolver_match else ""
        # The API and its docs: no session reaches the API (only its keys), nothing to settle.
        if name in ALWAYS or name.startswith("api:"):
            return None
        if can_verify(user):
            return None if name in VERIFYING else redirect(_with_next("mfa:verify", request))
        if enrolment_owed(user):
            return None if name in ENROLLING else redirect(_with_next("mfa:security", request))
        return None
