"""Delegated administration (design §4): offers, the customer's answer, relationships, and the
daily sweep (offers unanswered for 90 days, end dates, auto-extension, end-of-term notices).

Every function is one transaction that locks the row it changes, writes an audit event and
queues its e-mails in that transaction.
"""

import datetime
from dataclasses import dataclass

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.access import customer_user_account
from portal.emails import email_queue
from portal.ledger import ledger_claim
from portal.models import PartnerMembership, User
from portal.services import audit_log
from tenants.access import partner_customers
from tenants.emails import partner_admin_recipients, tenant_admin_recipients
from tenants.models import (
    AUTO_EXTEND_DAYS,
    MAX_DURATION_DAYS,
    NOTICE_THRESHOLDS,
    OFFER_LIFETIME_DAYS,
    ActivityLog,
    DelegatedRole,
    DelegationNotice,
    DelegationOffer,
    DelegationRelationship,
    Tenant,
    roles_sorted,
)

RESEND_INTERVAL = datetime.timedelta(minutes=10)
TOKEN_SALT = "tenants.delegation.offer"  # noqa: S105 — a signing salt, not a password


class OfferError(Exception):
    """Nothing changed; the message says why. `field` names the form field, if any."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)


class OfferClosed(Exception):
    """The offer cannot be answered or changed any more; `state` says what it became."""

    def __init__(self, state: str):
        self.state = state
        super().__init__(state)


# --- The link in the e-mail ----------------------------------------------------------------


def offer_token(offer: DelegationOffer) -> str:
    """A signed reference to the offer. It is only a pointer: single use and death with the offer
    come from the offer's state, which the answer page checks under a lock."""
    return signing.dumps({"offer": offer.pk}, salt=TOKEN_SALT, compress=False)


def offer_from_token(token: str) -> int | None:
    """The offer's pk, or None for a tampered or made-up link."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature:
        return None
    return data.get("offer") if isinstance(data, dict) else None


# --- E-mails ---------------------------------------------------------------------------------


def _offer_email_queue(offer: DelegationOffer) -> int:
    from tenants.emails import delegation_offer_url

    recipients = tenant_admin_recipients(offer.tenant)
    for address, language in recipients.items():
        email_queue(
            template="delegation_offer",
            to=[address],
            language=language,
            context={
                "offer": offer,
                "partner": offer.partner,
                "tenant": offer.tenant,
                "roles": offer.role_choices,
                "url": delegation_offer_url(offer),
            },
        )
    return len(recipients)


def _both_sides(relationship_or_offer) -> list[tuple[str, str, str]]:
    """(address, language, side) for the partner's admins and the tenant's admins."""
    partner = [
        (address, language, "partner")
        for address, language in partner_admin_recipients(relationship_or_offer.partner).items()
    ]
    customer = [
        (address, language, "customer")
        for address, language in tenant_admin_recipients(relationship_or_offer.tenant).items()
    ]
    return partner + customer


def _update_email(*, address: str, language: str, side: str, event: str, context: dict) -> None:
    email_queue(
        template="delegation_update",
        to=[address],
        language=language,
        context={**context, "event": event, "side": side},
    )


def _update_emails_queue(offer: DelegationOffer, event: str, **context) -> None:
    relationship = context.get("relationship")
    for address, language, side in _both_sides(offer):
        _update_email(
            address=address,
            language=language,
            side=side,
            event=event,
            context={
                "offer": offer,
                "partner": offer.partner,
                "tenant": offer.tenant,
                "roles": (relationship or offer).role_choices,
                **context,
            },
        )


# --- Partner side ----------------------------------------------------------------------------


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
        admins = list(
            PartnerMembership.objects.filter(partner=membership.partner_id, role="admin")
            .order_by("user__email")
            .values_list("user__email", flat=True)[:5]
        )
        if admins:
            reasons.append(
                _(
                    "Only your organization's partner admins can send delegated admin offers. "
                    "Ask one of them: %(admins)s."
                )
                % {"admins": ", ".join(admins)}
            )
        else:
            reasons.append(
                _(
                    "Only your organization's partner admins can send delegated admin offers. "
                    "Ask the portal's operations team to name one."
                )
            )
    return " ".join(reasons) or None


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


REPLACED_REASON = "replaced by a new offer"


def pending_offer(partner, tenant, now=None) -> DelegationOffer | None:
    """The partner's pending offer to this tenant still open, if any (at most one)."""
    return (
        DelegationOffer.objects.filter(
            partner=partner, tenant=tenant, state="pending", expires_at__gt=now or timezone.now()
        )
        .order_by("-created_at", "-id")
        .first()
    )


def active_relationship(partner, tenant) -> DelegationRelationship | None:
    """The partner's active relationship with this tenant, if any (at most one): a new offer
    accepted replaces it."""
    return (
        DelegationRelationship.objects.filter(partner=partner, tenant=tenant, state="active")
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
    for stale in DelegationOffer.objects.filter(
        partner=membership.partner, tenant=tenant, state="pending", expires_at__lte=now
    ):
        _expire_if_due(stale, now)
    try:
        with transaction.atomic():
            # Two sends at once for the same customer: the second waits here, then sees the
            # first one's offer. The unique constraint backs this up.
            Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
            pending = pending_offer(membership.partner, tenant, now)
            if pending is not None:
                raise OfferError(pending_offer_problem(pending))
            offer = _offer_create(membership, tenant, details, now)
    except IntegrityError:
        pending = pending_offer(membership.partner, tenant, now)
        if pending is None:
            raise
        raise OfferError(pending_offer_problem(pending)) from None
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
    _offer_email_queue(offer)
    return offer


def _lock_offer(offer: DelegationOffer) -> DelegationOffer:
    return (
        DelegationOffer.objects.select_for_update(of=("self",))
        .select_related("partner", "tenant")
        .get(pk=offer.pk)
    )


def _require_partner_admin(membership: PartnerMembership, partner_id: int) -> None:
    if not membership.is_admin or membership.partner_id != partner_id:
        raise PermissionError("Only the partner's admins may do this.")


def _expire_if_due(offer: DelegationOffer, now) -> None:
    """A pending offer past its 90 days is expired, whether or not the sweep has run. Its own
    transaction: the caller then refuses, and its refusal must not roll the expiry back."""
    if offer.state != DelegationOffer.State.PENDING or now < offer.expires_at:
        return
    with transaction.atomic():
        if DelegationOffer.objects.filter(pk=offer.pk, state="pending").update(state="expired"):
            audit_log(
                action="delegation_offer.expired",
                target=offer,
                partner=offer.partner,
                tenant=offer.tenant,
            )


def offer_withdraw(*, membership: PartnerMembership, offer: DelegationOffer, now=None) -> None:
    """The partner takes back a pending offer; its link dies with it."""
    _require_partner_admin(membership, offer.partner_id)
    now = now or timezone.now()
    _expire_if_due(offer, now)
    with transaction.atomic():
        locked = _lock_offer(offer)
        if locked.state != DelegationOffer.State.PENDING:
            raise OfferClosed(locked.state)
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
    offer.refresh_from_db()


def offer_resend(*, membership: PartnerMembership, offer: DelegationOffer, now=None) -> int:
    """The tenant's admins get the offer's e-mail again. Returns how many were queued."""
    _require_partner_admin(membership, offer.partner_id)
    now = now or timezone.now()
    _expire_if_due(offer, now)
    with transaction.atomic():
        locked = _lock_offer(offer)
        if locked.state != DelegationOffer.State.PENDING:
            raise OfferClosed(locked.state)
        # The customer's admins are not to be flooded: one e-mail per offer every few minutes.
        if locked.last_sent_at and now - locked.last_sent_at < RESEND_INTERVAL:
            raise OfferError(
                _("The e-mail was sent less than %(minutes)d minutes ago. Try again later.")
                % {"minutes": RESEND_INTERVAL.seconds // 60}
            )
        locked.last_sent_at = now
        locked.save(update_fields=["last_sent_at"])
        audit_log(
            action="delegation_offer.resent",
            actor=membership.user,
            target=locked,
            partner=locked.partner,
            tenant=locked.tenant,
        )
        sent = _offer_email_queue(locked)
    return sent


# --- Customer side ---------------------------------------------------------------------------


def offer_may_answer(user: User, offer: DelegationOffer) -> bool:
    """Only a signed-in admin of the offer's own tenant answers it (not the partner, not another
    tenant's admin)."""
    account = customer_user_account(user)
    return account is not None and account.is_admin and account.tenant_id == offer.tenant_id


def offer_answer(
    *, offer: DelegationOffer, user: User, accept: bool, now=None
) -> DelegationRelationship | None:
    """Accept (the relationship starts today) or decline. OfferClosed when it was answered,
    withdrawn or expired meanwhile: the signed link is single use because of this state."""
    if not offer_may_answer(user, offer):
        raise PermissionError("Only an admin of the offer's tenant may answer it.")
    now = now or timezone.now()
    today = timezone.localdate(now)
    _expire_if_due(offer, now)
    with transaction.atomic():
        locked = _lock_offer(offer)
        if locked.state != DelegationOffer.State.PENDING:
            raise OfferClosed(locked.state)
        locked.state = DelegationOffer.State.ACCEPTED if accept else DelegationOffer.State.DECLINED
        locked.answered_by = user
        locked.answered_at = now
        locked.save(update_fields=["state", "answered_by", "answered_at"])
        relationship = None
        if accept:
            _relationship_replace(locked, user, now)
            relationship = DelegationRelationship.objects.create(
                offer=locked,
                partner=locked.partner,
                tenant=locked.tenant,
                roles=locked.roles,
                auto_extend=locked.auto_extend,
                starts_on=today,
                ends_on=today + datetime.timedelta(days=locked.duration_days),
                created_at=now,
            )
        audit_log(
            action="delegation_offer.accepted" if accept else "delegation_offer.declined",
            actor=user,
            target=locked,
            partner=locked.partner,
            tenant=locked.tenant,
            details={"relationship": relationship.pk} if relationship else {},
        )
        _update_emails_queue(
            locked, "accepted" if accept else "declined", relationship=relationship
        )
    offer.refresh_from_db()
    return relationship


def _relationship_replace(offer: DelegationOffer, user: User, now) -> None:
    """Accepting an offer while the partner has an active relationship with the tenant changes
    the roles: the old relationship ends now (terminated, "replaced by a new offer"), in the
    caller's transaction, before the new one starts."""
    old = (
        DelegationRelationship.objects.select_for_update(of=("self",))
        .select_related("partner", "tenant")
        .filter(partner=offer.partner_id, tenant=offer.tenant_id, state="active")
        .first()
    )
    if old is None:
        return
    old.state = DelegationRelationship.State.TERMINATED
    old.ended_at = now
    old.terminated_by = user
    old.save(update_fields=["state", "ended_at", "terminated_by"])
    details = {"by": "customer", "reason": REPLACED_REASON, "offer": offer.pk}
    audit_log(
        action="delegation_relationship.replaced",
        actor=user,
        target=old,
        partner=old.partner,
        tenant=old.tenant,
        details=details,
    )
    ActivityLog.objects.create(
        tenant=old.tenant,
        relationship=old,
        partner=old.partner,
        actor=user,
        actor_label=user.email,
        action="delegation_relationship.replaced",
        target_label=str(old)[:300],
        details=details,
    )


# --- Either side -----------------------------------------------------------------------------


def relationship_may_terminate(user: User, relationship: DelegationRelationship) -> str | None:
    """ "partner" or "customer": the side `user` terminates for; None when they may not."""
    if offer_may_answer(user, relationship.offer):
        return "customer"
    membership = getattr(user, "partner_membership", None)
    if (
        membership is not None
        and membership.is_admin
        and membership.partner_id == relationship.partner_id
    ):
        return "partner"
    return None


def relationship_terminate(*, relationship: DelegationRelationship, user: User, now=None) -> bool:
    """End the relationship now (**Terminate relationship** for the partner, **Remove roles** for
    the customer). Access ends with the commit: the tenant rule reads the state on every request.
    False when it had ended already."""
    side = relationship_may_terminate(user, relationship)
    if side is None:
        raise PermissionError("Only the partner's admins or the tenant's admins may do this.")
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            DelegationRelationship.objects.select_for_update(of=("self",))
            .select_related("partner", "tenant", "offer")
            .get(pk=relationship.pk)
        )
        if locked.state != DelegationRelationship.State.ACTIVE:
            return False
        locked.state = DelegationRelationship.State.TERMINATED
        locked.ended_at = now
        locked.terminated_by = user
        locked.save(update_fields=["state", "ended_at", "terminated_by"])
        audit_log(
            action="delegation_relationship.terminated",
            actor=user,
            target=locked,
            partner=locked.partner,
            tenant=locked.tenant,
            details={"by": side},
        )
        _update_emails_queue(locked.offer, "terminated", relationship=locked, by=side)
    relationship.refresh_from_db()
    return True


# --- The daily sweep ------------------------------------------------------------------------


def _notice_claim(relationship: DelegationRelationship, threshold: int, recipient: str) -> bool:
    """Claim one notice in the ledger (portal.ledger): False when a re-run, a retry or a sweep
    running at the same moment already has it."""
    claimed = ledger_claim(
        DelegationNotice,
        [
            {
                "relationship": relationship.pk,
                "ends_on": relationship.ends_on,
                "threshold": threshold,
                "recipient": recipient,
                "sent_at": timezone.now(),
            }
        ],
        key="recipient",
    )
    return bool(claimed)


def _threshold(days_left: int) -> int | None:
    """The notice due with `days_left` days to go: the most recent threshold reached (after
    downtime, the one missed last, not the stale earlier ones)."""
    reached = [t for t in NOTICE_THRESHOLDS if days_left <= t]
    return min(reached) if reached else None


def delegation_sweep(*, today: datetime.date | None = None) -> dict[str, int]:
    """What the periodic task runs daily (and `manage.py delegation_sweep --date`)."""
    now = (
        timezone.now()
        if today is None
        else datetime.datetime.combine(today, datetime.time.min, tzinfo=datetime.UTC)
    )
    today = today or timezone.localdate(now)
    counts = {"offers_expired": 0, "extended": 0, "expired": 0, "notices": 0}

    # 1. Offers unanswered for 90 days. Claimed one by one with a conditional UPDATE.
    due = DelegationOffer.objects.filter(state="pending", expires_at__lte=now).values_list(
        "pk", flat=True
    )
    for pk in list(due):
        with transaction.atomic():
            if DelegationOffer.objects.filter(pk=pk, state="pending").update(state="expired"):
                offer = DelegationOffer.objects.select_related("partner", "tenant").get(pk=pk)
                audit_log(
                    action="delegation_offer.expired",
                    target=offer,
                    partner=offer.partner,
                    tenant=offer.tenant,
                )
                counts["offers_expired"] += 1

    active = DelegationRelationship.objects.filter(state="active")

    # 2. Auto-extension, on the last day. Never for global administrator (refused at the offer
    # already), and never for a relationship whose end date has passed: that one expires below
    # and is not silently restored.
    for pk in list(active.filter(auto_extend=True, ends_on=today).values_list("pk", flat=True)):
        with transaction.atomic():
            locked = (
                DelegationRelationship.objects.select_for_update(of=("self",))
                .select_related("partner", "tenant")
                .get(pk=pk)
            )
            if (
                locked.state != "active"
                or locked.ends_on != today
                or DelegatedRole.GLOBAL_ADMIN in locked.roles
            ):
                continue
            old = locked.ends_on
            locked.ends_on = old + datetime.timedelta(days=AUTO_EXTEND_DAYS)
            locked.save(update_fields=["ends_on"])
            audit_log(
                action="delegation_relationship.extended",
                target=locked,
                partner=locked.partner,
                tenant=locked.tenant,
                details={"from": old.isoformat(), "to": locked.ends_on.isoformat()},
            )
            counts["extended"] += 1

    # 3. Past the end date: expired (access had already ended: the tenant rule reads the dates).
    for pk in list(active.filter(ends_on__lt=today).values_list("pk", flat=True)):
        with transaction.atomic():
            if DelegationRelationship.objects.filter(
                pk=pk, state="active", ends_on__lt=today
            ).update(state="expired", ended_at=now):
                relationship = DelegationRelationship.objects.select_related(
                    "partner", "tenant"
                ).get(pk=pk)
                audit_log(
                    action="delegation_relationship.expired",
                    target=relationship,
                    partner=relationship.partner,
                    tenant=relationship.tenant,
                )
                counts["expired"] += 1

    # 4. Notices 30, 7, 1 days before the end and on the day, each once per relationship, end
    # date, threshold and recipient (the ledger).
    horizon = today + datetime.timedelta(days=max(NOTICE_THRESHOLDS))
    soon = active.filter(ends_on__gte=today, ends_on__lte=horizon).select_related(
        "partner", "tenant", "offer"
    )
    for relationship in soon:
        days_left = (relationship.ends_on - today).days
        threshold = _threshold(days_left)
        if threshold is None:
            continue
        for address, language, side in _both_sides(relationship):
            with transaction.atomic():
                if not _notice_claim(relationship, threshold, address):
                    continue
                _update_email(
                    address=address,
                    language=language,
                    side=side,
                    event="notice",
                    context={
                        "offer": relationship.offer,
                        "relationship": relationship,
                        "partner": relationship.partner,
                        "tenant": relationship.tenant,
                        "roles": relationship.role_choices,
                        "days_left": days_left,
                    },
                )
                counts["notices"] += 1
    return counts
