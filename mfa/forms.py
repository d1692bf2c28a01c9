from django import forms
from django.utils.translation import gettext_lazy as _

from mfa.codes import CODE_LENGTH


class AppCodeForm(forms.Form):
    code = forms.CharField(
        label=_("6-digit code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": r"[0-9 ]*",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self):
        # "123 456" as some apps show it; the digits must be ASCII (the model checks again).
        return self.cleaned_data["code"].replace(" ", "")


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Recovery code"),
        max_length=CODE_LENGTH * 2,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class PasskeyNameForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=64,
        help_text=_("So that you can tell your passkeys apart, e.g. “Work laptop”."),
    )
