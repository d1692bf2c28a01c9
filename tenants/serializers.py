"""What the API shows of customers and subscriptions, in one place that the API views
(tenants.api, renewals.api, tenants.delegation.api) and the webhooks' payloads (tenants.webhooks)
both import: a webhook's payload is the resource as the API returns it, and services, which
write the webhooks' events, must not import api.py (which imports the services).

Where an answer depends on who asks (what "you" may do, "created by me"), the partner is given
explicitly, with what the tenant rule lets it do there.
"""

from datetime import date

from django.conf import settings
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from portal.models import Partner
from tenants.access import SubscriptionActions, TenantAccess
from tenants.lifecycle import renewal_row, state_label, subscription_state
from tenants.models import RedemptionTarget, Subscription, Tenant
from tenants.previews import PreviewRow, users_losing_licenses
from tenants.selectors import customer_hints, tenant_admins

Intent = RedemptionTarget.Intent
State = Subscription.State


class CustomerRef(serializers.Serializer):
    """A customer named in another answer: keys applied, a subscription, an offer, a
    relationship, an activity entry."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()


# --- A customer ----------------------------------------------------------------------------------


class CustomerSubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.CharField(source="product.name")
    sku = serializers.CharField(source="product.sku")
    seats = serializers.IntegerField()
    seats_used = serializers.IntegerField(help_text=_("Licenses assigned."))
    start_date = serializers.DateField()
    end_date = serializers.DateField(help_text=_("The last day of service."))
    state = serializers.SerializerMethodField(
        help_text=_("As the pages go by it: the dates' state if the sweep is late.")
    )
    state_label = serializers.SerializerMethodField()
    billed_directly = serializers.BooleanField()
    ended_by_direct_billing = serializers.BooleanField()

    @extend_schema_field(serializers.ChoiceField(choices=State.values))
    def get_state(self, subscription) -> str:
        return subscription_state(subscription, self.context["today"])

    def get_state_label(self, subscription) -> str:
        return state_label(subscription, self.get_state(subscription))


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()
    domain_prefix = serializers.CharField()
    country = serializers.CharField(source="country.code", help_text="ISO 3166-1 alpha-2")
    language = serializers.ChoiceField(
        source="preferred_language",
        choices=[code for code, _name in settings.LANGUAGES],
        help_text=_("The language of the customer's e-mails."),
    )
    created_at = serializers.DateTimeField()
    created_by_me = serializers.SerializerMethodField(
        help_text=_("Your organization created this customer.")
    )
    next_end_date = serializers.DateField(
        allow_null=True,
        help_text=_("The soonest end date of the subscriptions you may read."),
    )
    may_redeem = serializers.BooleanField(
        help_text=_("You may add licenses and renew with product keys.")
    )
    may_read_subscriptions = serializers.BooleanField(source="sees_subscriptions")
    may_read_users = serializers.BooleanField()
    subscriptions = serializers.SerializerMethodField(
        help_text=_("null when your roles do not include reading subscriptions.")
    )

    def get_created_by_me(self, tenant) -> bool:
        return tenant.created_by_partner_id == self.context["partner"].pk

    @extend_schema_field(CustomerSubscriptionSerializer(many=True, allow_null=True))
    def get_subscriptions(self, tenant):
        if not tenant.sees_subscriptions:
            return None
        return [
            self._subscription_serializer.to_representation(subscription)
            for subscription in tenant.subscriptions.all()
        ]

    @cached_property
    def _subscription_serializer(self) -> CustomerSubscriptionSerializer:
        """One for every customer of a list (a serializer copies its fields when it is made:
        a new one for each of 50 customers cost more than their rows)."""
        return CustomerSubscriptionSerializer(context=self.context)


class CustomerAdminSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField()
    activated = serializers.BooleanField(
        source="is_activated",
        help_text=_("The administrator has set a password through the activation link."),
    )


RelationshipOut = inline_serializer(
    "CustomerRelationship",
    {
        "id": serializers.IntegerField(),
        "ends_on": serializers.DateField(),
        "roles": serializers.ListField(child=serializers.CharField()),
    },
    allow_null=True,
    help_text=_("The delegated-admin relationship you administer the customer under."),
)


class CustomerDetailSerializer(CustomerSerializer):
    admins = CustomerAdminSerializer(many=True)
    relationship = RelationshipOut


def customer_detail_data(access: TenantAccess, tenant: Tenant, partner: Partner, today: date):
    """The customer as its page shows it to `partner`, whose standing in it is `access`
    (`tenant` as tenants.selectors.partner_customer_list reads it)."""
    customer_hints(tenant, access)  # what the partner may do here, as the page asks the access
    tenant.admins = list(tenant_admins(tenant))
    tenant.relationship = access.relationship
    return CustomerDetailSerializer(tenant, context={"partner": partner, "today": today}).data


# --- Product keys applied to a customer ---------------------------------------------------------


class SubscriptionSnapshotSerializer(serializers.Serializer):
    seats = serializers.IntegerField()
    end_date = serializers.DateField()
    state = serializers.ChoiceField(choices=State.values)
    state_label = serializers.CharField()


class LicenseLostSerializer(serializers.Serializer):
    license = serializers.IntegerField(source="pk")
    tenant_user = serializers.IntegerField(source="tenant_user_id")
    name = serializers.CharField(source="tenant_user.full_name")
    email = serializers.EmailField(source="tenant_user.email")
    username = serializers.CharField(source="tenant_user.user_principal_name")
    is_admin = serializers.BooleanField(source="tenant_user.is_admin")


class KeysApplyProductSerializer(serializers.Serializer):
    product = serializers.CharField(source="product.name")
    sku = serializers.CharField(source="product.sku")
    subscription = serializers.IntegerField(
        source="subscription.pk",
        allow_null=True,
        help_text=_("null: the keys start a new subscription."),
    )
    key_count = serializers.IntegerField()
    key_seats = serializers.IntegerField()
    before = SubscriptionSnapshotSerializer(allow_null=True)
    after = SubscriptionSnapshotSerializer(allow_null=True)
    problem = serializers.CharField(
        allow_blank=True, help_text=_("What stops these keys (empty: nothing).")
    )
    notes = serializers.ListField(child=serializers.CharField())
    fewer_seats = serializers.BooleanField()
    seats_missing = serializers.IntegerField(
        help_text=_("More seats the keys would need to keep the subscription's.")
    )
    licenses_lost = LicenseLostSerializer(many=True)


class KeysAppliedSerializer(serializers.Serializer):
    customer = CustomerRef()
    intent = serializers.ChoiceField(choices=Intent.values)
    dry_run = serializers.BooleanField()
    applied = serializers.BooleanField()
    products = KeysApplyProductSerializer(many=True, help_text=_("Each product: before and after."))
    blocked = serializers.BooleanField(help_text=_("A product has a problem."))
    fewer_seats = serializers.BooleanField(
        help_text=_("A renewal lowers the seats: confirm it to apply.")
    )
    users_losing = serializers.IntegerField(help_text=_("People who lose at least one license."))
    licenses_removed = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=_("The licenses that go: send them back to confirm."),
    )


def keys_applied(
    tenant: Tenant, intent: str, rows: list[PreviewRow], *, applied: bool, dry_run: bool
) -> dict:
    """What the preview page shows (or what was applied), for a script."""
    return KeysAppliedSerializer(
        {
            "customer": {"id": tenant.pk, "name": tenant.name, "domain": tenant.domain},
            "intent": intent,
            "dry_run": dry_run,
            "applied": applied,
            "products": rows,
            "blocked": any(row.problem for row in rows),
            "fewer_seats": any(row.fewer_seats for row in rows),
            "users_losing": users_losing_licenses(rows),
            "licenses_removed": [lic.pk for row in rows for lic in row.licenses_lost],
        }
    ).data


# --- A subscription --------------------------------------------------------------------------


class ProductRef(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()


class StateOut(serializers.Serializer):
    code = serializers.ChoiceField(choices=Subscription.State.values)
    label = serializers.CharField(help_text=_("As the pages name it, in the request's language."))


class PartnerOfRecordOut(serializers.Serializer):
    partner_id = serializers.CharField(help_text=_("The partner's seven-digit ID."))
    name = serializers.CharField()
    is_you = serializers.BooleanField(help_text=_("Whether it is the key's partner."))


class ActionsOut(serializers.Serializer):
    may_renew = serializers.BooleanField(
        help_text=_("Renew with product keys (a prepaid subscription this key may redeem into).")
    )
    may_switch_to_direct_billing = serializers.BooleanField(
        help_text=_("Switch to direct billing (a partner admin's act; not when it is deleted).")
    )


class SubscriptionOut(serializers.Serializer):
    id = serializers.IntegerField()
    customer = CustomerRef()
    product = ProductRef()
    seats = serializers.IntegerField()
    seats_used = serializers.IntegerField(help_text=_("Licenses assigned."))
    start_date = serializers.DateField()
    end_date = serializers.DateField(help_text=_("The last day of service."))
    state = StateOut(help_text=_("The state the dates give today (the pages' state)."))
    days_left = serializers.IntegerField(
        help_text=_("Days after today up to the end date: 0 on the last day, negative once ended.")
    )
    partner_of_record = PartnerOfRecordOut(allow_null=True)
    billed_directly = serializers.BooleanField()
    ended_by_direct_billing = serializers.BooleanField()
    actions = ActionsOut()


def subscription_data(
    subscription: Subscription, today: date, actions: SubscriptionActions, partner: Partner
) -> dict:
    """A subscription as the API answers it to `partner` (SubscriptionOut), on `today`."""
    row = renewal_row(subscription, today)
    tenant, product, por = subscription.tenant, subscription.product, subscription.partner_of_record
    seats_used = getattr(subscription, "seats_used", None)
    return {
        "id": subscription.pk,
        "customer": {"id": tenant.pk, "name": tenant.name, "domain": tenant.domain},
        "product": {"sku": product.sku, "name": product.name},
        "seats": subscription.seats,
        "seats_used": subscription.licenses.count() if seats_used is None else seats_used,
        "start_date": subscription.start_date,
        "end_date": subscription.end_date,
        "state": {"code": row.state, "label": row.state_label},
        "days_left": row.days_left,
        "partner_of_record": {
            "partner_id": por.partner_id,
            "name": por.name,
            "is_you": por.pk == partner.pk,
        }
        if por
        else None,
        "billed_directly": subscription.billed_directly,
        "ended_by_direct_billing": subscription.ended_by_direct_billing,
        "actions": {
            "may_renew": actions.may_renew,
            "may_switch_to_direct_billing": actions.may_switch,
        },
    }
