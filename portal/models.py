import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.audit_labels import action_label
from portal.identity import NORMALIZED_EMAIL_PATTERN, NormalizedEmailModelField, email_normalize


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # Django's own only lowers the domain; `AbstractUser.clean()` calls this one too.
        return email_normalize(email or "")

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        # Signing in compares normalized forms exactly: `iexact` (the database's UPPER()) folds
        # look-alikes differently from the forms and the sign-in counters.
        return self.get(email=email_normalize(username))


class User(AbstractUser):
    """A person who signs in: partner users, customer admins and ops staff. Signs in by e-mail."""

    username = None
    # Unique as stored, and stored normalized (the field and the CHECK below): unique per person.
    email = NormalizedEmailModelField(_("e-mail address"), unique=True)
    language = models.CharField(
        _("preferred language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_("E-mails to this person are written in this language."),
    )
    # When the person picked the language in the header. Until then (None) the language follows
    # the pages they last read (portal.middleware.PageLanguageMiddleware), so that a French
    # partner in a French browser gets French e-mails without looking for the switch.
    language_chosen_at = models.DateTimeField(_("language chosen"), null=True, blank=True)
    # Where the second factor's grace period starts (MFA_ENROLMENT_GRACE_DAYS): when the account
    # was created, or, for accounts that existed before the second factor, when it arrived.
    mfa_grace_from = models.DateTimeField(_("second factor grace from"), default=timezone.now)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email__regex=NORMALIZED_EMAIL_PATTERN),
                name="user_email_normalized",
            ),
        ]

    def __str__(self) -> str:
        return self.email


partner_id_validator = RegexValidator(
    r"^[1-9][0-9]{6}$", _("A partner ID has exactly 7 digits and does not start with 0.")
)


class Partner(models.Model):
    """A reseller organization."""

    name = models.CharField(_("name"), max_length=200)
    partner_id = models.CharField(
        _("partner ID"), max_length=7, unique=True, validators=[partner_id_validator]
    )
    cloud_program_enrolled = models.BooleanField(
        _("enrolled in the cloud program"),
        default=False,
        help_text=_("Set by ops. Only enrolled partners can send delegated-admin offers."),
    )
    contact_email = NormalizedEmailModelField(_("contact e-mail"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(partner_id__regex=r"^[1-9][0-9]{6}$"),
                name="partner_id_seven_digits",
            ),
            models.CheckConstraint(
                condition=models.Q(contact_email__regex=NORMALIZED_EMAIL_PATTERN),
                name="partner_contact_email_normalized",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.partner_id})"


class PartnerMembership(models.Model):
    """A user's place in a partner organization. A user belongs to at most one partner."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Partner admin")
        AGENT = "agent", _("Partner agent")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="partner_membership",
        verbose_name=_("user"),
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("partner")
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("partner membership")
        verbose_name_plural = _("partner memberships")
        ordering = ["partner__name", "user__email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "agent"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.partner.name} ({self.get_role_display()})"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The audit log is append-only.")

    def delete(self):
        raise TypeError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One state change made by a person or by the system. Append-only.

    The tenant is kept as plain values, not a foreign key: the audit trail outlives a deleted
    tenant (design §5), and `portal` imports no app.
    """

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    # Kept so the trail still says who acted after the account is gone; "system" for tasks.
    actor_label = models.CharField(_("recorded as"), max_length=254)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target ID"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=300, blank=True)
    partner = models.ForeignKey(
        Partner,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("partner"),
    )
    tenant_id = models.BigIntegerField(_("tenant ID"), null=True, blank=True, db_index=True)
    tenant_label = models.CharField(_("tenant"), max_length=300, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    client_address = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    # Set when the change came through the REST API: the key that made it (the actor is the
    # partner admin who created the key).
    api_key = models.ForeignKey(
        "portal.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("API key"),
    )

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        # The detail page's title: the action as its reader's label, not its code.
        parts = [f"{self.at:%Y-%m-%d %H:%M}", self.actor_label, action_label(self.action)]
        return " · ".join([*parts, self.target_label] if self.target_label else parts)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only.")


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, now=None):
        """Neither revoked nor expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiKey(models.Model):
    """A partner's key to the REST API (portal.api.tokens: its format). Shown once; the
    database keeps its keyed hash, its first and last characters, never the key."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("partner")
    )
    name = models.CharField(_("name"), max_length=100)
    # The partner role the key acts with; never more than its creator's role today.
    role = models.CharField(
        _("acts as"),
        max_length=16,
        choices=PartnerMembership.Role.choices,
        default=PartnerMembership.Role.AGENT,
    )
    scopes = models.JSONField(_("scopes"), default=list)
    digest = models.CharField(_("keyed hash"), max_length=64, unique=True, editable=False)
    shown_start = models.CharField(_("starts with"), max_length=16, editable=False)
    shown_end = models.CharField(_("ends with"), max_length=8, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_by_label = models.CharField(_("created by"), max_length=254)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by_label = models.CharField(_("revoked by"), max_length=254, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_from = models.GenericIPAddressField(_("last used from"), null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "agent"]), name="api_key_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.shown})"

    @property
    def shown(self) -> str:
        """How the key is recognised after its creation: "pkp_Ab3x…9fQ2"."""
        return f"{self.shown_start}…{self.shown_end}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class IdempotentRequest(models.Model):
    """A POST sent with an `Idempotency-Key` (portal.api.idempotency): the first response,
    replayed to the same key with the same body; kept API_IDEMPOTENCY_HOURS."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # method, path and body, hashed
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    # A 201's Location. A database default too: the release before it inserts rows without it
    # while the new one's migration is already applied (docs/production.md, "Upgrades").
    location = models.CharField(max_length=2000, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or '…'})"


# --- Webhooks (portal.webhooks): partners' endpoints, the events sent to them, each delivery ----


def webhook_event_id() -> str:
    """The event's `webhook-id`: fixed when the event is written, the same on every try."""
    return f"msg_{uuid.uuid4().hex}"


class WebhookEndpoint(models.Model):
    """A partner's URL that hears about the events it asked for, signed with its secret."""

    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("partner"),
    )
    url = models.CharField(_("URL"), max_length=500)  # checked by portal.webhooks.addresses
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(_("events"), default=list)
    # The signing secrets ("whsec_<base64>"), encrypted with MFA_SECRET_KEYS (portal.webhooks.
    # secrets). After a rotation the previous one signs alongside the new one until it expires.
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(editable=False, blank=True)
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret signs until"), null=True, blank=True, editable=False
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    disabled_reason = models.CharField(_("why it is disabled"), max_length=300, blank=True)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    # The first failed try since the last success: a day of failures disables the endpoint.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_by_label = models.CharField(_("created by"), max_length=254)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """Something that happened to a partner's customer, written in the transaction of the change
    that caused it. Its id is the `webhook-id` of every delivery of it."""

    id = models.CharField(primary_key=True, max_length=40, default=webhook_event_id, editable=False)
    type = models.CharField(_("event"), max_length=64, db_index=True)
    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        related_name="webhook_events",
        verbose_name=_("partner"),
    )
    # Plain values, not a foreign key: portal imports no app, and the event outlives the tenant.
    tenant_id = models.BigIntegerField(_("customer ID"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("occurred"), default=timezone.now)
    payload = models.JSONField(_("payload"), default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint: claimed by one worker at a time, tried until delivered or out
    of tries (portal.webhooks.delivery)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("tries"), default=0)
    next_attempt_at = models.DateTimeField(_("next try"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_unique"),
            models.CheckConstraint(
                condition=models.Q(state__in=["queued", "sending", "delivered", "failed"]),
                name="webhook_delivery_state_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One try of a delivery: what the endpoint answered, or why nothing was sent."""

    delivery = models.ForeignKey(
        WebhookDelivery,
        on_delete=models.CASCADE,
        related_name="attempt_log",
        verbose_name=_("delivery"),
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    response_excerpt = models.TextField(_("answer (first bytes)"), blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("webhook try")
        verbose_name_plural = _("webhook tries")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
