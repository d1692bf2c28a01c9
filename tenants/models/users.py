"""The people in a customer's organization."""

import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.identity import NORMALIZED_EMAIL_PATTERN, NormalizedEmailModelField

# A user name: the part before the @ of name@<tenant domain>. Lower-case letters, digits, dots
# and hyphens, 1 to 64 characters, starting and ending with a letter or digit.
USERNAME_PATTERN = r"^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$"


def username_from_email(email: str) -> str:
    """A user name derived from an address's part before the @ ("Megan.Bowen+x" gives
    "megan.bowen-x"); "user" when nothing usable is left."""
    local = email.rpartition("@")[0] or email
    name = re.sub(r"[^a-z0-9.-]+", "-", local.lower())
    name = re.sub(r"([.-])[.-]+", r"\1", name).strip(".-")[:64].strip(".-")
    return name or "user"


class TenantUser(models.Model):
    """A person in a customer's organization. The customer admin also has a portal account."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="users", verbose_name=_("tenant")
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tenant_user",
        verbose_name=_("portal account"),
    )
    first_name = models.CharField(_("first name"), max_length=150)
    last_name = models.CharField(_("last name"), max_length=150)
    # name@<tenant domain>; the contact e-mail below stays the portal's sign-in identity.
    username = models.CharField(_("user name"), max_length=64)
    email = NormalizedEmailModelField(_("e-mail address"))
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_admin = models.BooleanField(_("admin"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("tenant user")
        verbose_name_plural = _("tenant users")
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email"], name="tenant_user_email_once"),
            models.UniqueConstraint(
                fields=["tenant", "username"], name="tenant_user_username_once"
            ),
            models.CheckConstraint(
                condition=models.Q(username__regex=USERNAME_PATTERN),
                name="tenant_user_username_format",
            ),
            models.CheckConstraint(
                condition=models.Q(email__regex=NORMALIZED_EMAIL_PATTERN),
                name="tenant_user_email_normalized",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} <{self.email}>"

    def save(self, *args, **kwargs):
        # Rows written before user names existed (and code that does not name one) get one from
        # the contact e-mail; the users service chooses a unique one itself.
        if not self.username:
            self.username = username_from_email(self.email)
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def user_principal_name(self) -> str:
        return f"{self.username}@{self.tenant.domain}"

    @property
    def is_activated(self) -> bool:
        return self.user is not None and self.user.has_usable_password()
