from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


def posted_data(request):
    """The POST data of a POST, else None: an empty POST still binds the form (and shows its
    errors), which `request.POST or None` would not."""
    return request.POST if request.method == "POST" else None
