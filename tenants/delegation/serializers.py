"""What the API shows of delegated-admin offers and relationships, apart from
tenants.delegation.api so that the services, which write the webhooks' events with these as
payloads, can import them (tenants.serializers says why)."""

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenants.models import DelegatedRole, DelegationOffer, DelegationRelationship
from tenants.serializers import CustomerRef


class OfferSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer = CustomerRef(source="tenant")
    roles = serializers.ListField(child=serializers.ChoiceField(choices=DelegatedRole.choices))
    duration_days = serializers.IntegerField()
    auto_extend = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=DelegationOffer.State.choices)
    open = serializers.SerializerMethodField(
        help_text=_("Pending and within its 90 days: the customer can still answer it.")
    )
    sent_at = serializers.DateTimeField(source="created_at")
    sent_by = serializers.EmailField(source="created_by.email", allow_null=True)
    expires_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    last_sent_at = serializers.DateTimeField(
        allow_null=True, help_text=_("When the offer's e-mail last went to the customer.")
    )
    resend_after = serializers.SerializerMethodField(
        help_text=_(
            "When the e-mail may be sent again; null when it may now or the offer is closed."
        )
    )

    def _now(self):
        return self.context.get("now") or timezone.now()

    def get_open(self, offer: DelegationOffer) -> bool:
        return offer.is_open(self._now())

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_resend_after(self, offer: DelegationOffer):
        now = self._now()
        after = offer.resend_wait_until(now) if offer.is_open(now) else None
        return serializers.DateTimeField().to_representation(after) if after else None


class RelationshipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer = CustomerRef(source="tenant")
    offer = serializers.IntegerField(source="offer_id")
    roles = serializers.ListField(child=serializers.ChoiceField(choices=DelegatedRole.choices))
    auto_extend = serializers.BooleanField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(help_text=_("The last day the roles are granted."))
    state = serializers.ChoiceField(choices=DelegationRelationship.State.choices)
    in_force = serializers.SerializerMethodField(
        help_text=_("The roles are granted today (active, and not past the end date).")
    )
    accepted_at = serializers.DateTimeField(source="created_at")
    ended_at = serializers.DateTimeField(allow_null=True)

    def get_in_force(self, relationship: DelegationRelationship) -> bool:
        return relationship.is_active_on(timezone.localdate())
