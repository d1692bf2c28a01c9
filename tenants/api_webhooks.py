"""The webhooks' catalogue in the OpenAPI schema (OpenAPI 3.1 `webhooks`, drf-spectacular's
SPECTACULAR_SETTINGS["WEBHOOKS"]): for each event of portal.webhooks.events, what the portal
POSTs to a partner's endpoint — the envelope (portal.webhooks.delivery.webhook_body) and its
`data`, which holds the resources as the API returns them (tenants.serializers,
tenants.delegation.serializers). Who receives which event and what each payload holds is
tenants.webhooks; tests/webhooks/test_events.py checks the payloads against the API's answers
and that every event of the catalogue is here.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers

from portal.webhooks.events import EVENT_TYPES
from tenants.delegation.serializers import OfferSerializer, RelationshipSerializer
from tenants.models import Subscription
from tenants.serializers import CustomerDetailSerializer, KeysAppliedSerializer, SubscriptionOut

ENVELOPE = _(
    "Sent as a POST with a JSON body, signed as Standard Webhooks say: the headers "
    "`webhook-id` (the event's `id`, the same on every try: drop a copy you have seen), "
    "`webhook-timestamp` and `webhook-signature` (HMAC-SHA256 with the endpoint's secret). Any "
    "2xx answer within 10 seconds is a success; otherwise the portal tries again, with longer "
    "waits, for about three days. An endpoint receives only the events it asked for, about the "
    "partner's own customers."
)


def _constant(value: str) -> serializers.CharField:
    """A field that always holds `value` (the event's type)."""

    @extend_schema_field({"type": "string", "enum": [value]})
    class Constant(serializers.CharField):
        pass

    return Constant()


def _partner_ref(name: str) -> serializers.Serializer:
    return inline_serializer(
        name,
        {
            "partner_id": serializers.CharField(help_text=_("The partner's seven-digit ID.")),
            "name": serializers.CharField(),
        },
        allow_null=True,
    )


# The `data` of each event.
DATA = {
    "customer.created": {"customer": CustomerDetailSerializer()},
    "subscription.licenses_added": {
        "keys_applied": KeysAppliedSerializer(
            help_text=_("The API's answer to the keys applied (applied: true).")
        ),
        "subscriptions": SubscriptionOut(many=True, help_text=_("Each one after the change.")),
    },
    "subscription.renewed": {
        "keys_applied": KeysAppliedSerializer(
            help_text=_("The API's answer to the keys applied (applied: true).")
        ),
        "subscriptions": SubscriptionOut(many=True, help_text=_("Each one after the change.")),
    },
    "subscription.renewal_notice_due": {
        "days_before": serializers.IntegerField(
            help_text=_("The notice's threshold: this many days before the end date.")
        ),
        "subscription": SubscriptionOut(),
    },
    "subscription.state_changed": {
        "from": serializers.ChoiceField(choices=Subscription.State.values),
        "to": serializers.ChoiceField(choices=Subscription.State.values),
        "subscription": SubscriptionOut(help_text=_("As it is after the change.")),
    },
    "subscription.direct_billing": {
        "subscription": SubscriptionOut(help_text=_("The prepaid subscription, ended.")),
        "new_subscription": SubscriptionOut(
            help_text=_("The directly billed one that replaces it.")
        ),
        "prepaid_days_lost": serializers.IntegerField(),
    },
    "subscription.partner_of_record_changed": {
        "from": _partner_ref("PartnerOfRecordBefore"),
        "to": _partner_ref("PartnerOfRecordAfter"),
        "subscription": SubscriptionOut(help_text=_("As it is after the change.")),
    },
    "delegation_offer.sent": {"offer": OfferSerializer()},
    "delegation_offer.accepted": {
        "offer": OfferSerializer(),
        "relationship": RelationshipSerializer(help_text=_("The relationship it started.")),
    },
    "delegation_offer.declined": {"offer": OfferSerializer()},
    "delegation_offer.withdrawn": {"offer": OfferSerializer()},
    "delegation_offer.expired": {"offer": OfferSerializer()},
    "delegation_relationship.terminated": {
        "relationship": RelationshipSerializer(),
        "by": serializers.ChoiceField(
            choices=["partner", "customer"], help_text=_("The side that ended it.")
        ),
        "replaced_by_offer": serializers.IntegerField(
            allow_null=True,
            help_text=_(
                "The offer whose acceptance replaced it (the customer accepted new roles); "
                "null when it was terminated."
            ),
        ),
    },
    "delegation_relationship.expired": {"relationship": RelationshipSerializer()},
    "delegation_relationship.extended": {
        "relationship": RelationshipSerializer(),
        "from": serializers.DateField(help_text=_("The end date before.")),
        "to": serializers.DateField(help_text=_("The end date now (180 days later).")),
    },
}

# When each is sent, and to whom.
WHEN = {
    "customer.created": _("A customer was created from product keys; to the partner that did."),
    "subscription.licenses_added": _(
        "Product keys added licenses (or started a subscription of a new product); to the "
        "partners that may redeem keys for the customer."
    ),
    "subscription.renewed": _(
        "Product keys renewed subscriptions; to the partners that may redeem keys for the "
        "customer. A subscription brought back from expired or disabled also sends "
        "subscription.state_changed."
    ),
    "subscription.renewal_notice_due": _(
        "The renewal notice 60, 30, 7 or 1 days before the end date (the days ops set): once per "
        "subscription, end date and threshold, like the e-mail; to the partners that read the "
        "customer's subscriptions."
    ),
    "subscription.state_changed": _(
        "Expired, disabled or deleted by the lifecycle (one event per state a late run passes), "
        "or active again after a renewal; to the partners that read the customer's subscriptions."
    ),
    "subscription.direct_billing": _(
        "A subscription switched to direct billing; to the partners that read the customer's "
        "subscriptions."
    ),
    "subscription.partner_of_record_changed": _(
        "The customer set, changed or removed the partner of record; to the former and the new "
        "partner of record, and the other partners that read the customer's subscriptions."
    ),
    "delegation_offer.sent": _("The partner sent a delegated-admin offer."),
    "delegation_offer.accepted": _("The customer accepted the partner's offer."),
    "delegation_offer.declined": _("The customer declined the partner's offer."),
    "delegation_offer.withdrawn": _("The partner withdrew its offer."),
    "delegation_offer.expired": _("Nobody answered the offer within 90 days."),
    "delegation_relationship.terminated": _(
        "The partner or the customer ended the relationship, or the customer accepted a new "
        "offer from the partner, which replaces it."
    ),
    "delegation_relationship.expired": _("The relationship's end date passed."),
    "delegation_relationship.extended": _(
        "An auto-extending relationship was extended by 180 days on its last day."
    ),
}


def _component(type: str) -> str:
    """customer.created → CustomerCreated."""
    return "".join(word.capitalize() for word in type.replace(".", "_").split("_"))


def _envelope(type: str) -> serializers.Serializer:
    name = _component(type)
    return inline_serializer(
        f"{name}Webhook",
        {
            "id": serializers.CharField(
                help_text=_("The event's ID, also the `webhook-id` header: the same on every try.")
            ),
            "type": _constant(type),
            "occurred_at": serializers.DateTimeField(),
            "partner_id": serializers.CharField(help_text=_("Your seven-digit partner ID.")),
            "customer_id": serializers.IntegerField(
                help_text=_("The customer's ID, as in /customers/{id}/.")
            ),
            "data": inline_serializer(f"{name}Data", DATA[type]),
        },
    )


def webhook(type: str) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=type,
        decorator=extend_schema(
            summary=EVENT_TYPES[type],
            description=f"{WHEN[type]}\n\n{ENVELOPE}",
            request=_envelope(type),
            responses={200: OpenApiResponse(description=_("Received (any 2xx answer)."))},
        ),
    )


# SPECTACULAR_SETTINGS["WEBHOOKS"] names this list: one per event of the catalogue, in its order.
WEBHOOKS = [webhook(type) for type in EVENT_TYPES]
