"""Delegated administration (design §4): offers, relationships, notices, the activity log."""

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.identity import NormalizedEmailModelField


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
# The customer's admins are not to be flooded: one e-mail per offer every few minutes.
RESEND_INTERVAL = datetime.timedelta(minutes=10)
AUTO_EXTEND_DAYS = 180
MAX_DURATION_DAYS = 730
NOTICE_THRESHOLDS = (30, 7, 1, 0)  # days before a relationship's end date


def roles_sorted(roles) -> list[str]:
    """The roles in the catalog's order, each once."""
    order = list(DelegatedRole.values)
    return sorted(set(roles), key=order.index)


class DelegationOfferQuerySet(models.QuerySet):
    def open(self, now) -> "DelegationOfferQuerySet":
        """Offers that can still be answered: pending and within their 90 days. An offer past
        its 90 days is closed even before the sweep records it as expired."""
        return self.filter(state=DelegationOffer.State.PENDING, expires_at__gt=now)

    def overdue(self, now) -> "DelegationOfferQuerySet":
        """Pending offers past their 90 days: the sweep (and any act on one) expires them."""
        return self.filter(state=DelegationOffer.State.PENDING, expires_at__lte=now)


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
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="delegation_offers",
        verbose_name=_("tenant"),
    )
    roles = models.JSONField(_("roles"), default=list)
    duration_days = models.PositiveSmallIntegerField(_("duration (days)"))
    auto_extend = models.BooleanField(_("auto-extend"), default=False)
    message = models.TextField(_("message"), blank=True, max_length=2000)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PENDING
    )
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

    objects = DelegationOfferQuerySet.as_manager()

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
        """This row's side of `DelegationOffer.objects.open(now)`."""
        return self.state == self.State.PENDING and (now or timezone.now()) < self.expires_at

    def resend_wait_until(self, now=None) -> datetime.datetime | None:
        """When the offer's e-mail may go again (RESEND_INTERVAL after the last one), or None
        when it may now."""
        if self.last_sent_at is None:
            return None
        next_send = self.last_sent_at + RESEND_INTERVAL
        return next_send if next_send > (now or timezone.now()) else None

    @property
    def closed_state(self) -> str:
        """What a closed offer is: its state, or expired for one still pending past its 90 days
        (the sweep has not recorded it yet)."""
        return self.State.EXPIRED if self.state == self.State.PENDING else self.state


class DelegationRelationshipQuerySet(models.QuerySet):
    def in_force(self, today) -> "DelegationRelationshipQuerySet":
        """Relationships that grant their roles today: active, started, and not past the end
        date. The dates decide as well as the state, so access ends on the end date's evening (or
        the moment either side terminates) even if the sweep has not run yet."""
        return self.filter(
            state=DelegationRelationship.State.ACTIVE, starts_on__lte=today, ends_on__gte=today
        )

    def active(self) -> "DelegationRelationshipQuerySet":
        """Recorded as active (the sweep has not expired it): at most one per partner and tenant."""
        return self.filter(state=DelegationRelationship.State.ACTIVE)


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
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="delegation_relationships",
        verbose_name=_("tenant"),
    )
    roles = models.JSONField(_("roles"), default=list)
    auto_extend = models.BooleanField(_("auto-extend"), default=False)
    starts_on = models.DateField(_("start date"))
    ends_on = models.DateField(_("end date"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ACTIVE)
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

    objects = DelegationRelationshipQuerySet.as_manager()

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
        """This row's side of `DelegationRelationship.objects.in_force(today)`."""
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
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="activity",
        verbose_name=_("tenant"),
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
    # Done with an API key (the label names the key): both sides' logs mark it "via API".
    via_api = models.BooleanField(_("via API"), default=False)

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
