from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class ActivationTokenGenerator(PasswordResetTokenGenerator):
    """The customer admin's activation link: signed, expiring, single use.

    The signature covers the password hash and the last sign-in, which change when the admin
    sets a password, so a used link stops working. Its lifetime is ACTIVATION_LINK_DAYS, not the
    password-reset timeout, hence check_token below (Django's reads PASSWORD_RESET_TIMEOUT).
    """

    key_salt = "tenants.tokens.ActivationTokenGenerator"

    def check_token(self, user, token) -> bool:
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        return self._num_seconds(self._now()) - ts <= settings.ACTIVATION_LINK_DAYS * 24 * 3600


activation_token = ActivationTokenGenerator()
