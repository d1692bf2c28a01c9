from django.contrib import admin

from portal.admin import AuditedAdmin
from renewals.models import NoticeOffset, RenewalNotice
from renewals.services import notice_schedule_changed


@admin.register(NoticeOffset)
class NoticeOffsetAdmin(AuditedAdmin):
    list_display = ["days_before"]

    # A changed schedule is worked out again for every subscription by the next sweep.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        notice_schedule_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        notice_schedule_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        notice_schedule_changed()


@admin.register(RenewalNotice)
class RenewalNoticeAdmin(admin.ModelAdmin):
    """The ledger: read only (a row edited or deleted by hand could repeat a notice)."""

    list_display = [
        "created_at",
        "subscription",
        "end_date",
        "event",
        "days_before",
        "recipient_email",
        "language",
    ]
    list_filter = ["event", "days_before", "language"]
    search_fields = ["recipient_email", "subscription__tenant__name"]
    list_select_related = ["subscription__tenant", "subscription__product"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
