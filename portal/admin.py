from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from portal.models import AuditEvent, Partner, PartnerMembership, User
from portal.services import audit_log, partner_enrolment_set


class PartnerMembershipInline(admin.TabularInline):
    model = PartnerMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "language", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "language"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name", "language"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "language", "password1", "password2"]}),
    ]


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "partner_id", "cloud_program_enrolled", "contact_email", "created_at"]
    list_filter = ["cloud_program_enrolled"]
    search_fields = ["name", "partner_id", "contact_email"]
    inlines = [PartnerMembershipInline]
    actions = ["enrol", "unenrol"]

    def save_model(self, request, obj, form, change):
        enrolment_changed = change and "cloud_program_enrolled" in form.changed_data
        enrolled = obj.cloud_program_enrolled
        if enrolment_changed:
            # The flag goes through the service so that the change is audited once, in one place.
            obj.cloud_program_enrolled = not enrolled
        super().save_model(request, obj, form, change)
        if enrolment_changed:
            partner_enrolment_set(partner=obj, enrolled=enrolled, actor=request.user)
        audit_log(
            action="partner.changed" if change else "partner.created",
            actor=request.user,
            target=obj,
            partner=obj,
            details={"fields": [f for f in form.changed_data if f != "cloud_program_enrolled"]},
        )

    def _set_enrolment(self, request, queryset, enrolled: bool):
        changed = sum(
            partner_enrolment_set(partner=partner, enrolled=enrolled, actor=request.user)
            for partner in queryset
        )
        self.message_user(request, _("%(count)d partner(s) changed.") % {"count": changed})

    @admin.action(description=_("Enrol in the cloud program"))
    def enrol(self, request, queryset):
        self._set_enrolment(request, queryset, True)

    @admin.action(description=_("Remove from the cloud program"))
    def unenrol(self, request, queryset):
        self._set_enrolment(request, queryset, False)


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "partner", "role", "created_at"]
    list_filter = ["role", "partner"]
    search_fields = ["user__email", "partner__name", "partner__partner_id"]
    autocomplete_fields = ["user", "partner"]
    list_select_related = ["user", "partner"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "action", "target_label", "tenant_label", "client_address"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "action", "target_label", "tenant_label", "target_id"]
    date_hierarchy = "at"
    list_select_related = ["partner"]

    # The audit log is read-only for everyone, ops included.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
