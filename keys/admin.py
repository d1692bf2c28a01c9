import csv
import io

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from keys.codec import ALPHABET, format_key
from keys.forms import KeyCheckForm, KeyGenerateForm, KeyImportForm
from keys.models import KeyBatch, Product, ProductKey, Redemption, RedemptionLine
from keys.services import (
    KeyGuessLimitReached,
    KeyImportError,
    batch_generate,
    batch_import,
    key_find_for_staff,
    keys_revoke,
)
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
            path("import/", wrap(self.import_view), name="keys_keybatch_import"),
            path("generate/", wrap(never_cache(self.generate_view)), name="keys_keybatch_generate"),
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
                batch = batch_import(
                    data=data["file"].read(),
                    product=data["product"],
                    seats_per_key=data["seats_per_key"],
                    partner=data["partner"],
                    note=data["note"] or data["file"].name,
                    actor=request.user,
                )
            except KeyImportError as error:
                bad_lines, problem = error.bad_lines, error.problem
            else:
                self.message_user(
                    request,
                    _("Imported %(count)d keys into batch %(id)d.")
                    % {"count": batch.key_count, "id": batch.pk},
                    messages.SUCCESS,
                )
                return redirect("admin:keys_keybatch_change", batch.pk)
        return self._page(
            request,
            form,
            _("Import product keys"),
            multipart=True,
            bad_lines=bad_lines,
            problem=problem,
            submit_label=_("Import"),
        )

    def generate_view(self, request):
        if not request.user.has_perm("keys.add_keybatch"):
            raise PermissionDenied
        form = KeyGenerateForm(posted_data(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            batch, keys = batch_generate(
                product=data["product"],
                count=data["count"],
                seats_per_key=data["seats_per_key"],
                partner=data["partner"],
                note=data["note"],
                actor=request.user,
            )
            # The plain keys exist only in this response: handed back once, never cached.
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["key"])
            writer.writerows([format_key(key)] for key in keys)
            response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
            filename = f"keys-{batch.product.sku}-batch{batch.pk}-{stamp}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            response["Cache-Control"] = "no-store"
            return response
        return self._page(
            request,
            form,
            _("Generate product keys"),
            submit_label=_("Generate and download"),
            generate=True,
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
        if not request.user.has_perm("keys.change_productkey"):
            self.message_user(request, _("You may not revoke keys."), messages.ERROR)
            return
        selected = list(queryset.values_list("pk", flat=True))
        revoked = keys_revoke(key_ids=selected, actor=request.user, reason="admin action")
        skipped = len(selected) - revoked
        self.message_user(
            request,
            _("%(revoked)d key(s) revoked; %(skipped)d skipped (already redeemed or revoked).")
            % {"revoked": revoked, "skipped": skipped},
            messages.SUCCESS if revoked else messages.WARNING,
        )


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
