import uuid

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
            raise forms.ValidationError(
                key_error_message(error, hint=True), code=error.code
            ) from None


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
    # One token per form shown: the same form posted twice (a double click, a reload of the
    # result) is recognised by the service instead of making a second batch.
    submission = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.fields["submission"].initial = uuid.uuid4()

    def clean_submission(self):
        # A post without the token (a script) is simply a new request.
        return self.cleaned_data["submission"] or uuid.uuid4()


class KeyImportForm(BatchOptionsForm):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "A CSV file with a “key” column, or one key a line. A file with any bad line imports "
            "nothing."
        ),
    )


class KeyGenerateForm(BatchOptionsForm):
    count = forms.IntegerField(label=_("Number of keys"), min_value=1, max_value=1_000_000)


class KeyRevokeForm(forms.Form):
    """The admin's confirmation before revoking: why (kept in each key's audit event), and the
    selection the page showed, so that what is revoked is what was confirmed."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_(
            "Kept in the audit log with each key’s revocation, e.g. the distributor’s order that "
            "was cancelled. At most 500 characters."
        ),
        error_messages={"required": _("Say why these keys are revoked.")},
    )
    # How many keys the page offered to revoke: if that changed before the click (a key redeemed
    # or released meanwhile), the page is shown again with the new selection instead.
    expected = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    # With "select all", the highest key id the page counted: a key added to the list since
    # (a new import) is not revoked unseen.
    upto = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)


class AcknowledgeForm(forms.Form):
    understood = forms.BooleanField(
        label=_("I understand. I'm the most appropriate person to do this for my organization."),
        error_messages={
            "required": _("Tick the box to confirm that you are the right person to do this.")
        },
    )
    # "Redeem this key" on the key check: the redemption starts with that key.
    key = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)


class KeyEntryForm(forms.Form):
    """One row of the key-entry step. The value is checked by the service, line by line."""

    key = forms.CharField(
        label=_("Product key"), required=False, max_length=2000, widget=ProductKeyInput
    )


MAX_KEYS_PER_STEP = 50


class BaseKeyEntryFormSet(forms.BaseFormSet):
    default_error_messages = {
        **forms.BaseFormSet.default_error_messages,
        "too_many_forms": _(
            "You can enter up to %(num)d product keys at a time. Enter the rest after Next."
        ),
    }


KeyEntryFormSet = forms.formset_factory(
    KeyEntryForm,
    formset=BaseKeyEntryFormSet,
    extra=0,
    min_num=1,
    max_num=MAX_KEYS_PER_STEP,
    validate_max=True,
    # Rows past the maximum are still shown (with the error), so nothing typed is lost.
    absolute_max=1000,
)
