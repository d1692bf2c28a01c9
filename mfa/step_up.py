"""The step-up: the acts that grant power or cannot be undone need a verification younger than
MFA_STEP_UP_MINUTES. Older, the person verifies again and continues where they were: a form they
had sent comes back filled as they sent it, to be sent again with one click."""

from functools import wraps

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from portal.second_factor import can_verify, verified_recently

# The form a step-up interrupted, waiting in the session for the verification.
RESUME_SESSION_KEY = "mfa_resume"


def _stash(request) -> str:
    """Keep what the person sent (files aside: a browser cannot be given them back)."""
    request.session[RESUME_SESSION_KEY] = {
        "path": request.get_full_path(),
        "fields": [
            [name, value]
            for name in request.POST
            if name != "csrfmiddlewaretoken"
            for value in request.POST.getlist(name)
        ],
        "had_files": bool(request.FILES),
    }
    return reverse("mfa:resume")


def step_up_redirect(request):
    """The answer to a request whose act needs a fresh verification."""
    if not can_verify(request.user):
        # Nothing to verify with: a person in the grace period (or who need not enrol) adds a
        # factor first. Only adding the first factor itself goes ahead without one.
        messages.warning(request, _("This needs a second factor. Add one, then try again."))
        return redirect(f"{reverse('mfa:security')}?{urlencode({'next': request.get_full_path()})}")
    target = _stash(request) if request.method == "POST" else request.get_full_path()
    return redirect(f"{reverse('mfa:verify')}?{urlencode({'next': target, 'step_up': '1'})}")


def step_up_required(view):
    """For views (and admin views) of the acts listed in README "Signing in"."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return step_up_if(request, True) or view(request, *args, **kwargs)

    return wrapper


def step_up_if(request, needed: bool):
    """The step-up's answer when this request is such an act (`needed`) and the last
    verification is too old; None to go on. For views where only some requests are (making
    someone an admin, accepting rather than reading an offer)."""
    if not needed or verified_recently(request):
        if needed and request.method == "POST":
            request.session.pop(RESUME_SESSION_KEY, None)  # sent again: nothing waits
        return None
    return step_up_redirect(request)
