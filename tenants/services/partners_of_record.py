"""The partner of record of a subscription (design §3, "Partner of record"): the customer admin
enters a partner ID, sees the partner's name, and confirms. That partner then sees the customer,
and receives the renewal notices.

Partner IDs are short and can be enumerated, so look-ups are counted per person and per client
address; a look-up that finds a partner is given back.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Partner, partner_id_validator
from portal.services import attempt_settle
from portal.throttle import Attempt, Counter, attempt_start
from tenants import webhooks
from tenants.access import Permission, TenantAccess
from tenants.audit import act_record
from tenants.emails import partner_of_record_email_queue
from tenants.models import Subscription

LOOKUP_LIMIT_PER_USER = 10
LOOKUP_LIMIT_PER_ADDRESS = 30
LOOKUP_WINDOW = timedelta(minutes=15)


class PartnerLookupError(Exception):
    """The partner ID finds no partner (or was not tried: `until` when over the limit)."""

    def __init__(self, message: str, until=None):
        self.until = until
        super().__init__(message)


def partner_lookup(*, partner_id: str, access: TenantAccess, client_address: str | None) -> Partner:
    """The partner with this 7-digit ID, under the guessing limits; PartnerLookupError if none."""
    access.require(Permission.MANAGE)
    partner_id_validator(partner_id)  # the form checked it; a wrong format is not a try
    counters = [Counter(f"porlookup:user:{access.user.pk}", LOOKUP_LIMIT_PER_USER)]
    if client_address:
        counters.append(Counter(f"porlookup:addr:{client_address}", LOOKUP_LIMIT_PER_ADDRESS))
    attempt: Attempt = attempt_start(counters, LOOKUP_WINDOW)
    if attempt.blocked:
        raise PartnerLookupError(
            _("Too many partner IDs were tried. Try again after %(time)s UTC.")
            % {"time": f"{attempt.until:%H:%M}"},
            until=attempt.until,
        )
    partner = Partner.objects.filter(partner_id=partner_id).first()
    attempt_settle(
        attempt,
        failed=partner is None,
        action="partner.lookup_limit_reached",
        client_address=client_address,
        actor=access.user,
        details={"tenant": access.tenant.pk},
    )
    if partner is not None:
        return partner
    raise PartnerLookupError(
        _("No partner has the ID %(id)s. Check the ID with your partner.") % {"id": partner_id}
    )


def partner_of_record_set(
    *, access: TenantAccess, subscription: Subscription, partner: Partner | None
) -> bool:
    """Set, change or (`partner=None`) remove the partner of record. The old and the new
    partner's admins and the tenant's admins are told by e-mail. False when nothing changed."""
    access.require(Permission.MANAGE)
    if subscription.tenant_id != access.tenant.pk:
        raise ValueError("The subscription is not in the tenant the access was checked for.")
    with transaction.atomic():
        locked = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("product", "partner_of_record", "tenant")
            .get(pk=subscription.pk)
        )
        old = locked.partner_of_record
        if locked.ended_by_direct_billing:
            return False  # ended by the switch to direct billing: its record stays as it was
        if getattr(old, "pk", None) == getattr(partner, "pk", None):
            return False
        locked.partner_of_record = partner
        locked.save(update_fields=["partner_of_record"])
        act_record(
            access,
            action="subscription.partner_of_record_set"
            if partner is not None
            else "subscription.partner_of_record_removed",
            target=locked,
            details={
                "partner_of_record": [
                    old.partner_id if old else None,
                    partner.partner_id if partner else None,
                ],
            },
        )
        partner_of_record_email_queue(subscription=locked, old=old, new=partner, by=access.user)
        webhooks.partner_of_record_changed(locked, old, partner, timezone.localdate())
    subscription.partner_of_record = partner
    return True
