"""The admin's "Revoke the selected keys": a confirmation page first, then `keys_revoke`.

Django's pattern for an action that asks first (delete_selected): the action answers "Go" with a
page whose form posts back to the change list with the same action and selection plus `post`;
only that second post acts. Revoking cannot be undone, so the page names the keys (masked: the
portal never has a whole key to show), says how many, names the ones that would be skipped, and
asks why. The reason goes into each key's audit event, as `manage.py revoke_keys --reason` does.
"""

from django.contrib import messages
from django.contrib.admin import helpers
from django.db.models import Max
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from keys.forms import KeyRevokeForm
from keys.services import keys_revoke
from mfa.step_up import step_up_if

# Keys named on the page; the others are counted. "Select all" may pick a whole batch.
LISTED = 100
TEMPLATE = "admin/keys/productkey/revoke_confirmation.html"


def key_revoke_confirm(modeladmin, request, queryset):
    """The action's body: the page on "Go" (or again on an empty reason), the act on "Revoke"."""
    step_up = step_up_if(request, True)  # revoking cannot be undone
    if step_up is not None:
        return step_up
    confirming = request.POST.get("post") == "yes"
    form = KeyRevokeForm(request.POST if confirming else None)
    valid = form.is_valid()  # also cleans `upto` when only the reason is missing
    across = request.POST.get("select_across") == "1"
    upto = None
    if across:
        # "Select all" posts no ids: the change list's filters, up to the highest key the page
        # counted (keys are never deleted, so a higher id is a key added since).
        if confirming:
            upto = form.cleaned_data.get("upto") or 0
        else:
            upto = queryset.aggregate(top=Max("pk"))["top"] or 0
        queryset = queryset.filter(pk__lte=upto)
    revocable = queryset.revocable().order_by("pk")
    count = revocable.count()
    if not count:
        modeladmin.message_user(
            request,
            _("None of the selected keys can be revoked: they are already redeemed or revoked."),
            messages.WARNING,
        )
        return None
    if valid and form.cleaned_data["expected"] == count:
        ids = list(revocable.values_list("pk", flat=True))
        return _revoke(modeladmin, request, ids, queryset.count(), form.cleaned_data["reason"])
    if valid:
        form.add_error(
            None,
            ngettext(
                "The selection changed since the page was shown: %(count)s key can be revoked "
                "now. Check the list and confirm again.",
                "The selection changed since the page was shown: %(count)s keys can be revoked "
                "now. Check the list and confirm again.",
                count,
            )
            % {"count": count},
        )
    return _page(modeladmin, request, form, queryset, count, across=across, upto=upto)


def _revoke(modeladmin, request, ids: list[int], selected: int, reason: str) -> None:
    revoked = keys_revoke(key_ids=ids, actor=request.user, reason=reason)
    modeladmin.message_user(
        request,
        ngettext(
            "%(count)s key revoked. The reason is in the audit log.",
            "%(count)s keys revoked. The reason is in the audit log.",
            revoked,
        )
        % {"count": revoked},
        messages.SUCCESS if revoked else messages.WARNING,
    )
    skipped = selected - revoked
    if skipped:
        modeladmin.message_user(
            request,
            ngettext(
                "%(count)s selected key was left as it is: already redeemed or revoked.",
                "%(count)s selected keys were left as they are: already redeemed or revoked.",
                skipped,
            )
            % {"count": skipped},
            messages.WARNING,
        )
    # None: the admin redirects to the change list, with its filters, where the messages show.
    return None


def _page(modeladmin, request, form, queryset, count: int, *, across: bool, upto: int | None):
    related = ["batch__product", "batch__partner"]
    revocable = queryset.revocable().select_related(*related).order_by("pk")
    skipped = queryset.not_revocable().select_related(*related).order_by("pk")
    skipped_count = skipped.count()
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": _("Revoke product keys"),
        "form": form,
        "count": count,
        "keys": revocable[:LISTED],
        "more": max(count - LISTED, 0),
        "skipped": skipped[:LISTED],
        "skipped_count": skipped_count,
        "skipped_more": max(skipped_count - LISTED, 0),
        # The form posts back what the change list posted: the ids ticked (ignored with
        # "select all", but Django's action handling needs one), the action, the flag.
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "across": across,
        "upto": upto,
        # The change list with its filters: the form posts there, "No" goes back there.
        "changelist_url": request.get_full_path(),
    }
    return TemplateResponse(request, TEMPLATE, context)
