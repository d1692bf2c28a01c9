from datetime import timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.admin import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline, RecordAdmin
from tenants.models import (
    ActivityLog,
    DelegationNotice,
    DelegationOffer,
    DelegationRelationship,
    License,
    Subscription,
    SubscriptionKey,
    SupportedCountry,
    Tenant,
    TenantUser,
)


@admin.register(SupportedCountry)
class SupportedCountryAdmin(AuditedAdmin):
    list_display = ["country", "added_at"]
    search_fields = ["country"]


class SubscriptionInline(ReadOnlyInline):
    model = Subscription
    fk_name = "tenant"
    fields = ["product", "seats", "start_date", "end_date", "state", "partner_of_record"]
    readonly_fields = fields
    show_change_link = True


class TenantUserInline(ReadOnlyInline):
    model = TenantUser
    fields = ["first_name", "last_name", "username", "email", "phone", "is_admin", "user"]
    readonly_fields = fields


@admin.register(Tenant)
class TenantAdmin(RecordAdmin):
    """Tenants are created by partners through redemptions; ops look, they do not edit."""

    list_display = ["name", "domain", "country", "created_by_partner", "created_at"]
    # No country filter: it would list every country in the world.
    list_filter = ["created_by_partner"]
    search_fields = ["name", "domain_prefix", "users__email"]
    list_select_related = ["created_by_partner"]
    inlines = [SubscriptionInline, TenantUserInline]
    readonly_fields = [
        "name",
        "domain_prefix",
        "country",
        "preferred_language",
        "created_by_partner",
        "created_by",
        "redemption",
        "created_at",
    ]

    @admin.display(description=_("domain"), ordering="domain_prefix")
    def domain(self, obj):
        return obj.domain


class EndsWithinFilter(admin.SimpleListFilter):
    """Subscriptions ending within 7, 30 or 60 days (from today, not yet ended)."""

    title = _("ends within")
    parameter_name = "ends_within"

    def lookups(self, request, model_admin):
        return [(str(days), _("%(days)d days") % {"days": days}) for days in (7, 30, 60)]

    def queryset(self, request, queryset):
        if self.value() not in {"7", "30", "60"}:
            return queryset
        today = timezone.localdate()
        return queryset.filter(
            end_date__gte=today, end_date__lte=today + timedelta(days=int(self.value()))
        )


@admin.register(Subscription)
class SubscriptionAdmin(RecordAdmin):
    list_display = [
        "tenant",
        "product",
        "seats",
        "start_date",
        "end_date",
        "state",
        "partner_of_record",
    ]
    list_filter = [EndsWithinFilter, "state", "product", "partner_of_record"]
    search_fields = ["tenant__name", "tenant__domain_prefix"]
    list_select_related = ["tenant", "product", "partner_of_record"]
    date_hierarchy = "end_date"
    readonly_fields = [
        "tenant",
        "product",
        "seats",
        "start_date",
        "end_date",
        "state",
        "created_by_partner",
        "partner_of_record",
        "created_at",
        "renewal_notice_on",
        "ended_by_direct_billing",
        "billed_directly",
    ]


@admin.register(TenantUser)
class TenantUserAdmin(RecordAdmin):
    list_display = ["email", "username", "first_name", "last_name", "tenant", "is_admin"]
    list_filter = ["is_admin"]
    search_fields = ["email", "username", "first_name", "last_name", "tenant__name"]
    list_select_related = ["tenant"]
    readonly_fields = [
        "tenant",
        "user",
        "first_name",
        "last_name",
        "username",
        "email",
        "phone",
        "is_admin",
        "created_at",
    ]


@admin.register(License)
class LicenseAdmin(RecordAdmin):
    list_display = ["subscription", "tenant_user", "assigned_at"]
    list_select_related = ["subscription__tenant", "subscription__product", "tenant_user"]
    search_fields = ["tenant_user__email", "subscription__tenant__name"]
    readonly_fields = ["subscription", "tenant_user", "assigned_at"]


@admin.register(SubscriptionKey)
class SubscriptionKeyAdmin(RecordAdmin):
    list_display = ["product_key", "subscription", "kind", "seats", "redeemed_at", "redeemed_by"]
    list_filter = ["kind"]
    search_fields = ["subscription__tenant__name", "product_key__last5"]
    list_select_related = [
        "product_key",
        "subscription__tenant",
        "subscription__product",
        "redeemed_by",
    ]
    readonly_fields = ["product_key", "subscription", "kind", "seats", "redeemed_at", "redeemed_by"]


# Delegated administration. Offers and relationships change through their services only (the
# partner's and the customer's pages, the sweep): ops look. The ledger and the activity log are
# records nobody edits.


@admin.register(DelegationOffer)
class DelegationOfferAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "partner", "state", "duration_days", "auto_extend", "created_at"]
    list_filter = ["state", "auto_extend"]
    search_fields = [
        "tenant__name",
        "tenant__domain_prefix",
        "partner__name",
        "partner__partner_id",
    ]
    list_select_related = ["tenant", "partner"]
    date_hierarchy = "created_at"


@admin.register(DelegationRelationship)
class DelegationRelationshipAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "partner", "state", "starts_on", "ends_on", "auto_extend"]
    list_filter = ["state", "auto_extend"]
    search_fields = [
        "tenant__name",
        "tenant__domain_prefix",
        "partner__name",
        "partner__partner_id",
    ]
    list_select_related = ["tenant", "partner"]
    date_hierarchy = "ends_on"


@admin.register(DelegationNotice)
class DelegationNoticeAdmin(ReadOnlyAdmin):
    list_display = ["relationship", "ends_on", "threshold", "recipient", "sent_at"]
    list_filter = ["threshold"]
    search_fields = ["recipient", "relationship__tenant__name"]
    list_select_related = ["relationship__tenant", "relationship__partner"]


@admin.register(ActivityLog)
class ActivityLogAdmin(ReadOnlyAdmin):
    list_display = ["at", "tenant", "partner", "actor_label", "via_api", "action", "target_label"]
    list_filter = ["action", "via_api"]
    search_fields = ["tenant__name", "partner__name", "actor_label", "target_label"]
    list_select_related = ["tenant", "partner"]
    date_hierarchy = "at"
