"""What partners' endpoints hear about their customers (issue 19): who receives each event of
the catalogue (portal.webhooks.events), and its payload — the resource as the API returns it to
that partner (tenants.serializers, tenants.delegation.serializers), built only for the partners
whose endpoint wants the event.

The services that make the changes call these, in their own transaction, once the change is
written: a rollback sends nothing. A partner hears only about its own customers:

- a customer's creation goes to the partner that created it;
- an offer's or a relationship's events go to its partner;
- a subscription's events go to the partners whose customer the tenant is for reading
  subscriptions (the tenant rule: creator, partner of record, a relationship whose roles allow
  it), a change of partner of record to the former one as well; the keys applied go to those
  that may redeem keys there (the API's answer to applying keys, which the payload holds, names
  the users who lose a license: a billing reader does not see users).
"""

from collections.abc import Callable, Sequence
from datetime import date, datetime

from django.db.models import Count

from portal.models import Partner
from portal.webhooks.services import partners_listening, webhook_event_emit
from tenants.access import (
    Permission,
    customer_partners,
    partner_standing,
    subscription_actions,
)
from tenants.delegation.serializers import OfferSerializer, RelationshipSerializer
from tenants.models import (
    DelegationOffer,
    DelegationRelationship,
    RedemptionTarget,
    Subscription,
    Tenant,
)
from tenants.previews import PreviewRow
from tenants.selectors import partner_customer_list
from tenants.serializers import customer_detail_data, keys_applied, subscription_data

State = Subscription.State


class Audience:
    """Who hears about an event of `type` concerning these tenants: the partners listening for
    it (one query), among them those whose customer each tenant is for `permission` (one more,
    only when a partner listens). A sweep makes one per batch."""

    def __init__(
        self,
        type: str,
        tenant_ids: Sequence[int],
        *,
        permission: Permission = Permission.SUBSCRIPTIONS_READ,
        today: date | None = None,
    ):
        self.type = type
        self.listening = partners_listening(type)
        self.customer_of = (
            customer_partners(
                tenant_ids, permission=permission, partner_ids=self.listening, today=today
            )
            if self.listening
            else {}
        )

    def partners(self, tenant_id: int, *also: Partner | None) -> list[Partner]:
        """The partners listening whose customer the tenant is, and those of `also` listening."""
        ids = self.customer_of.get(tenant_id, set()) | {p.pk for p in also if p is not None}
        return [self.listening[pk] for pk in sorted(ids) if pk in self.listening]

    def emit(self, tenant: Tenant, payload: Callable[[Partner], dict], *also: Partner | None):
        """One event for each partner of `partners`, with its own payload."""
        for partner in self.partners(tenant.pk, *also):
            webhook_event_emit(
                type=self.type,
                partner=partner,
                tenant=tenant,
                payload=lambda partner=partner: payload(partner),
            )


def subscription_payload(subscription: Subscription, partner: Partner, today: date) -> dict:
    """The subscription as the API answers it to `partner`, with what its admins may do. Read
    again, as the change left it (the licenses a renewal removed, the seats it set)."""
    subscription = (
        Subscription.objects.select_related("tenant", "product", "partner_of_record")
        .annotate(seats_used=Count("licenses"))
        .get(pk=subscription.pk)
    )
    access = partner_standing(partner, subscription.tenant_id)
    actions = subscription_actions(access, subscription, today)
    return subscription_data(subscription, today, actions, partner)


def _partner_ref(partner: Partner | None) -> dict | None:
    return {"partner_id": partner.partner_id, "name": partner.name} if partner else None


# --- Customers and subscriptions -------------------------------------------------------------


def customer_created(tenant: Tenant, today: date) -> None:
    """A new customer (tenant_create), to the partner that created it."""
    partner = tenant.created_by_partner

    def payload() -> dict:
        access = partner_standing(partner, tenant.pk)
        row = partner_customer_list(partner, tenants=Tenant.objects.filter(pk=tenant.pk)).get()
        return {"customer": customer_detail_data(access, row, partner, today)}

    webhook_event_emit(type="customer.created", partner=partner, tenant=tenant, payload=payload)


def keys_applied_to(tenant: Tenant, intent: str, rows: list[PreviewRow], today: date) -> None:
    """Product keys applied (keys_apply): licenses added or the subscriptions renewed, with the
    API's answer to applying them and each subscription after the change. A renewal that brings
    back an expired or disabled subscription is also its change of state (reactivated)."""
    renewing = intent == RedemptionTarget.Intent.RENEW
    audience = Audience(
        "subscription.renewed" if renewing else "subscription.licenses_added",
        [tenant.pk],
        permission=Permission.REDEEM,
        today=today,
    )

    def payload(partner: Partner) -> dict:
        return {
            "keys_applied": keys_applied(tenant, intent, rows, applied=True, dry_run=False),
            "subscriptions": [subscription_payload(r.subscription, partner, today) for r in rows],
        }

    audience.emit(tenant, payload)
    lapsed = (State.EXPIRED, State.DISABLED)
    back = [row for row in rows if renewing and row.before and row.before.state in lapsed]
    if back:
        changes = Audience("subscription.state_changed", [tenant.pk], today=today)
        for row in back:
            state_changed(changes, row.subscription, row.before.state, State.ACTIVE, today)


def state_changed(
    audience: Audience, subscription: Subscription, before: str, after: str, today: date
) -> None:
    """The subscription went from `before` to `after`: expired, disabled, deleted (the lifecycle
    sweep) or reactivated (a renewal)."""

    def payload(partner: Partner) -> dict:
        return {
            "from": str(before),
            "to": str(after),
            "subscription": subscription_payload(subscription, partner, today),
        }

    audience.emit(subscription.tenant, payload)


def renewal_notice_due(
    audience: Audience, subscription: Subscription, days_before: int, today: date
) -> None:
    """The renewal notice `days_before` the end date (the renewal notices' sweep, once per
    subscription, end date and threshold: its ledger)."""

    def payload(partner: Partner) -> dict:
        return {
            "days_before": days_before,
            "subscription": subscription_payload(subscription, partner, today),
        }

    audience.emit(subscription.tenant, payload)


def direct_billing(old: Subscription, new: Subscription, prepaid_days_lost: int, today: date):
    """The switch to direct billing: the prepaid subscription ended, the new one."""
    audience = Audience("subscription.direct_billing", [old.tenant_id], today=today)

    def payload(partner: Partner) -> dict:
        return {
            "subscription": subscription_payload(old, partner, today),
            "new_subscription": subscription_payload(new, partner, today),
            "prepaid_days_lost": prepaid_days_lost,
        }

    audience.emit(old.tenant, payload)


def partner_of_record_changed(
    subscription: Subscription, old: Partner | None, new: Partner | None, today: date
) -> None:
    """Set, changed or removed by the customer: to the former partner of record as well."""
    audience = Audience(
        "subscription.partner_of_record_changed", [subscription.tenant_id], today=today
    )

    def payload(partner: Partner) -> dict:
        return {
            "from": _partner_ref(old),
            "to": _partner_ref(new),
            "subscription": subscription_payload(subscription, partner, today),
        }

    audience.emit(subscription.tenant, payload, old)


# --- Delegated administration ----------------------------------------------------------------


def offer_event(
    offer: DelegationOffer,
    action: str,
    now: datetime,
    relationship: DelegationRelationship | None = None,
) -> None:
    """delegation_offer.<action> (sent, accepted, declined, withdrawn, expired), to the offer's
    partner; an accepted offer's payload holds the relationship it started."""

    def payload() -> dict:
        # Read again: an offer expired by a conditional UPDATE is still pending in memory.
        fresh = DelegationOffer.objects.select_related("tenant", "created_by").get(pk=offer.pk)
        data = {"offer": OfferSerializer(fresh, context={"now": now}).data}
        if relationship is not None:
            data["relationship"] = RelationshipSerializer(relationship).data
        return data

    webhook_event_emit(
        type=f"delegation_offer.{action}",
        partner=offer.partner,
        tenant=offer.tenant,
        payload=payload,
    )


def relationship_event(relationship: DelegationRelationship, action: str, **details) -> None:
    """delegation_relationship.<action> (terminated, expired, extended), to its partner, with
    `details` (who ended it, the end dates before and after)."""

    def payload() -> dict:
        return {"relationship": RelationshipSerializer(relationship).data, **details}

    webhook_event_emit(
        type=f"delegation_relationship.{action}",
        partner=relationship.partner,
        tenant=relationship.tenant,
        payload=payload,
    )
