"""The authenticator app (TOTP) as a django-otp device whose secret is encrypted at rest.

django-otp's own TOTP plugin keeps the secret in clear (a hex column), so this device is built on
the same framework pieces instead: `Device` (owner, name, confirmed), `TimestampMixin` and the
RFC 6238 engine `django_otp.oath.TOTP`. Passkeys are django-otp-webauthn's `WebAuthnCredential`,
recovery codes django-otp's `StaticDevice` (whose tokens are stored as keyed digests: mfa.codes).
"""

import secrets
import time
from base64 import b32encode
from urllib.parse import quote, urlencode

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, TimestampMixin
from django_otp.oath import TOTP
from django_otp_webauthn.models import WebAuthnCredential

from mfa.crypto import secret_decrypt, secret_encrypt, secret_reencrypt
from portal.models import User
from portal.second_factor import factor_required_q

STEP_SECONDS = 30
DIGITS = 6
TOLERANCE = 1  # one step either side: a phone clock 30 s off still works
ISSUER = "Partner Key Portal"


class AuthenticatorApp(TimestampMixin, Device):
    """One authenticator app of one person. Unconfirmed until the first code proves the set-up."""

    encrypted_secret = models.TextField(_("encrypted secret"), editable=False)
    # The step of the last accepted code: a code is never accepted twice, nor an older one.
    last_step = models.BigIntegerField(_("last accepted step"), default=-1, editable=False)

    class Meta(Device.Meta):
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")

    @classmethod
    def for_new_secret(cls, *, user, name: str) -> "AuthenticatorApp":
        return cls(
            user=user,
            name=name,
            confirmed=False,
            encrypted_secret=secret_encrypt(
                secrets.token_bytes(20)  # 160 bits, RFC 4226's recommendation for HMAC-SHA1
            ),
        )

    @property
    def secret(self) -> bytes:
        return secret_decrypt(self.encrypted_secret)

    @property
    def secret_base32(self) -> str:
        """The secret as people type it into an app that cannot scan (no padding)."""
        return b32encode(self.secret).decode("ascii").rstrip("=")

    @property
    def config_url(self) -> str:
        """The otpauth:// URI of the QR code (Key Uri Format, as every app reads it)."""
        label = f"{ISSUER}:{self.user.email}"
        params = urlencode(
            {
                "secret": self.secret_base32,
                "issuer": ISSUER,
                "algorithm": "SHA1",
                "digits": DIGITS,
                "period": STEP_SECONDS,
            },
            quote_via=quote,
        )
        return f"otpauth://totp/{quote(label)}?{params}"

    def save(self, *args, **kwargs):
        if self.encrypted_secret:
            self.encrypted_secret = secret_reencrypt(self.encrypted_secret)
        super().save(*args, **kwargs)

    def verify_token(self, token) -> bool:
        """Accept a 6-digit code of the current step ±1, at a step later than the last one
        accepted. Call inside a transaction on a row locked for update (django_otp's
        verify_token does both), so two requests cannot both use one code."""
        token = str(token).strip()
        if len(token) != DIGITS or not (token.isascii() and token.isdigit()):
            return False
        # Always one step either side of the server's clock: no drift is learnt, so the window
        # never wanders away from real time.
        totp = TOTP(self.secret, STEP_SECONDS, 0, DIGITS, 0)
        totp.time = time.time()
        if not totp.verify(int(token), TOLERANCE, self.last_step + 1):
            return False
        self.last_step = totp.t()
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True


def with_factors(queryset: models.QuerySet, user_field: str = "pk") -> models.QuerySet:
    """Annotate `has_passkey` and `has_app` (confirmed ones) on rows whose `user_field` is a
    user's id: two EXISTS sub-queries, however many rows."""
    return queryset.annotate(
        has_passkey=models.Exists(
            WebAuthnCredential.objects.filter(user=models.OuterRef(user_field), confirmed=True)
        ),
        has_app=models.Exists(
            AuthenticatorApp.objects.filter(user=models.OuterRef(user_field), confirmed=True)
        ),
    )


class AccountWithoutFactorQuerySet(models.QuerySet):
    def owing(self):
        """Active accounts that must have a second factor (portal.second_factor's rule, in SQL)
        and have no passkey nor app."""
        return with_factors(self.filter(factor_required_q(), is_active=True)).filter(
            has_passkey=False, has_app=False
        )


class AccountWithoutFactor(User):
    """For ops: the accounts that must have a second factor and have none (an admin list)."""

    objects = AccountWithoutFactorQuerySet.as_manager()

    class Meta:
        proxy = True
        verbose_name = _("account without a second factor")
        verbose_name_plural = _("accounts without a second factor")
