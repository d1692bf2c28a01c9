from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from post_office import admin as post_office_admin  # registers the outbox's admin first
from post_office.models import Email

from mfa.services import factors_reset
from mfa.step_up import step_up_if
from portal.api.services import api_key_revoke
from portal.audit_labels import action_label, actions_matching, target_type_label
from portal.models import (
    ApiKey,
    AuditEvent,
    Partner,
    PartnerMembership,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal.outbox import outbox_requeue
from portal.services import audit_log, partner_enrolment_set
from portal.webhooks.services import webhook_endpoint_disable, webhook_endpoint_enable


def split_datetime_labelled(widget, label) -> None:
    """Name both inputs of a date-and-time field. Django's admin gives the two one label that
    points at neither (a MultiWidget has no id for its label) and shows "Date:" and "Time:" as
    bare text, so a screen reader announced two unnamed inputs (axe: label, critical)."""
    if isinstance(widget, forms.SplitDateTimeWidget):
        date, time = widget.widgets
        date.attrs["aria-label"] = _("%(field)s, date") % {"field": capfirst(label)}
        time.attrs["aria-label"] = _("%(field)s, time") % {"field": capfirst(label)}


class LabelledFieldsMixin:
    """For every admin form (model admins and inlines): inputs Django leaves unnamed get a name."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None:
            split_datetime_labelled(formfield.widget, formfield.label)
        return formfield


class LabelledInlineFormSet(forms.BaseInlineFormSet):
    """A tabular inline names each column once, in its heading, which is the label of none of
    the inputs below it (axe: label, select-name): each input is named after its column."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        for name, field in form.fields.items():
            # The input inside a related field's wrapper (its +/✎ links) is the one rendered.
            widget = getattr(field.widget, "widget", field.widget)
            # Hidden inputs need no name; a date and time field names its two inputs itself.
            if not isinstance(widget, forms.HiddenInput | forms.MultiWidget):
                widget.attrs.setdefault("aria-label", capfirst(field.label or name))


class TabularInline(LabelledFieldsMixin, admin.TabularInline):
    formset = LabelledInlineFormSet


class AuditedAdmin(LabelledFieldsMixin, admin.ModelAdmin):
    """Every add, change and deletion made in the admin is also an audit event.

    Django's admin already calls these three hooks for each of them (its own LogEntry); the
    portal's audit log is the one place that answers "who changed what", so it hears them too.
    """

    def get_changeform_initial_data(self, request):
        """The add page's initial values from the query string, without the ones that are no
        id of the related row: the autocomplete and select widgets look them up as ids, and
        `?partner=abc` was a 500."""
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if not isinstance(field, (models.ForeignKey, models.ManyToManyField)):
                continue
            try:
                for item in value if isinstance(value, list) else [value]:
                    field.target_field.to_python(item)
                    field.target_field.get_prep_value(item)
            except (ValidationError, ValueError, TypeError):
                del initial[name]
        return initial

    def _audit(self, request, obj, verb: str, message="") -> None:
        audit_log(
            action=f"admin.{obj._meta.label_lower}.{verb}",
            actor=request.user,
            target=obj,
            details={"change": message} if message else {},
        )

    def log_addition(self, request, obj, message):
        self._audit(request, obj, "added", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "changed", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "deleted")
        return super().log_deletions(request, queryset)


class RecordAdmin(AuditedAdmin):
    """Rows that only the portal's services create (from the partners' and customers' pages, the
    import and generate tools): ops look and correct, they neither add nor delete here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(RecordAdmin):
    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class PartnerMembershipInline(TabularInline):
    model = PartnerMembership
    extra = 0
    autocomplete_fields = ["user"]


class StepUpChangesMixin:
    """In the admin too, changing who holds power (a person's staff rights, a partner role) is
    a step-up act: a form sent after MFA_STEP_UP_MINUTES waits for a new verification."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        step_up = step_up_if(request, request.method == "POST")
        if step_up is not None:
            return step_up
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        step_up = step_up_if(request, request.method == "POST")
        if step_up is not None:
            return step_up
        return super().delete_view(request, object_id, extra_context)


@admin.register(User)
class UserAdmin(StepUpChangesMixin, AuditedAdmin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "language", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "language"]
    search_fields = ["email", "first_name", "last_name"]
    # Set when the person picks a language in the header; until then it follows their pages.
    readonly_fields = ["language_chosen_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (
            _("Personal info"),
            {"fields": ["first_name", "last_name", "language", "language_chosen_at"]},
        ),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "language", "password1", "password2"]}),
    ]
    actions = ["second_factor_reset"]

    @admin.action(description=_("Remove their second factors (they enrol again at next sign-in)"))
    def second_factor_reset(self, request, queryset):
        """For people who lost every factor and recovery code: a step-up act, confirmed on a
        page of its own, audited and e-mailed to each. Nobody resets their own: that is what
        recovery codes are for."""
        step_up = step_up_if(request, True)
        if step_up is not None:
            return step_up
        people = [person for person in queryset if person.pk != request.user.pk]
        if request.POST.get("post") != "yes":
            return TemplateResponse(
                request,
                "admin/portal/user/second_factor_reset.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Remove their second factors"),
                    "opts": self.model._meta,
                    "people": people,
                    "skipped_self": len(people) < len(queryset),
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                    "changelist_url": request.get_full_path(),
                },
            )
        for person in people:
            factors_reset(user=person, actor=request.user, by="ops")
        self.message_user(
            request,
            ngettext(
                "%(count)d person must enrol a second factor again; they were told by e-mail.",
                "%(count)d people must enrol a second factor again; they were told by e-mail.",
                len(people),
            )
            % {"count": len(people)},
            messages.SUCCESS,
        )
        return None


@admin.register(Partner)
class PartnerAdmin(StepUpChangesMixin, AuditedAdmin):
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

    def _set_enrolment(self, request, queryset, enrolled: bool):
        changed = sum(
            partner_enrolment_set(partner=partner, enrolled=enrolled, actor=request.user)
            for partner in queryset
        )
        self.message_user(request, _("%(count)d partner(s) changed.") % {"count": changed})

    @admin.action(description=_("Enroll in the cloud program"))
    def enrol(self, request, queryset):
        self._set_enrolment(request, queryset, True)

    @admin.action(description=_("Remove from the cloud program"))
    def unenrol(self, request, queryset):
        self._set_enrolment(request, queryset, False)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Partners' API keys: ops see them (never the keys: only their start and end) and revoke
    them."""

    list_display = [
        "name",
        "shown",
        "partner",
        "role",
        "created_by_label",
        "created_at",
        "last_used_at",
        "last_used_from",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["role", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "shown_start", "shown_end", "partner__name", "partner__partner_id"]
    list_select_related = ["partner"]
    exclude = ["digest"]
    actions = ["revoke"]

    @admin.display(description=_("key"))
    def shown(self, key):
        return key.shown

    def has_revoke_permission(self, request) -> bool:
        """Revoking is a change: staff who may only view API keys do not revoke them."""
        return request.user.has_perm("portal.change_apikey")

    @admin.action(description=_("Revoke the selected API keys"), permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = sum(api_key_revoke(key=key, actor=request.user) for key in queryset)
        self.message_user(request, _("%(count)d API key(s) revoked.") % {"count": revoked})


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    """Partners' webhook endpoints: ops see them (never their secrets) and disable or enable
    them; partners manage them on their Webhooks page."""

    list_display = [
        "url",
        "partner",
        "enabled",
        "failing_since",
        "disabled_reason",
        "created_by_label",
        "created_at",
    ]
    list_filter = ["enabled"]
    search_fields = ["url", "description", "partner__name", "partner__partner_id"]
    list_select_related = ["partner"]
    exclude = ["secret_encrypted", "previous_secret_encrypted"]
    actions = ["disable", "enable"]

    def has_switch_permission(self, request) -> bool:
        return request.user.has_perm("portal.change_webhookendpoint")

    @admin.action(description=_("Disable the selected webhook endpoints"), permissions=["switch"])
    def disable(self, request, queryset):
        changed = sum(
            webhook_endpoint_disable(endpoint=endpoint, actor=request.user) for endpoint in queryset
        )
        self.message_user(request, _("%(count)d endpoint(s) disabled.") % {"count": changed})

    @admin.action(description=_("Enable the selected webhook endpoints"), permissions=["switch"])
    def enable(self, request, queryset):
        changed = sum(
            webhook_endpoint_enable(endpoint=endpoint, actor=request.user) for endpoint in queryset
        )
        self.message_user(request, _("%(count)d endpoint(s) enabled.") % {"count": changed})


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["at", "status_code", "duration_ms", "error", "response_excerpt"]
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Each event to each endpoint, with its tries: what ops look at when a partner says a
    webhook never came."""

    list_display = [
        "event_id",
        "event_type",
        "endpoint",
        "state",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["state", "event__type"]
    search_fields = ["event__id", "endpoint__url", "event__partner__name"]
    list_select_related = ["event", "endpoint"]
    fields = [
        "event",
        "event_type",
        "endpoint",
        "state",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "last_status_code",
        "delivered_at",
        "created_at",
        "payload",
    ]
    readonly_fields = ["event_type", "payload"]
    inlines = [WebhookAttemptInline]

    @admin.display(description=_("event"), ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type

    @admin.display(description=_("payload"))
    def payload(self, delivery):
        return delivery.event.payload


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(StepUpChangesMixin, AuditedAdmin):
    list_display = ["user", "partner", "role", "created_at"]
    list_filter = ["role", "partner"]
    search_fields = ["user__email", "partner__name", "partner__partner_id"]
    autocomplete_fields = ["user", "partner"]
    list_select_related = ["user", "partner"]


class AuditCodeFilter(admin.SimpleListFilter):
    """A filter on one of the audit log's codes, each shown by its label in the reader's
    language (portal.audit_labels) and offered only when some event has it."""

    field: str
    label = staticmethod(str)

    def lookups(self, request, model_admin):
        codes = (
            model_admin.get_queryset(request)
            .exclude(**{self.field: ""})
            .order_by()
            .values_list(self.field, flat=True)
            .distinct()
        )
        choices = [(code, self.label(code)) for code in codes]
        return sorted(choices, key=lambda choice: choice[1].casefold())

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field: self.value()})
        return queryset


class ActionFilter(AuditCodeFilter):
    title = _("action")
    parameter_name = field = "action"
    label = staticmethod(action_label)


class TargetTypeFilter(AuditCodeFilter):
    title = _("target type")
    parameter_name = field = "target_type"
    label = staticmethod(target_type_label)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "actor_label",
        "action_name",
        "target_type_name",
        "target_label",
        "tenant_label",
        "client_address",
    ]
    list_filter = [ActionFilter, TargetTypeFilter]
    search_fields = ["actor_label", "action", "target_label", "tenant_label", "target_id"]
    date_hierarchy = "at"
    list_select_related = ["partner"]
    # The detail page shows the labels in place of the codes.
    fields = [
        "at",
        "actor",
        "actor_label",
        "action_name",
        "target_type_name",
        "target_id",
        "target_label",
        "partner",
        "tenant_id",
        "tenant_label",
        "details",
        "client_address",
    ]
    readonly_fields = ["action_name", "target_type_name"]
    # The audit log is read-only for everyone, ops included (ReadOnlyAdmin).

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, obj):
        return action_label(obj.action)

    @admin.display(description=_("target type"), ordering="target_type")
    def target_type_name(self, obj):
        return target_type_label(obj.target_type)

    def get_search_results(self, request, queryset, search_term):
        """Searching for "Key redeemed" (or "Clé récupérée") finds the events of that action,
        though the table stores `key.redeemed`."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        actions = actions_matching(search_term)
        if actions:
            results |= queryset.filter(action__in=actions)
        return results, may_have_duplicates


# The periodic task schedules ops edit (django-celery-beat) are audited like everything else.
for _model, _base in [
    (PeriodicTask, beat_admin.PeriodicTaskAdmin),
    (CrontabSchedule, beat_admin.CrontabScheduleAdmin),
    (IntervalSchedule, beat_admin.IntervalScheduleAdmin),
    (ClockedSchedule, beat_admin.ClockedScheduleAdmin),
    (SolarSchedule, beat_admin.SolarScheduleAdmin),
]:
    admin.site.unregister(_model)
    admin.site.register(
        _model, type(f"Audited{_base.__name__}", (AuditedAdmin, _base), {"__module__": __name__})
    )


@admin.action(description=_("Send the selected e-mails again"), permissions=["change"])
def outbox_requeue_action(modeladmin, request, queryset):
    count = outbox_requeue(emails=queryset, actor=request.user)
    modeladmin.message_user(
        request,
        ngettext(
            "%(count)d e-mail is queued again; the outbox sends it within a minute.",
            "%(count)d e-mails are queued again; the outbox sends them within a minute.",
            count,
        )
        % {"count": count},
        messages.SUCCESS,
    )


class OutboxEmailAdmin(LabelledFieldsMixin, post_office_admin.EmailAdmin):
    """post_office's e-mail pages, with its two ways to send again going through the outbox.

    Its "Requeue" action only flipped the status (no audit, the tries left as they were) and its
    "Resend" button sent from the admin page on a GET, around the row lock that keeps two senders
    apart. Both now queue the e-mail again with `outbox_requeue`; "Resend" asks first.
    """

    actions = [outbox_requeue_action]

    def resend(self, request, pk):
        email = self._get_object_or_deny(request, pk, "change")
        if request.method == "POST":
            outbox_requeue_action(self, request, Email.objects.filter(pk=email.pk))
            return HttpResponseRedirect(reverse("admin:post_office_email_change", args=[email.pk]))
        return TemplateResponse(
            request,
            "admin/post_office/email/resend_confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": email,
                "title": _("Send this e-mail again?"),
            },
        )


admin.site.unregister(Email)
admin.site.register(Email, OutboxEmailAdmin)

# The outbox's e-mails are rendered from the portal's own template files: post_office's database
# templates are not used, and their admin pages need inline scripts and styles that the Content
# Security Policy forbids.
admin.site.unregister(post_office_admin.EmailTemplate)
