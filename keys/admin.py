from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from keys.admin_revoke import key_revoke_confirm
from keys.codec import ALPHABET
from keys.forms import KeyCheckForm, KeyGenerateForm, KeyImportForm
from keys.models import (
    KeyBatch,
    KeyJob,
    KeyJobFile,
    Product,
    ProductKey,
    Redemption,
    RedemptionLine,
)
from keys.sealing import recipient_keys
from keys.services import (
    KeyGuessLimitReached,
    KeyImportError,
    KeyJobDownloadRefused,
    key_find_for_staff,
    key_job_download,
    key_job_generate_start,
    key_job_import_start,
)
from mfa.step_up import step_up_required
from portal.admin import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline, RecordAdmin
from portal.forms import posted_data
from portal.models import Partner
from portal.throttle import retry_after_seconds


@admin.register(Product)
class ProductAdmin(AuditedAdmin):
    list_display = ["sku", "name", "term_months", "max_seats"]
    search_fields = ["sku", "name"]


@admin.register(KeyBatch)
class KeyBatchAdmin(RecordAdmin):
    list_display = [
        "id",
        "product",
        "seats_per_key",
        "partner",
        "source",
        "key_count",
        "created_at",
    ]
    list_filter = ["source", "product", "partner"]
    search_fields = ["note", "partner__name", "partner__partner_id", "product__sku"]
    list_select_related = ["product", "partner", "created_by"]
    readonly_fields = [
        "product",
        "seats_per_key",
        "partner",
        "source",
        "key_count",
        "created_by",
        "created_at",
    ]
    fields = [*readonly_fields, "note"]
    # Batches come only from the import and generate forms below (the same services as the
    # management commands); their keys are never edited or deleted.
    change_list_template = "admin/keys/keybatch/change_list.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            # Making keys, and handing them out, are step-up acts (mfa.step_up).
            path("import/", wrap(step_up_required(self.import_view)), name="keys_keybatch_import"),
            path(
                "generate/",
                wrap(never_cache(step_up_required(self.generate_view))),
                name="keys_keybatch_generate",
            ),
            *super().get_urls(),
        ]

    def _page(self, request, form, title, **extra):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": title,
            **extra,
        }
        return TemplateResponse(request, "admin/keys/keybatch/batch_form.html", context)

    def import_view(self, request):
        if not request.user.has_perm("keys.add_keybatch"):
            raise PermissionDenied
        form = KeyImportForm(posted_data(request), request.FILES or None)
        bad_lines, problem = [], ""
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = key_job_import_start(
                    data=data["file"].read(),
                    product=data["product"],
                    seats_per_key=data["seats_per_key"],
                    partner=data["partner"],
                    note=data["note"] or data["file"].name,
                    actor=request.user,
                    submission=data["submission"],
                )
            except KeyImportError as error:
                bad_lines, problem = error.bad_lines, error.problem
            else:
                if isinstance(result, KeyJob):
                    return redirect("admin:keys_keyjob_change", result.pk)
                self.message_user(
                    request,
                    _("Imported %(count)d keys into batch %(id)d.")
                    % {"count": result.key_count, "id": result.pk},
                    messages.SUCCESS,
                )
                return redirect("admin:keys_keybatch_change", result.pk)
        return self._page(
            request,
            form,
            _("Import product keys"),
            multipart=True,
            bad_lines=bad_lines,
            problem=problem,
            submit_label=_("Import"),
            background_threshold=settings.KEY_JOB_BACKGROUND_THRESHOLD,
        )

    def generate_view(self, request):
        if not request.user.has_perm("keys.add_keybatch"):
            raise PermissionDenied
        form = KeyGenerateForm(posted_data(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            public, secret = recipient_keys()
            job, created = key_job_generate_start(
                product=data["product"],
                count=data["count"],
                seats_per_key=data["seats_per_key"],
                partner=data["partner"],
                note=data["note"],
                actor=request.user,
                submission=data["submission"],
                recipient_key=public,
            )
            # Post/redirect/get: the result page confirms, and the form is gone, not refilled.
            response = redirect("admin:keys_keyjob_change", job.pk)
            if created:
                key_job_secret_hand_over(response, job, secret)
            else:
                self.message_user(
                    request,
                    _("This form was already sent: here is what it did. No new keys were made."),
                    messages.WARNING,
                )
            return response
        return self._page(
            request,
            form,
            _("Generate product keys"),
            submit_label=_("Generate"),
            generate=True,
            background_threshold=settings.KEY_JOB_BACKGROUND_THRESHOLD,
        )


def _key_job_secret_cookie(job: KeyJob) -> tuple[str, str]:
    """The cookie that holds a generation's private key, and the one address it is sent to."""
    return f"keyjob{job.pk}", reverse("admin:keys_keyjob_download", args=[job.pk])


def key_job_secret_hand_over(response, job: KeyJob, secret: str) -> None:
    """Give the browser the only key that opens the job's sealed keys (keys/sealing.py).

    Not in the session (sessions live in the database); HttpOnly, so no script reads it;
    SameSite=Strict and scoped to the download address, so no other request carries it. Its
    name holds "key", which Django's error reports hide the value of."""
    name, path = _key_job_secret_cookie(job)
    hours = settings.KEY_JOB_DOWNLOAD_HOURS
    response.set_cookie(
        name,
        secret,
        # The job may wait and run before the download window starts: a day of slack.
        max_age=(hours + 24) * 3600,
        path=path,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


class KeyPartnerFilter(admin.SimpleListFilter):
    title = _("partner")
    parameter_name = "partner"

    def lookups(self, request, model_admin):
        return [("none", _("Any partner (unowned)"))] + [
            (str(p.pk), str(p)) for p in Partner.objects.order_by("name")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(batch__partner__isnull=True)
        if value:
            # A typed or stale URL: the admin's own answer to a bad filter, not a 500.
            if not (value.isascii() and value.isdigit() and len(value) <= 18):
                raise IncorrectLookupParameters(value)
            return queryset.filter(batch__partner_id=int(value))
        return queryset


@admin.register(ProductKey)
class ProductKeyAdmin(ReadOnlyAdmin):
    list_display = ["masked_key", "product", "batch_link", "partner", "state", "created_at"]
    list_filter = ["state", "batch__product", KeyPartnerFilter, "batch"]
    list_select_related = ["batch", "batch__product", "batch__partner"]
    search_fields = ["last5"]
    search_help_text = _(
        "The last five characters of a key. To find a whole key, use “Look up a key”: a whole "
        "key never goes into an address, where logs and browser history would keep it."
    )
    change_list_template = "admin/keys/productkey/change_list.html"
    actions = ["revoke"]
    readonly_fields = [
        "masked_key",
        "batch",
        "state",
        "created_at",
        "reserved_at",
        "reserved_by",
        "reserved_until",
        "redeemed_at",
        "redeemed_by",
        "revoked_at",
        "revoked_by",
    ]
    fields = readonly_fields
    show_full_result_count = False

    @admin.display(description=_("product key"))
    def masked_key(self, obj):
        return format_html('<span class="nowrap">{}</span>', obj.masked)

    @admin.display(description=_("product"), ordering="batch__product__sku")
    def product(self, obj):
        return obj.batch.product.sku

    @admin.display(description=_("partner"))
    def partner(self, obj):
        return obj.batch.partner or "—"

    @admin.display(description=_("batch"), ordering="batch")
    def batch_link(self, obj):
        url = reverse("admin:keys_keybatch_change", args=[obj.batch_id])
        return format_html('<a href="{}">{}</a>', url, obj.batch_id)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.replace("-", "").replace(" ", "").upper()
        if not term:
            return queryset, False
        if len(term) == 5 and all(ch in ALPHABET for ch in term):
            return queryset.filter(last5=term), False
        return queryset.none(), False

    def get_urls(self):
        return [
            path(
                "lookup/",
                self.admin_site.admin_view(self.lookup_view),
                name="keys_productkey_lookup",
            ),
            *super().get_urls(),
        ]

    @method_decorator(sensitive_post_parameters("key"))
    @method_decorator(never_cache)  # the page echoes a typed key
    def lookup_view(self, request):
        """Find a key by typing it whole. POST only, so the key stays out of URLs and logs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = KeyCheckForm(posted_data(request))
        status = 200
        retry_after = None
        if request.method == "POST" and form.is_valid():
            try:
                key = key_find_for_staff(
                    user=request.user,
                    raw=form.cleaned_data["key"],
                    client_address=request.client_address,
                )
            except KeyGuessLimitReached as error:
                status, retry_after = 429, retry_after_seconds(error.until)
                form.add_error(
                    "key",
                    _("Too many keys that match nothing. You can try again at %(time)s UTC.")
                    % {"time": timezone.localtime(error.until).strftime("%H:%M")},
                )
            else:
                if key is not None:
                    return redirect("admin:keys_productkey_change", key.pk)
                form.add_error("key", _("No key in the inventory matches this one."))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Look up a product key"),
            "submit_label": _("Look up"),
        }
        response = TemplateResponse(
            request, "admin/keys/keybatch/batch_form.html", context, status=status
        )
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response

    @admin.action(description=_("Revoke the selected keys"), permissions=["view"])
    def revoke(self, request, queryset):
        # The key pages are read-only (no change permission in the admin's sense), so the
        # action is offered to viewers and checks the right to revoke itself.
        if not request.user.has_perm("keys.change_productkey"):
            self.message_user(request, _("You may not revoke keys."), messages.ERROR)
            return None
        return key_revoke_confirm(self, request, queryset)


class RedemptionLineInline(ReadOnlyInline):
    model = RedemptionLine
    fields = ["product_key", "added_at", "released_at"]
    readonly_fields = fields


@admin.register(Redemption)
class RedemptionAdmin(RecordAdmin):
    list_display = [
        "id",
        "partner",
        "created_by",
        "state",
        "created_at",
        "updated_at",
        "completed_at",
    ]
    list_filter = ["state", "partner"]
    search_fields = ["created_by__email", "partner__name", "partner__partner_id"]
    list_select_related = ["partner", "created_by"]
    readonly_fields = [
        "partner",
        "created_by",
        "state",
        "created_at",
        "updated_at",
        "keys_confirmed_at",
        "completed_at",
    ]
    inlines = [RedemptionLineInline]


@admin.register(RedemptionLine)
class RedemptionLineAdmin(ReadOnlyAdmin):
    list_display = ["redemption", "product_key", "added_at", "released_at"]
    list_select_related = ["redemption", "product_key"]
    search_fields = ["product_key__last5", "redemption__created_by__email"]
    readonly_fields = ["redemption", "product_key", "added_at", "released_at"]


def _count(number: int) -> str:
    return number_format(number, force_grouping=True)


def key_job_outcome(job: KeyJob) -> str:
    """One sentence saying where a job is, or how it ended, in the reader's language."""
    values = {"count": _count(job.total), "id": job.batch_id}
    if job.state == KeyJob.State.SUCCEEDED and job.kind == KeyJob.Kind.GENERATE:
        return (
            ngettext(
                "Generated %(count)s key in batch #%(id)s.",
                "Generated %(count)s keys in batch #%(id)s.",
                job.total,
            )
            % values
        )
    if job.state == KeyJob.State.SUCCEEDED:
        return (
            ngettext(
                "Imported %(count)s key into batch #%(id)s.",
                "Imported %(count)s keys into batch #%(id)s.",
                job.total,
            )
            % values
        )
    if job.state == KeyJob.State.FAILED:
        return job.get_error_display()
    progress = _("%(done)s of %(total)s keys (%(percent)s%%).") % {
        "done": _count(job.done),
        "total": _count(job.total),
        "percent": job.percent,
    }
    return _("%(state)s: %(progress)s") % {"state": job.get_state_display(), "progress": progress}


@admin.register(KeyJob)
class KeyJobAdmin(ReadOnlyAdmin):
    """Imports and generations run as jobs: how far each got and how it ended.

    A job's page follows it with a progress bar (static/keys/key_job.js polls progress_view;
    without JavaScript the page reloads itself) and hands a generation's keys back, once."""

    list_display = [
        "id",
        "kind",
        "product",
        "keys",
        "state",
        "outcome",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", "kind", "product"]
    list_select_related = ["product", "batch", "requested_by"]
    search_fields = ["note", "requested_by__email"]
    change_list_template = "admin/keys/keyjob/change_list.html"

    def has_view_permission(self, request, obj=None):
        # Whoever may start a job (the import and generate forms) may follow it.
        return super().has_view_permission(request, obj) or request.user.has_perm(
            "keys.add_keybatch"
        )

    def get_queryset(self, request):
        # Whether a generation's sealed keys still wait for their download; never the file.
        return (
            super()
            .get_queryset(request)
            .annotate(has_file=Exists(KeyJobFile.objects.filter(job=OuterRef("pk"))))
        )

    @admin.display(description=_("keys"))
    def keys(self, obj):
        if obj.state == KeyJob.State.SUCCEEDED:
            return _count(obj.total)
        return f"{_count(obj.done)} / {_count(obj.total)}"

    @admin.display(description=_("outcome"))
    def outcome(self, obj):
        if obj.state == KeyJob.State.FAILED:
            return obj.get_error_display()
        if obj.state != KeyJob.State.SUCCEEDED:
            return "—"
        batch = format_html(
            '<a href="{}">{}</a>',
            reverse("admin:keys_keybatch_change", args=[obj.batch_id]),
            _("Batch #%(id)s") % {"id": obj.batch_id},
        )
        if obj.kind == KeyJob.Kind.IMPORT:
            return batch
        if obj.downloaded_at is not None:
            handed = _("keys downloaded")
        elif obj.has_file:
            handed = _("keys waiting for their download")
        else:
            handed = _("keys deleted, never downloaded")
        return format_html("{} · {}", batch, handed)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/progress/", wrap(self.progress_view), name="keys_keyjob_progress"),
            path(
                "<int:pk>/download/",
                wrap(step_up_required(self.download_view)),
                name="keys_keyjob_download",
            ),
            *super().get_urls(),
        ]

    def _job(self, request, pk) -> KeyJob:
        job = self.get_queryset(request).filter(pk=pk).first()
        if job is None:
            raise Http404
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return job

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The job's page: its progress bar while it runs, then its outcome and download."""
        job = self.get_object(request, unquote(object_id))
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(job),
            "job": job,
            "outcome": key_job_outcome(job),
            "can_download": job.has_file
            and job.kind == KeyJob.Kind.GENERATE
            and job.requested_by_id == request.user.pk,
            "download_hours": settings.KEY_JOB_DOWNLOAD_HOURS,
        }
        return TemplateResponse(request, "admin/keys/keyjob/job.html", context)

    def progress_view(self, request, pk):
        """How far the job got, for the job page's script (no secret in it)."""
        job = self._job(request, pk)
        return JsonResponse(
            {
                "state": job.state,
                "finished": job.is_finished,
                "done": job.done,
                "total": job.total,
                "percent": job.percent,
                "text": key_job_outcome(job),
            }
        )

    @method_decorator(require_POST)  # it deletes the file: never on a GET (prefetch, crawler)
    @method_decorator(sensitive_variables("data"))  # the plain keys: never in an error report
    def download_view(self, request, pk):
        if not request.user.has_perm("keys.add_keybatch"):
            raise PermissionDenied
        job = self._job(request, pk)
        name, path = _key_job_secret_cookie(job)
        try:
            data = key_job_download(
                job=job, actor=request.user, secret=request.COOKIES.get(name, "")
            )
        except KeyJobDownloadRefused as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return redirect("admin:keys_keyjob_change", job.pk)
        # The plain keys exist only in this response: handed back once, never cached.
        response = HttpResponse(data, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        filename = f"keys-{job.product.sku}-batch{job.batch_id}-{stamp}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        response.delete_cookie(name, path=path, samesite="Strict")
        return response
