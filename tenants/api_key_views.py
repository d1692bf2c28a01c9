"""The partner's API keys page (partner admins): create a key (shown once), list, revoke.

The keys and their rules are portal's (portal.api.services); the page sits with the partner's
other pages, where the step-up (mfa) may be asked for: creating a key grants power.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from mfa.step_up import step_up_if
from portal.access import partner_admin_required
from portal.api.services import ApiKeyError, api_key_create, api_key_revoke, partner_api_keys
from portal.forms import ApiKeyForm
from portal.models import ApiKey


def _page(request, form):
    return render(
        request,
        "tenants/api_keys.html",
        {"form": form, "keys": partner_api_keys(request.partner).select_related("created_by")},
    )


@never_cache  # the answer to a creation shows the key: no copy may stay in a cache
@partner_admin_required
def api_keys(request):
    if request.method != "POST":
        return _page(request, ApiKeyForm())
    stepped = step_up_if(request, True)
    if stepped is not None:
        return stepped
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form)
    try:
        key, raw = api_key_create(membership=request.membership, **form.cleaned_data)
    except ApiKeyError as error:
        form.add_error(error.field, str(error))
        return _page(request, form)
    return render(request, "tenants/api_key_created.html", {"key": key, "raw": raw})


@partner_admin_required
def api_key_revoke_confirm(request, pk: int):
    """Revoke one of the partner's keys: GET asks, POST revokes."""
    key = ApiKey.objects.filter(partner=request.partner, pk=pk).first()
    if key is None:
        raise Http404
    if request.method == "POST":
        if api_key_revoke(key=key, actor=request.user):
            messages.success(
                request,
                _("The API key “%(name)s” was revoked. Scripts using it are refused from now on.")
                % {"name": key.name},
            )
        else:
            messages.info(request, _("This API key was already revoked."))
        return redirect("tenants:api_keys")
    if key.is_revoked:
        messages.info(request, _("This API key was already revoked."))
        return redirect("tenants:api_keys")
    return render(request, "tenants/api_key_revoke.html", {"key": key})
