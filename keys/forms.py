from django import forms
from django.utils.translation import gettext_lazy as _

from keys.codec import KeyFormatError, validate_key
from keys.models import Product
from keys.services import key_error_message
from portal.models import Partner


class ProductKeyInput(forms.TextInput):
    """A key field that static/keys/key_input.js enhances (groups of five, instant checks)."""

    def __init__(self, attrs=None):
        defaults = {
            "class": "key-input",
            "data-key-input": "",
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "placeholder": "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX",
        }
        super().__init__({**defaults, **(attrs or {})})


class ProductKeyField(forms.CharField):
    """Cleans to the canonical 25 characters; the error says what to fix."""

    widget = ProductKeyInput

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("label", _("Product key"))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values and not self.required:
            return ""
        try:
            return validate_key(value or "")
        except KeyFormatError as error:
            raise forms.ValidationError(key_error_message(error), code=error.code) from None


class KeyCheckForm(forms.Form):
    key = ProductKeyField()


class BatchOptionsForm(forms.Form):
    product = forms.ModelChoiceField(Product.objects.all(), label=_("Product"))
    seats_per_key = forms.IntegerField(
        label=_("Seats per key"), min_value=1, max_value=10000, initial=1
    )
    partner = forms.ModelChoiceField(
        Partner.objects.all(),
        required=False,
        label=_("Owning partner"),
        help_text=_("Only this partner's users can redeem the keys. Empty: any partner."),
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class KeyImportForm(BatchOptionsForm):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "A CSV file with a “key” column, or one key a line. A file with any bad line imports "
            "nothing."
        ),
    )


class KeyGenerateForm(BatchOptionsForm):
    count = forms.IntegerField(label=_("Number of keys"), min_value=1, max_value=100_000)
