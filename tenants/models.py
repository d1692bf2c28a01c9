import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from portal.identity import NORMALIZED_EMAIL_PATTERN, NormalizedEmailModelField

DOMAIN_PREFIX_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$"
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


class TenantUser(models.Model):
    """A person in a customer's organization. The customer admin also has a portal account."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="users", verbose_name=_("tenant")
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


class Subscription(models.Model):
    """A tenant's subscription to one product. The end date is the last day of service."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Expired (grace period)")
        DISABLED = "disabled", _("Disabled")
        DELETED = "deleted", _("Deleted")

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="subscriptions", verbose_name=_("tenant")
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
        TenantUser, on_delete=models.CASCADE, related_name="licenses", verbose_name=_("tenant user")
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
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
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


# --- Delegated administration (design §4) ---------------------------------------------------


class DelegatedRole(models.TextChoices):
    """The fixed catalog of roles a partner may ask for (design, "Access")."""

    GLOBAL_ADMIN = "global_admin", _("Global administrator")
    USER_ADMIN = "user_admin", _("User administrator")
    LICENSE_ADMIN = "license_admin", _("License administrator")
    BILLING_READER = "billing_reader", _("Billing reader")
    HELPDESK = "helpdesk", _("Helpdesk")


ROLE_DESCRIPTIONS = {
    DelegatedRole.GLOBAL_ADMIN: _("Everything the organization's administrators may do."),
    DelegatedRole.USER_ADMIN: _(
        "Add, edit and remove users (not administrators); send a user's activation again."
    ),
    DelegatedRole.LICENSE_ADMIN: _("Assign and unassign licenses."),
    DelegatedRole.BILLING_READER: _("Read subscriptions: seats, dates and states."),
    DelegatedRole.HELPDESK: _("See users; send a user's activation again."),
}

OFFER_LIFETIME_DAYS = 90  # an offer nobody answers expires (design §4)
AUTO_EXTEND_DAYS = 180
MAX_DURATION_DAYS = 730
NOTICE_THRESHOLDS = (30, 7, 1, 0)  # days before a relationship's end date


def roles_sorted(roles) -> list[str]:
    """The roles in the catalog's order, each once."""
    order = list(DelegatedRole.values)
    return sorted(set(roles), key=order.index)


class DelegationOffer(models.Model):
    """A partner asks a tenant for delegated-admin roles; the tenant's admin accepts or declines."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        EXPIRED = "expired", _("Expired")

    partner = models.ForeignKey(
        "portal.Partner",
        on_delete=models.CASCADE,
        related_name="delegation_offers",
        verbose_name=_("partner"),
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="delegation_offers", verbose_name=_("tenant")
    )
    roles = models.JSONField(_("roles"), default=list)
    duration_days = models.PositiveSmallIntegerField(_("duration (days)"))
    auto_extend = models.BooleanField(_("auto-extend"), default=False)
    message = models.TextField(_("message"), blank=True, max_length=2000)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default="pending")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("sent by"),
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("answered by"),
    )
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"))
    last_sent_at = models.DateTimeField(_("e-mail last sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("delegated-admin offer")
        verbose_name_plural = _("delegated-admin offers")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_days__gte=1, duration_days__lte=MAX_DURATION_DAYS),
                name="delegation_offer_duration_range",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    state__in=["pending", "accepted", "declined", "withdrawn", "expired"]
                ),
                name="delegation_offer_state_valid",
            ),
            # At most one pending offer per partner and tenant (withdraw it to send another).
            models.UniqueConstraint(
                fields=["partner", "tenant"],
                condition=models.Q(state="pending"),
                name="delegation_offer_one_pending",
            ),
        ]
        indexes = [
            # delegation_sweep: pending offers whose 90 days are over.
            models.Index(
                fields=["expires_at"],
                name="delegation_offer_pending",
                condition=models.Q(state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner.name} → {self.tenant.name} ({self.get_state_display()})"

    @property
    def role_choices(self) -> list[DelegatedRole]:
        return [DelegatedRole(role) for role in roles_sorted(self.roles)]

    def is_open(self, now=None) -> bool:
        return self.state == self.State.PENDING and (now or timezone.now()) < self.expires_at


class DelegationRelationship(models.Model):
    """Granted roles, from acceptance to the end date (the last day), unless terminated first.

    Once expired or terminated it is never made active again: a new offer is needed.
    """

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Expired")
        TERMINATED = "terminated", _("Terminated")

    offer = models.OneToOneField(
        DelegationOffer,
        on_delete=models.CASCADE,
        related_name="relationship",
        verbose_name=_("offer"),
    )
    partner = models.ForeignKey(
        "portal.Partner",
        on_delete=models.CASCADE,
        related_name="delegation_relationships",
        verbose_name=_("partner"),
    )
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        related_name="delegation_relationships",
        verbose_name=_("tenant"),
    )
    roles = models.JSONField(_("roles"), default=list)
    auto_extend = models.BooleanField(_("auto-extend"), default=False)
    starts_on = models.DateField(_("start date"))
    ends_on = models.DateField(_("end date"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default="active")
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    terminated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("terminated by"),
    )
    created_at = models.DateTimeField(_("accepted"), default=timezone.now)

    class Meta:
        verbose_name = _("delegated-admin relationship")
        verbose_name_plural = _("delegated-admin relationships")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="delegation_relationship_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=["active", "expired", "terminated"]),
                name="delegation_relationship_state_valid",
            ),
            # At most one active relationship per partner and tenant: a new offer replaces it.
            models.UniqueConstraint(
                fields=["partner", "tenant"],
                condition=models.Q(state="active"),
                name="delegation_relationship_one_active",
            ),
        ]
        indexes = [
            # The tenant rule, on every request of a partner user: the active relationship.
            models.Index(
                fields=["tenant", "partner"],
                name="delegation_relationship_active",
                condition=models.Q(state="active"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner.name} → {self.tenant.name} ({self.get_state_display()})"

    @property
    def role_choices(self) -> list[DelegatedRole]:
        return [DelegatedRole(role) for role in roles_sorted(self.roles)]

    def is_active_on(self, today) -> bool:
        return self.state == self.State.ACTIVE and self.starts_on <= today <= self.ends_on


class DelegationNotice(models.Model):
    """The ledger of end-of-relationship notices: one per relationship, end date, threshold and
    recipient. The unique constraint is what makes repeated and parallel sweeps send each once."""

    relationship = models.ForeignKey(
        DelegationRelationship,
        on_delete=models.CASCADE,
        related_name="notices",
        verbose_name=_("relationship"),
    )
    ends_on = models.DateField(_("end date"))
    threshold = models.PositiveSmallIntegerField(_("days before the end"))
    recipient = NormalizedEmailModelField(_("recipient"))
    sent_at = models.DateTimeField(_("queued"), default=timezone.now)

    class Meta:
        verbose_name = _("delegation notice")
        verbose_name_plural = _("delegation notices")
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["relationship", "ends_on", "threshold", "recipient"],
                name="delegation_notice_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.relationship} · {self.ends_on} − {self.threshold} · {self.recipient}"


class ActivityLog(models.Model):
    """What a partner's user did in a tenant under a delegated-admin relationship. Both sides
    read it. Written by the service that acted, in its transaction; never changed."""

    at = models.DateTimeField(_("when"), default=timezone.now)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="activity", verbose_name=_("tenant")
    )
    relationship = models.ForeignKey(
        DelegationRelationship,
        on_delete=models.CASCADE,
        related_name="activity",
        verbose_name=_("relationship"),
    )
    partner = models.ForeignKey(
        "portal.Partner", on_delete=models.CASCADE, related_name="+", verbose_name=_("partner")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    actor_label = models.CharField(_("who"), max_length=254)
    action = models.CharField(_("action"), max_length=64)
    target_label = models.CharField(_("on"), max_length=300, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("activity log entry")
        verbose_name_plural = _("activity log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-at"], name="activity_by_tenant"),
            models.Index(fields=["partner", "-at"], name="activity_by_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} · {self.actor_label} · {self.action}"
