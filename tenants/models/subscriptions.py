"""Subscriptions, their licenses, the keys redeemed into them, and redemptions for a customer."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Subscription(models.Model):
    """A tenant's subscription to one product. The end date is the last day of service."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Expired (grace period)")
        DISABLED = "disabled", _("Disabled")
        DELETED = "deleted", _("Deleted")

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("tenant"),
    )
    product = models.ForeignKey(
        "keys.Product", on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    seats = models.PositiveIntegerField(_("seats"))
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ACTIVE)
    created_by_partner = models.ForeignKey(
        "portal.Partner",
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by partner"),
    )
    partner_of_record = models.ForeignKey(
        "portal.Partner",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subscriptions_of_record",
        verbose_name=_("partner of record"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # When the renewal-notice sweep (renewals.services) must look at this subscription again:
    # the day of its next notice, or today when its end date changed (a new row, a renewal), so
    # that the sweep works out the schedule again. None: no notice left for this end date.
    # The sweep reads `renewal_notice_on <= today` through the partial index below, so its cost
    # follows what is due, not the size of the table.
    renewal_notice_on = models.DateField(
        _("next renewal notice"), null=True, blank=True, default=timezone.localdate
    )
    # Set when the subscription was ended early by a switch to direct billing.
    ended_by_direct_billing = models.BooleanField(_("ended by direct billing"), default=False)
    # Set on the subscription a switch to direct billing starts: billed by the vendor, it renews
    # on its own each term. No renewal notice, no lifecycle (tenants.lifecycle keeps it active),
    # not in a partner's renewal list.
    billed_directly = models.BooleanField(_("billed directly"), default=False)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["end_date", "id"]
        constraints = [
            # A subscription switched to direct billing stays as the record of its prepaid
            # term, next to the one that replaced it (renewals.services.direct_billing_switch).
            models.UniqueConstraint(
                fields=["tenant", "product"],
                condition=models.Q(ended_by_direct_billing=False),
                name="subscription_one_per_product",
            ),
            models.CheckConstraint(
                condition=models.Q(seats__gte=1), name="subscription_seats_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="subscription_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=["active", "expired", "disabled", "deleted"]),
                name="subscription_state_valid",
            ),
        ]
        indexes = [
            # renewals.services.renewal_notices_send: `renewal_notice_on <= today`.
            models.Index(
                fields=["renewal_notice_on"],
                name="subscription_notice_due",
                condition=models.Q(renewal_notice_on__isnull=False),
            ),
            # renewals.services.lifecycle_advance: per state, `end_date < a day`. A subscription
            # ended by direct billing never moves on (no lifecycle e-mail about it): out of the
            # index, so that the sweep does not read them again and again as they pile up; nor
            # does a directly billed one (it renews on its own).
            models.Index(
                fields=["state", "end_date"],
                name="subscription_lifecycle_due",
                condition=models.Q(ended_by_direct_billing=False, billed_directly=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} · {self.tenant.name}"


class License(models.Model):
    """One seat of a subscription assigned to a tenant user."""

    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.CASCADE,
        related_name="licenses",
        verbose_name=_("subscription"),
    )
    tenant_user = models.ForeignKey(
        "tenants.TenantUser",
        on_delete=models.CASCADE,
        related_name="licenses",
        verbose_name=_("tenant user"),
    )
    assigned_at = models.DateTimeField(_("assigned"), default=timezone.now)

    class Meta:
        verbose_name = _("license")
        verbose_name_plural = _("licenses")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "tenant_user"], name="license_once_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription} → {self.tenant_user}"


class SubscriptionKey(models.Model):
    """Which product key went into which subscription, when and by whom."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created the subscription")
        ADDED = "added", _("Added licenses")
        RENEWED = "renewed", _("Renewed")

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="keys", verbose_name=_("subscription")
    )
    # One subscription per key, ever: the database refuses a second redemption of a key.
    product_key = models.OneToOneField(
        "keys.ProductKey",
        on_delete=models.PROTECT,
        related_name="subscription_use",
        verbose_name=_("product key"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    seats = models.PositiveIntegerField(_("seats"))
    redeemed_at = models.DateTimeField(_("redeemed"), default=timezone.now)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("redeemed by"),
    )

    class Meta:
        verbose_name = _("redeemed key")
        verbose_name_plural = _("redeemed keys")
        ordering = ["-redeemed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.product_key} → {self.subscription}"


class RedemptionTarget(models.Model):
    """A redemption started from a customer's page: its keys go to that tenant, as `intent`.

    Every page of the redemption names the tenant in full (wrong-tenant redemptions are the
    most common complaint about the system this one replaces), and nothing is applied before the
    partner confirms a preview of each subscription before and after.
    """

    class Intent(models.TextChoices):
        ADD_LICENSES = "add_licenses", _("Add licenses")
        RENEW = "renew", _("Renew")

    redemption = models.OneToOneField(
        "keys.Redemption",
        on_delete=models.CASCADE,
        related_name="target",
        verbose_name=_("redemption"),
    )
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    intent = models.CharField(_("intent"), max_length=16, choices=Intent.choices)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("redemption for a customer")
        verbose_name_plural = _("redemptions for customers")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(intent__in=["add_licenses", "renew"]),
                name="redemption_target_intent_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.redemption} → {self.tenant} ({self.get_intent_display()})"
