"""Customers' organizations and the countries where the service is offered."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

DOMAIN_PREFIX_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$"


class SupportedCountry(models.Model):
    """A country or region where the service is offered. Ops edit the list in the admin."""

    country = CountryField(_("country or region"), unique=True)
    added_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        verbose_name = _("supported country or region")
        verbose_name_plural = _("supported countries and regions")
        ordering = ["country"]

    def __str__(self) -> str:
        return str(self.country.name)


class Tenant(models.Model):
    """A customer's organization, created by a partner from redeemed product keys."""

    name = models.CharField(_("organization name"), max_length=200)
    domain_prefix = models.CharField(_("domain prefix"), max_length=40, unique=True)
    country = CountryField(_("country or region"))
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    created_by_partner = models.ForeignKey(
        "portal.Partner",
        on_delete=models.PROTECT,
        related_name="created_tenants",
        verbose_name=_("created by partner"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    # One tenant per redemption: a double-submitted "Create my account" cannot make two.
    redemption = models.OneToOneField(
        "keys.Redemption",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tenant",
        verbose_name=_("redemption"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(domain_prefix__regex=DOMAIN_PREFIX_PATTERN),
                name="tenant_domain_prefix_format",
            ),
        ]
        indexes = [models.Index(fields=["created_by_partner", "name"], name="tenant_by_partner")]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"

    @property
    def domain(self) -> str:
        return f"{self.domain_prefix}.{settings.TENANT_DOMAIN_SUFFIX}"
