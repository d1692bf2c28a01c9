"""The event types a partner's endpoint may subscribe to, each with its label."""

from django.utils.translation import gettext_lazy as _

EVENT_TYPES = {
    "customer.created": _("Customer created"),
    "subscription.licenses_added": _("Licenses added"),
    "subscription.renewed": _("Subscription renewed"),
    "subscription.renewal_notice_due": _("Renewal notice due"),
    "subscription.state_changed": _("Subscription state changed"),
    "subscription.direct_billing": _("Subscription switched to direct billing"),
    "subscription.partner_of_record_changed": _("Partner of record changed"),
    "delegation_offer.sent": _("Delegated admin offer sent"),
    "delegation_offer.accepted": _("Delegated admin offer accepted"),
    "delegation_offer.declined": _("Delegated admin offer declined"),
    "delegation_offer.withdrawn": _("Delegated admin offer withdrawn"),
    "delegation_offer.expired": _("Delegated admin offer expired"),
    "delegation_relationship.terminated": _("Delegated admin relationship ended"),
    "delegation_relationship.expired": _("Delegated admin relationship expired"),
    "delegation_relationship.extended": _("Delegated admin relationship extended"),
}

# Sent by "Send a test event" to the one endpoint asked for; nobody subscribes to it.
TEST_EVENT = "webhook.test"


def event_label(type: str) -> str:
    """What the pages call an event type (the type itself when it is no longer known)."""
    if type == TEST_EVENT:
        return _("Test event")
    return EVENT_TYPES.get(type, type)
