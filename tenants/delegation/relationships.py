"""Delegated-admin relationships (design §4): granted roles from acceptance to the end date,
ended early by either side (**Terminate relationship**, **Remove roles**) or replaced when the
customer accepts a new offer from the same partner. Access ends with the commit: the tenant rule
reads the relationship on every request."""

from django.db import transaction
from django.utils import timezone

from portal.models import PartnerMembership
from portal.services import audit_log
from tenants import webhooks
from tenants.access import TenantAccess, relationship_may_terminate
from tenants.delegation.activity import activity_write
from tenants.delegation.emails import update_emails_queue
from tenants.models import DelegationOffer, DelegationRelationship

REPLACED_REASON = "replaced by a new offer"


def _lock(**filters) -> DelegationRelationship | None:
    return (
        DelegationRelationship.objects.select_for_update(of=("self",))
        .select_related("partner", "tenant", "offer")
        .filter(**filters)
        .first()
    )


def _end(relationship: DelegationRelationship, user, now) -> None:
    relationship.state = DelegationRelationship.State.TERMINATED
    relationship.ended_at = now
    relationship.terminated_by = user
    relationship.save(update_fields=["state", "ended_at", "terminated_by"])


def relationship_replace(offer: DelegationOffer, access: TenantAccess, now) -> None:
    """Accepting an offer while the partner has an active relationship with the tenant changes
    the roles: the old relationship ends now (terminated, "replaced by a new offer"), in the
    caller's transaction, before the new one starts. Its activity log says so too."""
    old = _lock(
        partner=offer.partner_id, tenant=offer.tenant_id, state=DelegationRelationship.State.ACTIVE
    )
    if old is None:
        return
    _end(old, access.user, now)
    details = {"by": "customer", "reason": REPLACED_REASON, "offer": offer.pk}
    audit_log(
        action="delegation_relationship.replaced",
        actor=access.user,
        target=old,
        partner=old.partner,
        tenant=old.tenant,
        details=details,
    )
    activity_write(
        old, actor=access.user, action="delegation_relationship.replaced", target=old,
        details=details,
    )  # fmt: skip
    # Its roles end: for the partner's systems, terminated by the customer (by a new offer).
    webhooks.relationship_event(old, "terminated", by="customer", replaced_by_offer=offer.pk)


def relationship_terminate(
    *, relationship: DelegationRelationship, by: TenantAccess | PartnerMembership, now=None
) -> bool:
    """End the relationship now, for the customer (`by`: the tenant admin's access) or the
    partner (`by`: a partner admin's membership). False when it had ended already."""
    side = relationship_may_terminate(by, relationship)
    if side is None:
        raise PermissionError("Only the partner's admins or the tenant's admins may do this.")
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock(pk=relationship.pk)
        if locked.state != DelegationRelationship.State.ACTIVE:
            return False
        _end(locked, by.user, now)
        audit_log(
            action="delegation_relationship.terminated",
            actor=by.user,
            target=locked,
            partner=locked.partner,
            tenant=locked.tenant,
            details={"by": side},
        )
        update_emails_queue(locked.offer, "terminated", relationship=locked, by=side)
        webhooks.relationship_event(locked, "terminated", by=side, replaced_by_offer=None)
    relationship.refresh_from_db()
    return True
