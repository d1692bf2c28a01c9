import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from keys.codec import mask_key

sku_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{1,31}$",
    _("A SKU uses capital letters, digits and hyphens, for example BUS-STD."),
)


models.BinaryField.register_lookup(Length)


def key_digest(canonical: str) -> bytes:
    """HMAC-SHA256(KEY_PEPPER, canonical key): what the database keeps instead of the key."""
    return hmac.new(
        settings.KEY_PEPPER.encode(), canonical.encode("ascii"), hashlib.sha256
    ).digest()


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=32, unique=True, validators=[sku_validator])
    name = models.CharField(_("name"), max_length=200)
    term_months = models.PositiveSmallIntegerField(
        _("term in months"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("How long one key's subscription lasts."),
    )
    max_seats = models.PositiveIntegerField(
        _("maximum seats"),
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text=_("The most seats one subscription of this product may have."),
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
            models.CheckConstraint(
                condition=models.Q(max_seats__gte=1), name="product_max_seats_positive"
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
        return ngettext(
            "Batch %(id)s · %(product)s · %(count)s key",
            "Batch %(id)s · %(product)s · %(count)s keys",
            self.key_count,
        ) % {
            "id": self.pk,
            "product": self.product.sku,
            "count": self.key_count,
        }


class RedemptionQuerySet(models.QuerySet):
    def owned_by(self, user, partner):
        """A redemption belongs to the user who started it, in the partner they started it for:
        anyone else's, a colleague's included, is not found."""
        return self.filter(created_by=user, partner=partner)

    def with_active_lines(self):
        """Each redemption's `active_lines`, with key, batch and product: one query for all."""
        return self.prefetch_related(
            models.Prefetch(
                "lines",
                queryset=RedemptionLine.objects.active()
                .select_related("product_key__batch__product")
                .order_by("added_at", "id"),
                to_attr="active_lines",
            )
        )

    def drafts_of(self, membership):
        """A partner user's redemptions in progress, in their current partner, latest first."""
        return self.filter(
            created_by_id=membership.user_id,
            partner_id=membership.partner_id,
            state=Redemption.State.DRAFT,
        ).order_by("-updated_at")


class Redemption(models.Model):
    """Step 1 of the seed's flow, kept on the server: a partner user's keys being redeemed.

    It survives a closed window, a sign-out or a crash and is resumed from the partner dashboard.
    Its keys are reserved (ProductKey.redemption) until the redemption completes or is cancelled,
    or until the reservation runs out (KEY_RESERVATION_HOURS) and the periodic task releases them.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("In progress")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    class Step(models.IntegerChoices):
        """The pages of the flow, in order: Resume opens the furthest one the draft allows."""

        KEYS = 1, _("Entering product keys")
        REVIEW = 2, _("Checking the keys")
        GETTING_STARTED = 3, _("Keys confirmed")
        CUSTOMER = 4, _("Customer's account (step 2)")

    partner = models.ForeignKey(
        "portal.Partner",
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("partner"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("created by"),
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("last change"), default=timezone.now)
    keys_confirmed_at = models.DateTimeField(_("keys confirmed"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # The last key-entry form processed: a double-submitted form is answered, not replayed.
    last_submission = models.UUIDField(null=True, blank=True, editable=False)
    furthest_step = models.PositiveSmallIntegerField(
        _("furthest step reached"), choices=Step.choices, default=Step.KEYS
    )
    # What the partner typed in step 2 so far, kept with the draft so that nothing is typed
    # twice after a closed browser. Emptied when the redemption completes or is cancelled.
    customer_details = models.JSONField(_("step 2 as typed"), default=dict, blank=True)

    objects = RedemptionQuerySet.as_manager()

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["draft", "completed", "cancelled"]),
                name="redemption_state_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="completed") | models.Q(completed_at__isnull=False),
                name="redemption_completed_has_date",
            ),
            models.CheckConstraint(
                condition=models.Q(furthest_step__gte=1, furthest_step__lte=4),
                name="redemption_furthest_step_valid",
            ),
        ]
        indexes = [
            # The partner dashboard's "redemptions in progress".
            models.Index(
                fields=["created_by", "-updated_at"],
                condition=models.Q(state="draft"),
                name="redemption_drafts_by_user",
            ),
        ]

    def __str__(self) -> str:
        return _("Redemption %(id)s") % {"id": self.pk}

    @property
    def is_draft(self) -> bool:
        return self.state == self.State.DRAFT

    def resume_step(self, *, holds_keys: bool) -> "Redemption.Step":
        """Where Resume takes the partner: the furthest step reached that still holds.

        New or removed keys send the review back to "Does everything look right?"; without keys
        there is only the key entry.
        """
        if not holds_keys:
            return self.Step.KEYS
        if self.keys_confirmed_at is None:
            return min(self.Step(self.furthest_step), self.Step.REVIEW)
        return max(self.Step(self.furthest_step), self.Step.GETTING_STARTED)

    def resume_url(self, *, holds_keys: bool) -> str:
        from django.urls import reverse

        name = {
            self.Step.KEYS: "keys:redeem_keys",
            self.Step.REVIEW: "keys:redeem_review",
            self.Step.GETTING_STARTED: "keys:redeem_getting_started",
            self.Step.CUSTOMER: "tenants:create_tenant",  # by URL name: keys imports no app
        }[self.resume_step(holds_keys=holds_keys)]
        if name == "keys:redeem_getting_started" and getattr(self, "target", None) is not None:
            # An existing customer's confirmed keys go straight to what they change (the
            # RedemptionTarget of tenants, read by name: keys imports no app).
            name = "tenants:apply_keys"
        return reverse(name, args=[self.pk])


class RedemptionLineQuerySet(models.QuerySet):
    def active(self):
        """Lines whose key the redemption still holds (not released when a reservation ran out)."""
        return self.filter(released_at__isnull=True)


class RedemptionLine(models.Model):
    """A key entered into a redemption. `released_at` is set when its reservation ran out."""

    redemption = models.ForeignKey(
        Redemption, on_delete=models.CASCADE, related_name="lines", verbose_name=_("redemption")
    )
    product_key = models.ForeignKey(
        "ProductKey", on_delete=models.PROTECT, related_name="+", verbose_name=_("product key")
    )
    added_at = models.DateTimeField(_("added"), default=timezone.now)
    released_at = models.DateTimeField(_("reservation released"), null=True, blank=True)

    objects = RedemptionLineQuerySet.as_manager()

    class Meta:
        verbose_name = _("redemption line")
        verbose_name_plural = _("redemption lines")
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["redemption", "product_key"], name="redemption_line_key_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.redemption} · {self.product_key}"


def _key_actor(verbose_name):
    """Who changed a key's state. Not indexed (see ProductKey.state); kept if the account goes."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=verbose_name,
    )


class ProductKeyQuerySet(models.QuerySet):
    def matching(self, canonical: str):
        """The key typed as `canonical` (validated): found by its digest, the only way."""
        return self.filter(digest=key_digest(canonical))

    def matching_any(self, canonicals: Iterable[str]):
        return self.filter(digest__in=[key_digest(canonical) for canonical in canonicals])

    def stale_reservations(self, now):
        return self.filter(state=ProductKey.State.RESERVED, reserved_until__lt=now)

    def revocable(self):
        """Keys that revoking would change: not yet redeemed, not revoked already. A redeemed key
        made a subscription, which revoking cannot take back, so it stays as it is."""
        return self.filter(state__in=REVOCABLE_STATES)

    def not_revocable(self):
        return self.exclude(state__in=REVOCABLE_STATES)


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
    # 32 bytes of HMAC-SHA256: one unique index, the only way a typed key is found.
    digest = models.BinaryField(_("digest"), max_length=32, unique=True, editable=False)
    last5 = models.CharField(_("last five characters"), max_length=5, editable=False)
    # No index on state or on the *_by columns: a million-key import pays for every index, and
    # nothing runs often by those columns except the partial index below.
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.AVAILABLE
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    reserved_at = models.DateTimeField(_("reserved"), null=True, blank=True)
    reserved_by = _key_actor(_("reserved by"))
    reserved_until = models.DateTimeField(_("reserved until"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)
    redeemed_by = _key_actor(_("redeemed by"))
    # The redemption holding the key while reserved, and the one that redeemed it.
    redemption = models.ForeignKey(
        Redemption,
        null=True,
        blank=True,
        db_index=False,  # partial index below: most keys never have one
        on_delete=models.PROTECT,
        related_name="product_keys",
        verbose_name=_("redemption"),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = _key_actor(_("revoked by"))

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
            # A reserved or redeemed key always says which redemption holds it.
            models.CheckConstraint(
                condition=~models.Q(state__in=["reserved", "redeemed"])
                | models.Q(redemption__isnull=False),
                name="product_key_held_by_redemption",
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
                condition=models.Q(digest__length=32), name="product_key_digest_32_bytes"
            ),
        ]
        indexes = [
            # For the release_stale_reservations task: only reserved keys, by deadline.
            models.Index(
                fields=["reserved_until"],
                condition=models.Q(state="reserved"),
                name="product_key_reserved_until",
            ),
            models.Index(
                fields=["redemption"],
                condition=models.Q(redemption__isnull=False),
                name="product_key_redemption",
            ),
        ]

    def __str__(self) -> str:
        return self.masked

    @property
    def masked(self) -> str:
        return mask_key(self.last5)


# What revoking changes (ProductKey.objects.revocable()); redeemed and revoked keys stay as is.
REVOCABLE_STATES = (ProductKey.State.AVAILABLE, ProductKey.State.RESERVED)


class KeyJob(models.Model):
    """A large import or generation, run by a Celery worker instead of inside the request.

    The admin starts one for KEY_JOB_BACKGROUND_THRESHOLD keys or more (a million keys take
    longer than a web worker may hold a request); every generation from the admin is a job, so
    that its keys are handed back the same way, once, whether it ran inline or in a worker.
    The job's batch exists only once the job succeeded: the keys go in in one transaction.
    """

    class Kind(models.TextChoices):
        IMPORT = "import", _("Import")
        GENERATE = "generate", _("Generation")

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Error(models.TextChoices):
        # Stored as a code and shown in the reader's language (the worker has no reader).
        DUPLICATE = (
            "duplicate",
            _(
                "Some of these keys were imported by someone else meanwhile. Nothing was imported; "
                "import the file again to see which keys."
            ),
        )
        TIMEOUT = (
            "timeout",
            _(
                "The job took longer than a worker may run a task. Nothing was kept: ask for fewer "
                "keys at a time."
            ),
        )
        WORKER_LOST = (
            "worker_lost",
            _("The worker stopped before the job finished. Nothing was kept: start the job again."),
        )
        UNEXPECTED = (
            "unexpected",
            _(
                "The job stopped on an unexpected error (the worker's log says which). Nothing was "
                "kept."
            ),
        )

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("product")
    )
    seats_per_key = models.PositiveIntegerField(
        _("seats per key"), default=1, validators=[MinValueValidator(1), MaxValueValidator(10000)]
    )
    partner = models.ForeignKey(
        "portal.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owning partner"),
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    # The form that asked for the job: the same form posted twice (a double click, a reload of
    # the result) finds this job instead of making a second batch.
    submission = models.UUIDField(unique=True, editable=False)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    total = models.PositiveIntegerField(_("keys"))
    done = models.PositiveIntegerField(_("keys done"), default=0)
    error = models.CharField(_("error"), max_length=16, choices=Error.choices, blank=True)
    batch = models.OneToOneField(
        KeyBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="job",
        verbose_name=_("batch"),
    )
    # A generation's keys are sealed to this X25519 public key; its private half lives only in
    # the requester's browser (keys/sealing.py).
    recipient_key = models.BinaryField(max_length=32, null=True, editable=False)
    downloaded_at = models.DateTimeField(_("keys downloaded"), null=True, blank=True)

    class Meta:
        verbose_name = _("key job")
        verbose_name_plural = _("key jobs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["import", "generate"]), name="key_job_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=["queued", "running", "succeeded", "failed"]),
                name="key_job_state_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(done__lte=models.F("total")), name="key_job_done_within_total"
            ),
            # A job that succeeded made its batch; one that failed says why and made none.
            models.CheckConstraint(
                condition=~models.Q(state="succeeded")
                | models.Q(batch__isnull=False, finished_at__isnull=False),
                name="key_job_succeeded_has_batch",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="failed")
                | (models.Q(batch__isnull=True, finished_at__isnull=False) & ~models.Q(error="")),
                name="key_job_failed_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="generate") | models.Q(recipient_key__isnull=False),
                name="key_job_generate_has_recipient",
            ),
        ]

    def __str__(self) -> str:
        return _("Key job %(id)s · %(kind)s of %(count)s keys") % {
            "id": self.pk,
            "kind": self.get_kind_display(),
            "count": self.total,
        }

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)

    @property
    def percent(self) -> int:
        if self.state == self.State.SUCCEEDED:
            return 100
        return self.done * 100 // self.total if self.total else 0


class KeyJobFile(models.Model):
    """The file a job works on, kept apart so that listing jobs never reads it.

    For an import: the keys to insert as digests and last five characters (no secret: what the
    inventory itself keeps), deleted when the job ends. For a generation: the CSV of new keys
    sealed to the requester's browser (keys/sealing.py), deleted once downloaded, or by the
    periodic sweep after KEY_JOB_DOWNLOAD_HOURS.
    """

    job = models.OneToOneField(
        KeyJob, primary_key=True, on_delete=models.CASCADE, related_name="file"
    )
    content = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("key job file")
        verbose_name_plural = _("key job files")

    def __str__(self) -> str:
        return _("File of key job %(id)s") % {"id": self.job_id}
