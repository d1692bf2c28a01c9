from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.identity import NormalizedEmailField
from portal.services import signin_attempt_failed, signin_attempt_start


class SignInForm(AuthenticationForm):
    """Signing in by e-mail, with a limit on failed tries per account and per client address."""

    # Normalized before anything else sees it: the counters, the look-up and the audit log.
    username = NormalizedEmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    blocked_until = None

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        address = getattr(self.request, "client_address", None)
        if not email:
            return super().clean()
        attempt = signin_attempt_start(email=email, client_address=address)
        if attempt.blocked:
            self.blocked_until = attempt.until
            local = timezone.localtime(attempt.until)
            raise forms.ValidationError(
                _("Too many failed sign-ins. Try again at %(time)s UTC.")
                % {"time": local.strftime("%H:%M")},
                code="throttled",
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            signin_attempt_failed(attempt=attempt, email=email, client_address=address)
            raise
        attempt.refund()  # the right password: this try does not count
        return cleaned


def posted_data(request):
    """The POST data of a POST, else None: an empty POST still binds the form (and shows its
    errors), which `request.POST or None` would not."""
    return request.POST if request.method == "POST" else None
