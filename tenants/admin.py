from django.contrib import admin

from portal.admin import AuditedAdmin
from tenants.models import (
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


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    fk_name = "tenant"
    extra = 0
    fields = ["product", "seats", "start_date", "end_date", "state", "partner_of_record"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class TenantUserInline(admin.TabularInline):
    model = TenantUser
    extra = 0
    fields = ["first_name", "last_name", "email", "phone", "is_admin", "user"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(AuditedAdmin):
    """Tenants are created by partners through redemptions; ops look, they do not edit."""

    list_display = ["name", "domain", "country", "created_by_partner", "created_at"]
    list_filter = ["country", "created_by_partner"]
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

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(AuditedAdmin):
    list_display = [
        "tenant",
        "product",
        "seats",
        "start_date",
        "end_date",
        "state",
        "partner_of_record",
    ]
    list_filter = ["state", "product", "partner_of_record"]
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
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TenantUser)
class TenantUserAdmin(AuditedAdmin):
    list_display = ["email", "first_name", "last_name", "tenant", "is_admin"]
    list_filter = ["is_admin"]
    search_fields = ["email", "first_name", "last_name", "tenant__name"]
    list_select_related = ["tenant"]
    readonly_fields = [
        "tenant",
        "user",
        "first_name",
        "last_name",
        "email",
        "phone",
        "is_admin",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(License)
class LicenseAdmin(AuditedAdmin):
    list_display = ["subscription", "tenant_user", "assigned_at"]
    list_select_related = ["subscription__tenant", "subscription__product", "tenant_user"]
    search_fields = ["tenant_user__email", "subscription__tenant__name"]
    readonly_fields = ["subscription", "tenant_user", "assigned_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SubscriptionKey)
class SubscriptionKeyAdmin(AuditedAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
