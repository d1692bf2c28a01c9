"""A person who lost their factors is asked by their own organization to enrol again: a partner
admin for the partner's users (here), a customer admin for the tenant's users (tenants.views, with
the tenant rule), ops in the admin.
Each is a step-up act, audited and e-mailed to the person."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from mfa.services import factors_reset
from mfa.step_up import step_up_required
from portal.access import partner_admin_required
from portal.models import PartnerMembership


def reset_page(request, person, done_url: str, by: str):
    """GET asks to confirm; POST removes the person's factors. `by`: who asks (audit)."""
    if person.pk == request.user.pk:
        # Nobody resets their own factors: a recovery code, or another admin, is the way back.
        raise PermissionDenied
    if request.method == "POST":
        factors_reset(user=person, actor=request.user, by=by)
        messages.success(
            request,
            _(
                "%(name)s must add a new passkey or authenticator app the next time they sign "
                "in. They were told by e-mail."
            )
            % {"name": person.get_full_name() or person.email},
        )
        return redirect(done_url)
    return render(request, "mfa/reset_confirm.html", {"person": person, "cancel_url": done_url})


@partner_admin_required
@step_up_required
def partner_user_reset(request, user_pk: int):
    membership = get_object_or_404(
        PartnerMembership.objects.select_related("user"), partner=request.partner, user_id=user_pk
    )
    return reset_page(request, membership.user, reverse("tenants:partner_dashboard"), by="partner")
