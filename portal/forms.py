from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.services import signin_blocked_until, signin_failure_record


class SignInForm(AuthenticationForm):
    """Signing in by e-mail, with a limit on failed tries per account and per client address."""

    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    blocked = False

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        address = getattr(self.request, "client_address", None)
        until = signin_blocked_until(email=email, client_address=address)
        if until is not None:
            self.blocked = True
            local = timezone.localtime(until)
            raise forms.ValidationError(
                _("Too many failed sign-ins. Try again at %(time)s UTC.")
                % {"time": local.strftime("%H:%M")},
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            signin_failure_record(email=email, client_address=address)
            raise


def posted_data(request):
    """The POST data of a POST, else None: an empty POST still binds the form (and shows its
    errors), which `request.POST or None` would not."""
    return request.POST if request.method == "POST" else None
