from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keys.codec import mask_key

sku_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{1,31}$",
    _("A SKU uses capital letters, digits and hyphens, for example BUS-STD."),
)


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=32, unique=True, validators=[sku_validator])
    name = models.CharField(_("name"), max_length=200)
    term_months = models.PositiveSmallIntegerField(
        _("term in months"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("How long one key's subscription lasts."),
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(term_months__gte=1, term_months__lte=60),
                name="product_term_months_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class KeyBatch(models.Model):
    """Keys that ops generated or imported together: one product, one number of seats per key."""

    class Source(models.TextChoices):
        GENERATED = "generated", _("Generated")
        IMPORTED = "imported", _("Imported")

    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="batches", verbose_name=_("product")
    )
    seats_per_key = models.PositiveIntegerField(
        _("seats per key"), default=1, validators=[MinValueValidator(1), MaxValueValidator(10000)]
    )
    partner = models.ForeignKey(
        "portal.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="key_batches",
        verbose_name=_("owning partner"),
        help_text=_("Only this partner's users can redeem the keys. Empty: any partner."),
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    key_count = models.PositiveIntegerField(_("keys"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("key batch")
        verbose_name_plural = _("key batches")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(seats_per_key__gte=1, seats_per_key__lte=10000),
                name="batch_seats_per_key_range",
            ),
        ]

    def __str__(self) -> str:
        return _("Batch %(id)s · %(product)s · %(count)s keys") % {
            "id": self.pk,
            "product": self.product.sku,
            "count": self.key_count,
        }


class ProductKeyQuerySet(models.QuerySet):
    def stale_reservations(self, now):
        return self.filter(state=ProductKey.State.RESERVED, reserved_until__lt=now)


class ProductKey(models.Model):
    """One product key. The database never holds the key itself: only its peppered HMAC-SHA256
    digest (to find it when typed) and its last five characters (to show it)."""

    class State(models.TextChoices):
        AVAILABLE = "available", _("Available")
        RESERVED = "reserved", _("Reserved")
        REDEEMED = "redeemed", _("Redeemed")
        REVOKED = "revoked", _("Revoked")

    batch = models.ForeignKey(
        KeyBatch, on_delete=models.PROTECT, related_name="keys", verbose_name=_("batch")
    )
    digest = models.CharField(_("digest"), max_length=64, unique=True, editable=False)
    last5 = models.CharField(_("last five characters"), max_length=5, editable=False)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.AVAILABLE, db_index=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    reserved_at = models.DateTimeField(_("reserved"), null=True, blank=True)
    reserved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reserved by"),
    )
    reserved_until = models.DateTimeField(_("reserved until"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("redeemed by"),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    objects = ProductKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("product key")
        verbose_name_plural = _("product keys")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["available", "reserved", "redeemed", "revoked"]),
                name="product_key_state_valid",
            ),
            # A reserved key always says until when, so the release sweep can give it back.
            models.CheckConstraint(
                condition=~models.Q(state="reserved") | models.Q(reserved_until__isnull=False),
                name="product_key_reserved_has_deadline",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="redeemed") | models.Q(redeemed_at__isnull=False),
                name="product_key_redeemed_has_date",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="revoked") | models.Q(revoked_at__isnull=False),
                name="product_key_revoked_has_date",
            ),
            models.CheckConstraint(
                condition=models.Q(digest__regex=r"^[0-9a-f]{64}$"), name="product_key_digest_hex"
            ),
        ]
        indexes = [
            # For the release_stale_reservations task: only reserved keys, by deadline.
            models.Index(
                fields=["reserved_until"],
                condition=models.Q(state="reserved"),
                name="product_key_reserved_until",
            ),
        ]

    def __str__(self) -> str:
        return self.masked

    @property
    def masked(self) -> str:
        return mask_key(self.last5)
