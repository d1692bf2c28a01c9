"""Ops' view of second factors: the accounts that owe one, by partner and tenant; the apps (never
their secrets). Passkeys and recovery codes are django-otp-webauthn's and django-otp's admins."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice

from mfa.models import AccountWithoutFactor, AuthenticatorApp
from portal.second_factor import grace_ends

# django-otp's own admin for recovery codes would let ops add codes or delete a set without an
# audit event or an e-mail: ops remove a person's factors with the user admin's action instead.
if admin.site.is_registered(StaticDevice):
    admin.site.unregister(StaticDevice)


@admin.register(AuthenticatorApp)
class AuthenticatorAppAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__email"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # a person sets up their own app: its secret is shown to them only

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the user admin's action removes factors, audited and e-mailed


@admin.register(AccountWithoutFactor)
class AccountWithoutFactorAdmin(admin.ModelAdmin):
    list_display = ["email", "role", "partner", "tenant", "grace_ends", "last_login"]
    list_filter = ["is_staff", "partner_membership__partner", "tenant_user__is_admin"]
    search_fields = ["email", "partner_membership__partner__name", "tenant_user__tenant__name"]
    list_select_related = ["partner_membership__partner", "tenant_user__tenant"]
    ordering = ["email"]

    def get_queryset(self, request):
        return AccountWithoutFactor.objects.owing()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("role"))
    def role(self, obj):
        if obj.is_staff:
            return _("Operations")
        membership = getattr(obj, "partner_membership", None)
        if membership is not None:
            return membership.get_role_display()
        return _("Customer admin")

    @admin.display(description=_("partner"), ordering="partner_membership__partner__name")
    def partner(self, obj):
        membership = getattr(obj, "partner_membership", None)
        return membership.partner if membership is not None else "—"

    @admin.display(description=_("tenant"), ordering="tenant_user__tenant__name")
    def tenant(self, obj):
        account = getattr(obj, "tenant_user", None)
        return account.tenant if account is not None else "—"

    @admin.display(description=_("grace period ends"))
    def grace_ends(self, obj):
        return grace_ends(obj)
