"""The second factor's pages: the verification after the password (and for a step-up), the
person's security page, and what hangs off it (authenticator app, recovery codes, passkeys)."""

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp_webauthn.models import WebAuthnCredential

from mfa import services
from mfa.forms import AppCodeForm, PasskeyNameForm, RecoveryCodeForm
from mfa.models import AuthenticatorApp
from mfa.step_up import RESUME_SESSION_KEY, step_up_redirect
from portal.forms import posted_data
from portal.second_factor import (
    can_verify,
    enrolment_owed,
    factor_required,
    grace_ends,
    has_factor,
    session_verified,
    verified_recently,
)
from portal.views import too_many_tries

# Where "kind" in a factor's URL points.
FACTOR_MODELS = {
    "passkey": WebAuthnCredential,
    "app": AuthenticatorApp,
    "recovery-codes": StaticDevice,
}
APP_SETUP_SESSION_KEY = "mfa_app_setup"
# Where the person was going when the gate sent them to enrol: they go on there once done.
ENROL_NEXT_SESSION_KEY = "mfa_enrol_next"


def _next_url(request, default: str = "home") -> str:
    """The page to go on to: a path on this site (as a path: "/…"), else the URL named by
    `default` ("" for none). Never handed to redirect() as a name: "?next=foo" is no view."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return reverse(default) if default else ""


def _fresh_or_first(request):
    """None when the page may be used: a recent verification, or no factor yet to verify with
    (adding the first one). Otherwise the step-up's answer."""
    if not can_verify(request.user) or verified_recently(request):
        return None
    return step_up_redirect(request)


@never_cache
@login_required
def verify(request):
    """The second step of signing in, and of every step-up: a passkey, a code from the
    authenticator app, or a recovery code."""
    step_up = request.GET.get("step_up") == "1"
    if not can_verify(request.user):
        return HttpResponseRedirect(_next_url(request))
    if session_verified(request.user) and not step_up:
        return HttpResponseRedirect(_next_url(request))
    method = request.POST.get("method") or request.GET.get("method") or ""
    app_form = AppCodeForm(posted_data(request) if method == "app" else None)
    recovery_form = RecoveryCodeForm(posted_data(request) if method == "recovery" else None)
    form = {"app": app_form, "recovery": recovery_form}.get(method)
    if form is not None and form.is_bound and form.is_valid():
        check_code = services.app_code_check if method == "app" else services.recovery_code_check
        check = check_code(request=request, code=form.cleaned_data["code"])
        if check.blocked_until is not None:
            return too_many_tries(request, "mfa/too_many_codes.html", check.blocked_until)
        if check.device is not None:
            if method == "recovery":
                # A lost passkey or phone, most likely: the security page first, to remove it
                # and add a new one; "Continue where you were" then goes on.
                messages.warning(request, _recovery_used_message(request.user))
                request.session[ENROL_NEXT_SESSION_KEY] = _next_url(request)
                return redirect("mfa:security")
            return HttpResponseRedirect(_next_url(request))
        form.add_error("code", _wrong_code_message(method))
        if method == "app":
            _clear_code(form)
    return render(
        request,
        "mfa/verify.html",
        _verify_context(request, method, step_up, app_form, recovery_form),
    )


def _verify_context(request, method, step_up, app_form, recovery_form) -> dict:
    devices = services.devices_of(request.user)
    return {
        "step_up": step_up,
        "method": method,
        "next": _next_url(request, default=""),
        "has_passkey": bool(devices["passkeys"]),
        "has_app": bool(devices["apps"]),
        "has_recovery": devices["recovery_left"] > 0,
        "app_form": app_form,
        "recovery_form": recovery_form,
    }


def _clear_code(form) -> None:
    """A refused app code is worth nothing: the field comes back empty for the next one (the
    error stays). A recovery code stays as typed, to be corrected."""
    form.data = form.data.copy()
    form.data["code"] = ""


def _wrong_code_message(method: str) -> str:
    if method == "app":
        return _(
            "That code is not right, or it was already used. Enter the code your app shows "
            "now; a new one comes every 30 seconds."
        )
    return _("That recovery code is not right, or it was already used.")


def _recovery_used_message(user) -> str:
    left = services.devices_of(user)["recovery_left"]
    return ngettext(
        "You signed in with a recovery code; %(left)s is left. If you lost your passkey or "
        "phone, remove it below and add a new one now.",
        "You signed in with a recovery code; %(left)s are left. If you lost your passkey or "
        "phone, remove it below and add a new one now.",
        left,
    ) % {"left": left}


@never_cache
@login_required
def resume(request):
    """After a step-up: the form the person had sent, filled as they sent it, to send again."""
    stash = request.session.get(RESUME_SESSION_KEY)
    if not stash:
        return redirect("home")
    if request.method == "POST":  # "Cancel": forget it
        request.session.pop(RESUME_SESSION_KEY, None)
        return redirect("home")
    return render(request, "mfa/resume.html", {"stash": stash})


@never_cache
@login_required
def security(request):
    """The person's sign-in security: passkeys first, then the authenticator app and the
    recovery codes."""
    step_up = _fresh_or_first(request)
    if step_up is not None:
        return step_up
    user = request.user
    if _next_url(request, default=""):
        request.session[ENROL_NEXT_SESSION_KEY] = _next_url(request)
    return render(
        request,
        "mfa/security.html",
        {
            **services.devices_of(user),
            "required": factor_required(user),
            "must_enrol": enrolment_owed(user),
            "grace_ends": grace_ends(user)
            if factor_required(user) and not has_factor(user)
            else None,
            "added": request.GET.get("added", ""),
            "next": _next_url(request, default="")
            or request.session.get(ENROL_NEXT_SESSION_KEY, ""),
        },
    )


@never_cache
@login_required
def app_setup(request):
    """A QR code (and the secret as text) for an authenticator app, confirmed by a first code."""
    step_up = _fresh_or_first(request)
    if step_up is not None:
        return step_up
    device = AuthenticatorApp.objects.filter(
        user=request.user, confirmed=False, pk=request.session.get(APP_SETUP_SESSION_KEY)
    ).first()
    if device is None or request.method == "GET":
        device = services.app_setup_start(user=request.user)
        request.session[APP_SETUP_SESSION_KEY] = device.pk
    form = AppCodeForm(posted_data(request))
    if form.is_bound and form.is_valid():
        if services.app_setup_confirm(
            device=device, code=form.cleaned_data["code"], request=request
        ):
            request.session.pop(APP_SETUP_SESSION_KEY, None)
            messages.success(request, _("Your authenticator app is set up."))
            return _after_first_factor(request)
        form.add_error("code", _wrong_code_message("app"))
        _clear_code(form)
    qr_title = _("QR code of your authenticator app's set-up")
    # Drawn here as SVG (no image service); a white quiet zone so that dark themes still scan.
    qr_svg = segno.make(device.config_url, error="m").svg_inline(
        scale=5, border=4, light="#fff", title=qr_title
    )
    return render(
        request,
        "mfa/app_setup.html",
        {
            "form": form,
            "qr_svg": qr_svg.replace(
                "<svg ", f'<svg role="img" aria-label="{escape(qr_title)}" ', 1
            ),
            "secret": " ".join(
                device.secret_base32[i : i + 4] for i in range(0, len(device.secret_base32), 4)
            ),
        },
    )


def _after_first_factor(request):
    """Recovery codes right after the first factor, so that losing it is no dead end; then on
    to where the person was going."""
    if services.devices_of(request.user)["recovery"] is None:
        return redirect("mfa:recovery_codes")
    return HttpResponseRedirect(_continue_url(request))


def _continue_url(request) -> str:
    return request.session.pop(ENROL_NEXT_SESSION_KEY, None) or reverse("mfa:security")


@never_cache
@login_required
def recovery_codes(request):
    """GET offers new codes; POST makes them and shows them this once."""
    step_up = _fresh_or_first(request)
    if step_up is not None:
        return step_up
    if not has_factor(request.user):
        messages.info(request, _("Add a passkey or an authenticator app first."))
        return redirect("mfa:security")
    if request.method == "POST":
        codes = services.recovery_codes_generate(user=request.user, actor=request.user)
        return render(
            request,
            "mfa/recovery_codes_new.html",
            {"codes": codes, "continue_url": _continue_url(request)},
        )
    left = services.devices_of(request.user)["recovery_left"]
    return render(request, "mfa/recovery_codes.html", {"left": left})


@never_cache
@login_required
def factor(request, kind: str, pk: int):
    """One factor: rename (passkeys), or remove after a confirmation."""
    model = FACTOR_MODELS.get(kind)
    if model is None:
        raise Http404
    device = get_object_or_404(model, pk=pk, user=request.user, confirmed=True)
    step_up = _fresh_or_first(request)
    if step_up is not None:
        return step_up
    form = PasskeyNameForm(
        posted_data(request) if request.POST.get("action") == "rename" else None,
        initial={"name": device.name},
    )
    if request.method == "POST":
        response = _factor_post(request, device, form)
        if response is not None:
            return response
    return render(
        request,
        "mfa/factor.html",
        {
            "device": device,
            "kind": kind,
            "form": form,
            "problem": services.removal_problem(user=request.user, device=device),
        },
    )


def _factor_post(request, device, form):
    if request.POST.get("action") == "remove":
        try:
            services.factor_remove(device=device, actor=request.user)
        except ValidationError as error:
            messages.error(request, error.messages[0])
            return None
        messages.success(request, _("“%(name)s” was removed.") % {"name": device.name})
        return redirect("mfa:security")
    if isinstance(device, WebAuthnCredential) and form.is_valid():
        services.passkey_rename(
            credential=device, name=form.cleaned_data["name"], actor=request.user
        )
        messages.success(
            request, _("The passkey is now called “%(name)s”.") % {"name": device.name}
        )
        return redirect("mfa:security")
    return None
