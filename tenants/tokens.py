from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
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
        return self.link_state(user, token) == self.VALID

    VALID, EXPIRED, INVALID = "valid", "expired", "invalid"

    def link_state(self, user, token) -> str:
        """VALID; EXPIRED when the link is genuine and unused but too old; else INVALID (used,
        since the signature covers the password; tampered; or for another account).

        Only a genuine link says EXPIRED: what the page then shows (the partner's name, a way to
        ask for a new link) is for the person the link was sent to.
        """
        if not (user and token):
            return self.INVALID
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return self.INVALID
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return self.INVALID
        if self._num_seconds(self._now()) - ts > settings.ACTIVATION_LINK_DAYS * 24 * 3600:
            return self.EXPIRED
        return self.VALID


activation_token = ActivationTokenGenerator()


# --- The link in a delegated-admin offer's e-mail ---------------------------------------------

OFFER_TOKEN_SALT = "tenants.delegation.offer"  # noqa: S105 — a signing salt, not a password


def offer_token(offer) -> str:
    """A signed reference to the offer. It is only a pointer: single use and death with the offer
    come from the offer's state, which the answer page checks under a lock."""
    return signing.dumps({"offer": offer.pk}, salt=OFFER_TOKEN_SALT, compress=False)


def offer_from_token(token: str) -> int | None:
    """The offer's pk, or None for a tampered or made-up link."""
    try:
        data = signing.loads(token, salt=OFFER_TOKEN_SALT)
    except signing.BadSignature:
        return None
    return data.get("offer") if isinstance(data, dict) else None
