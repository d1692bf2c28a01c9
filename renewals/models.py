"""Renewal notices and lifecycle e-mails (design §5): the schedule ops edit, and the ledger that
makes each notice happen once."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.identity import NormalizedEmailModelField


class NoticeOffset(models.Model):
    """One renewal notice: sent this many days before a subscription's end date.

    Rows, not constants: ops add or remove thresholds in the admin (the data migration seeds
    60, 30, 7 and 1). A change makes every subscription's schedule be worked out again.
    """

    days_before = models.PositiveSmallIntegerField(
        _("days before the end date"),
        unique=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )

    class Meta:
        verbose_name = _("renewal notice day")
        verbose_name_plural = _("renewal notice days")
        ordering = ["-days_before"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(days_before__gte=1, days_before__lte=365),
                name="notice_offset_days_range",
            ),
        ]

    def __str__(self) -> str:
        return _("%(days)d days before the end date") % {"days": self.days_before}


class RenewalNotice(models.Model):
    """The ledger: one row per (subscription, end date, event, threshold, recipient), written in
    the same transaction as the e-mail it stands for.

    The unique constraint is what makes a notice happen once: two sweeps racing, a re-run, a
    retry after a crash all try to insert the same row, and only the first insert counts
    (INSERT … ON CONFLICT DO NOTHING). A worker killed before its commit takes both its rows and
    its e-mails with it, so the next sweep sends them; the outbox delivers after any SMTP outage.
    """

    class Event(models.TextChoices):
        NOTICE = "notice", _("Renewal notice")
        EXPIRED = "expired", _("Expired")
        DISABLED = "disabled", _("Disabled")
        DELETED = "deleted", _("Deleted")

    subscription = models.ForeignKey(
        "tenants.Subscription",
        on_delete=models.CASCADE,
        related_name="renewal_notices",
        verbose_name=_("subscription"),
    )
    # The end date the notice is about: a renewal moves it, and the thresholds start over.
    end_date = models.DateField(_("end date"))
    event = models.CharField(_("event"), max_length=16, choices=Event.choices)
    # Days before the end date for a notice; 0 for a lifecycle change.
    days_before = models.PositiveSmallIntegerField(_("days before the end date"), default=0)
    # The address is the identity (it outlives a deleted tenant user's account). Blank: the
    # notice's webhook event, claimed once like the e-mails (renewals.services.notices).
    recipient_email = NormalizedEmailModelField(_("recipient"))
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recipient account"),
    )
    language = models.CharField(_("language"), max_length=8)
    email_id = models.BigIntegerField(_("outbox e-mail"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("renewal notice")
        verbose_name_plural = _("renewal notices")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "end_date", "event", "days_before", "recipient_email"],
                name="renewal_notice_once",
            ),
            models.CheckConstraint(
                condition=models.Q(event__in=["notice", "expired", "disabled", "deleted"]),
                name="renewal_notice_event_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} · {self.end_date} · {self.event} {self.days_before}"
