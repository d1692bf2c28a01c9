"""Delegated-admin offers (design §4): the partner sends, withdraws or sends again; the tenant's
admin accepts or declines. Nothing is granted before acceptance.

Every act is one transaction that locks the offer, writes its audit event and queues its e-mails
in that transaction. Partner-side acts take the partner membership; the answer takes the
customer's `TenantAccess`. Who may do what is the tenant rule's (`tenants.access`).
"""

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.models import PartnerMembership
from portal.services import audit_log
from tenants import webhooks
from tenants.access import TenantAccess, offer_may_answer, partner_customers
from tenants.delegation.emails import offer_email_queue, update_emails_queue
from tenants.delegation.relationships import relationship_replace
from tenants.models import (
    MAX_DURATION_DAYS,
    OFFER_LIFETIME_DAYS,
    RESEND_INTERVAL,
    DelegatedRole,
    DelegationOffer,
    DelegationRelationship,
    Tenant,
    roles_sorted,
)


class OfferError(Exception):
    """Nothing changed; the message says why. `field` names the form field, if any."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)


class OfferPending(OfferError):
    """An offer of the partner's to this tenant still waits for its answer."""

    def __init__(self, offer: DelegationOffer):
        self.offer = offer
        super().__init__(pending_offer_problem(offer))


class OfferResendTooSoon(OfferError):
    """The offer's e-mail went less than RESEND_INTERVAL ago; it may go again at `until`."""

    def __init__(self, until: datetime.datetime):
        self.until = until
        super().__init__(
            _("The e-mail was sent less than %(minutes)d minutes ago. Try again later.")
            % {"minutes": RESEND_INTERVAL.seconds // 60}
        )


class OfferClosed(Exception):
    """The offer cannot be answered or changed any more; `state` says what it became."""

    def __init__(self, state: str):
        self.state = state
        super().__init__(state)


def offer_closed_message(state: str) -> str:
    """What the pages and the API say of an offer that can no longer be answered or changed."""
    return {
        DelegationOffer.State.ACCEPTED: _("This offer was accepted already."),
        DelegationOffer.State.DECLINED: _("This offer was declined."),
        DelegationOffer.State.WITHDRAWN: _("This offer was withdrawn by the partner."),
        DelegationOffer.State.EXPIRED: _(
            "This offer expired: nobody answered it within 90 days. The partner can send a new one."
        ),
    }.get(state, _("This offer can no longer be answered."))


@dataclass(frozen=True)
class OfferDetails:
    roles: list[str]
    duration_days: int
    auto_extend: bool
    message: str


def offer_eligibility_problem(membership: PartnerMembership) -> str | None:
    """Why this partner user cannot send offers, every reason that applies, each with whom to
    ask; None when they can."""
    reasons = []
    if not membership.partner.cloud_program_enrolled:
        reasons.append(
            _(
                "Your organization is not enrolled in the cloud program: only enrolled partners "
                "can send delegated admin offers. Ask the portal's operations team to enroll it."
            )
        )
    if not membership.is_admin:
        reasons.append(_not_admin_reason(membership))
    return " ".join(reasons) or None


def _not_admin_reason(membership: PartnerMembership) -> str:
    admins = list(
        PartnerMembership.objects.filter(
            partner=membership.partner_id, role=PartnerMembership.Role.ADMIN
        )
        .order_by("user__email")
        .values_list("user__email", flat=True)[:5]
    )
    if admins:
        return _(
            "Only your organization's partner admins can send delegated admin offers. "
            "Ask one of them: %(admins)s."
        ) % {"admins": ", ".join(admins)}
    return _(
        "Only your organization's partner admins can send delegated admin offers. "
        "Ask the portal's operations team to name one."
    )


def offer_details_problem(details: OfferDetails) -> tuple[str, str] | None:
    """(field, message) for the first thing wrong with an offer's details, or None."""
    if not details.roles:
        return "roles", _("Choose at least one role.")
    if any(role not in DelegatedRole.values for role in details.roles):
        return "roles", _("Choose roles from the list.")
    if not 1 <= details.duration_days <= MAX_DURATION_DAYS:
        return "duration_days", _("The duration is from 1 to %(max)d days.") % {
            "max": MAX_DURATION_DAYS
        }
    if details.auto_extend and DelegatedRole.GLOBAL_ADMIN in details.roles:
        return "auto_extend", _(
            "A relationship with the global administrator role cannot auto-extend: untick "
            "auto-extend, or ask for narrower roles."
        )
    return None


def pending_offer(partner, tenant, now=None) -> DelegationOffer | None:
    """The partner's offer to this tenant still open, if any (at most one)."""
    return (
        DelegationOffer.objects.open(now or timezone.now())
        .filter(partner=partner, tenant=tenant)
        .order_by("-created_at", "-id")
        .first()
    )


def replaced_relationship(partner, tenant) -> DelegationRelationship | None:
    """The partner's active relationship with this tenant, which an offer accepted now would
    replace (at most one)."""
    return (
        DelegationRelationship.objects.active()
        .filter(partner=partner, tenant=tenant)
        .order_by("-created_at", "-id")
        .first()
    )


def pending_offer_problem(offer: DelegationOffer) -> str:
    return _(
        "An offer to %(name)s is already pending (sent on %(date)s, roles: %(roles)s). "
        "Withdraw it first to send another one."
    ) % {
        "name": offer.tenant.name,
        "date": formats.date_format(timezone.localtime(offer.created_at), "DATE_FORMAT"),
        "roles": ", ".join(str(role.label) for role in offer.role_choices),
    }


def offer_send(
    *, membership: PartnerMembership, tenant: Tenant, details: OfferDetails, now=None
) -> DelegationOffer:
    """Send an offer: the tenant's admins get an e-mail with a link. Nothing is granted yet.
    One pending offer per partner and tenant; an offer to a tenant with an active relationship
    is a change of roles (accepting it replaces the relationship)."""
    problem = offer_eligibility_problem(membership)
    if problem:
        raise OfferError(problem)
    if not partner_customers(membership.partner).filter(pk=tenant.pk).exists():
        raise OfferError(_("Choose one of your customers."), field="tenant")
    problem = offer_details_problem(details)
    if problem:
        raise OfferError(problem[1], field=problem[0])
    now = now or timezone.now()
    # A pending offer past its 90 days no longer counts (the sweep may not have run yet).
    for stale in DelegationOffer.objects.overdue(now).filter(
        partner=membership.partner, tenant=tenant
    ):
        offer_expire(stale, now)
    try:
        with transaction.atomic():
            # Two sends at once for the same customer: the second waits here, then sees the
            # first one's offer. The unique constraint backs this up.
            Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
            pending = pending_offer(membership.partner, tenant, now)
            if pending is not None:
                raise OfferPending(pending)
            offer = _offer_create(membership, tenant, details, now)
    except IntegrityError:
        pending = pending_offer(membership.partner, tenant, now)
        if pending is None:
            raise
        raise OfferPending(pending) from None
    return offer


def _offer_create(membership, tenant, details, now) -> DelegationOffer:
    offer = DelegationOffer.objects.create(
        partner=membership.partner,
        tenant=tenant,
        roles=roles_sorted(details.roles),
        duration_days=details.duration_days,
        auto_extend=details.auto_extend,
        message=details.message.strip(),
        created_by=membership.user,
        created_at=now,
        last_sent_at=now,
        expires_at=now + datetime.timedelta(days=OFFER_LIFETIME_DAYS),
    )
    audit_log(
        action="delegation_offer.sent",
        actor=membership.user,
        target=offer,
        partner=membership.partner,
        tenant=tenant,
        details={
            "roles": offer.roles,
            "duration_days": offer.duration_days,
            "auto_extend": offer.auto_extend,
        },
    )
    offer_email_queue(offer)
    webhooks.offer_event(offer, "sent", now)
    return offer


def _lock_offer(offer: DelegationOffer) -> DelegationOffer:
    return (
        DelegationOffer.objects.select_for_update(of=("self",))
        .select_related("partner", "tenant")
        .get(pk=offer.pk)
    )


def _require_partner_admin(membership: PartnerMembership, offer: DelegationOffer) -> None:
    if not membership.is_admin or membership.partner_id != offer.partner_id:
        raise PermissionError("Only the partner's admins may do this.")


def offer_expire(offer: DelegationOffer, now) -> bool:
    """A pending offer past its 90 days is expired, whether or not the sweep has run. Its own
    transaction, claimed with a conditional UPDATE: a caller that then refuses must not roll the
    expiry back, and a sweep running at the same moment expires it once."""
    if offer.state != DelegationOffer.State.PENDING or now < offer.expires_at:
        return False
    with transaction.atomic():
        if (
            not DelegationOffer.objects.overdue(now)
            .filter(pk=offer.pk)
            .update(state=DelegationOffer.State.EXPIRED)
        ):
            return False
        audit_log(
            action="delegation_offer.expired",
            target=offer,
            partner=offer.partner,
            tenant=offer.tenant,
        )
        webhooks.offer_event(offer, "expired", now)
    return True


def _pending_locked(offer: DelegationOffer) -> DelegationOffer:
    """The offer, locked in the caller's transaction; OfferClosed unless it is still pending."""
    locked = _lock_offer(offer)
    if locked.state != DelegationOffer.State.PENDING:
        raise OfferClosed(locked.state)
    return locked


def offer_withdraw(*, membership: PartnerMembership, offer: DelegationOffer, now=None) -> None:
    """The partner takes back a pending offer; its link dies with it."""
    _require_partner_admin(membership, offer)
    now = now or timezone.now()
    offer_expire(offer, now)
    with transaction.atomic():
        locked = _pending_locked(offer)
        locked.state = DelegationOffer.State.WITHDRAWN
        locked.answered_at = now
        locked.save(update_fields=["state", "answered_at"])
        audit_log(
            action="delegation_offer.withdrawn",
            actor=membership.user,
            target=locked,
            partner=locked.partner,
            tenant=locked.tenant,
        )
        webhooks.offer_event(locked, "withdrawn", now)
    offer.refresh_from_db()


def offer_resend(*, membership: PartnerMembership, offer: DelegationOffer, now=None) -> int:
    """The tenant's admins get the offer's e-mail again. Returns how many were queued."""
    _require_partner_admin(membership, offer)
    now = now or timezone.now()
    offer_expire(offer, now)
    with transaction.atomic():
        locked = _pending_locked(offer)
        resend_after = locked.resend_wait_until(now)
        if resend_after is not None:
            raise OfferResendTooSoon(resend_after)
        locked.last_sent_at = now
        locked.save(update_fields=["last_sent_at"])
        audit_log(
            action="delegation_offer.resent",
            actor=membership.user,
            target=locked,
            partner=locked.partner,
            tenant=locked.tenant,
        )
        sent = offer_email_queue(locked)
    return sent


def offer_answer(
    *, access: TenantAccess, offer: DelegationOffer, accept: bool, now=None
) -> DelegationRelationship | None:
    """Accept (the relationship starts today) or decline. OfferClosed when it was answered,
    withdrawn or expired meanwhile: the signed link is single use because of this state."""
    if not offer_may_answer(access, offer):
        raise PermissionError("Only an admin of the offer's tenant may answer it.")
    now = now or timezone.now()
    offer_expire(offer, now)
    with transaction.atomic():
        locked = _pending_locked(offer)
        locked.state = DelegationOffer.State.ACCEPTED if accept else DelegationOffer.State.DECLINED
        locked.answered_by = access.user
        locked.answered_at = now
        locked.save(update_fields=["state", "answered_by", "answered_at"])
        relationship = _relationship_start(locked, access, now) if accept else None
        audit_log(
            action="delegation_offer.accepted" if accept else "delegation_offer.declined",
            actor=access.user,
            target=locked,
            partner=locked.partner,
            tenant=locked.tenant,
            details={"relationship": relationship.pk} if relationship else {},
        )
        update_emails_queue(locked, "accepted" if accept else "declined", relationship=relationship)
        webhooks.offer_event(locked, "accepted" if accept else "declined", now, relationship)
    offer.refresh_from_db()
    return relationship


def _relationship_start(offer: DelegationOffer, access: TenantAccess, now):
    """The accepted offer's relationship, from today; it replaces the partner's active one."""
    today = timezone.localdate(now)
    relationship_replace(offer, access, now)
    return DelegationRelationship.objects.create(
        offer=offer,
        partner=offer.partner,
        tenant=offer.tenant,
        roles=offer.roles,
        auto_extend=offer.auto_extend,
        starts_on=today,
        ends_on=today + datetime.timedelta(days=offer.duration_days),
        created_at=now,
    )
