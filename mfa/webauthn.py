"""django-otp-webauthn's ceremonies, with the portal's rules: adding a passkey is a step-up act
(unless it is the first factor), every passkey added is recorded and told to its owner, and a
passkey used to verify stamps the session for the step-up."""

import json

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp_webauthn import exceptions, views
from django_otp_webauthn.models import WebAuthnCredential

from mfa import services
from portal.second_factor import (
    VERIFIED_AT_SESSION_KEY,
    can_verify,
    session_verified,
    verified_recently,
)


class StepUpNeeded(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "step_up_needed"
    default_detail = _("Confirm it's you again (reload the page), then add the passkey.")


class StepUpToRegister:
    """Adding a passkey is a step-up act, unless it is the first factor (nothing to verify
    with yet). The library calls this hook at both ends of the ceremony."""

    def check_can_register(self):
        if can_verify(self.request.user) and not verified_recently(self.request):
            raise StepUpNeeded()


class PasskeyRegistrationBegin(StepUpToRegister, views.BeginCredentialRegistrationView):
    pass


class PasskeyRegistrationComplete(StepUpToRegister, views.CompleteCredentialRegistrationView):
    @transaction.atomic
    def post(self, *args, **kwargs):
        was_verified = session_verified(self.request.user)
        response = super().post(*args, **kwargs)
        if response.status_code == 200:
            credential = WebAuthnCredential.objects.get(
                pk=json.loads(response.content)["id"], user=self.request.user
            )
            services.passkey_added(credential=credential, request=self.request)
            if not was_verified:
                # The first factor: the ceremony just proved it (the library logs it in).
                self.request.session[VERIFIED_AT_SESSION_KEY] = timezone.now().timestamp()
        return response


class PasskeyAuthenticationComplete(views.CompleteCredentialAuthenticationView):
    def complete_auth(self, device):
        # Passwordless sign-in is off: the ceremony only verifies the signed-in person's own.
        if device.user_id != self.request.user.pk:
            raise exceptions.CredentialUserMismatch()
        services.session_verified_with(self.request, device)
