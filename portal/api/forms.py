"""The API validates with the pages' own forms: one definition of every field rule and message.

`form_clean` runs a form on a JSON body and raises the problem+json "invalid" error with the
form's messages per field; `form_serializer` describes the same fields to the OpenAPI schema.
"""

from django import forms
from django.utils.translation import gettext as _
from rest_framework import serializers

from portal.api.errors import Problem, field_errors


def form_errors(form: forms.BaseForm) -> dict[str, list[str]]:
    return {
        ("non_field_errors" if name == forms.forms.NON_FIELD_ERRORS else name): [
            str(message) for message in messages
        ]
        for name, messages in form.errors.items()
    }


def invalid(errors: dict[str, list[str]], detail: str | None = None) -> Problem:
    return Problem("invalid", detail or _("Some fields are not valid: see errors."), errors=errors)


# What form_data makes of JSON's true and false (Django's CheckboxInput reads exactly these).
BOOLEAN_TEXTS = {"true", "false"}


def _boolean_errors(form: forms.BaseForm) -> dict[str, list[str]]:
    """A checkbox takes JSON true or false only: Django's widget reads any other text ("0",
    "no") as ticked, which would make `"is_admin": 0` an administrator."""
    return {
        name: [_("Send true or false.")]
        for name, field in form.fields.items()
        if isinstance(field, forms.BooleanField)
        and name in form.data
        and not (isinstance(form.data[name], str) and form.data[name] in BOOLEAN_TEXTS | {""})
    }


def form_clean(form: forms.BaseForm) -> dict:
    """The form's cleaned data; raises the "invalid" problem with its errors."""
    wrong = _boolean_errors(form)
    if wrong:
        raise invalid(wrong)
    if not form.is_valid():
        raise invalid(form_errors(form))
    return form.cleaned_data


def serializer_clean(serializer) -> dict:
    """The serializer's validated data; raises the "invalid" problem with its errors (what the
    exception handler answers for `is_valid(raise_exception=True)` too)."""
    if not serializer.is_valid():
        raise invalid(field_errors(serializer.errors))
    return serializer.validated_data


def form_data(data) -> dict:
    """A JSON object as form data: scalars as text (as a browser posts them), lists kept."""
    if not isinstance(data, dict):
        raise invalid({"non_field_errors": [_("Send a JSON object.")]})
    cleaned = {}
    for name, value in data.items():
        if isinstance(value, bool):
            cleaned[name] = "true" if value else "false"
        elif isinstance(value, list):
            cleaned[name] = [str(item) for item in value]
        elif value is None:
            cleaned[name] = ""
        else:
            cleaned[name] = str(value)
    return cleaned


def _field_for(field: forms.Field) -> serializers.Field:
    options = {"required": field.required, "help_text": str(field.help_text or "") or None}
    if field.label:
        options["label"] = str(field.label)
    if isinstance(field, forms.MultipleChoiceField):
        return serializers.ListField(child=serializers.CharField(), **options)
    if isinstance(field, forms.BooleanField):
        return serializers.BooleanField(**options)
    if isinstance(field, forms.IntegerField):
        return serializers.IntegerField(**options)
    if isinstance(field, forms.DateField):
        return serializers.DateField(**options)
    if isinstance(field, forms.EmailField):
        return serializers.EmailField(**options)
    if isinstance(field, forms.ChoiceField) and field.choices:
        return serializers.ChoiceField(choices=[c for c, _label in field.choices if c], **options)
    return serializers.CharField(allow_blank=not field.required, **options)


def form_serializer(name: str, form: forms.BaseForm, **extra: serializers.Field):
    """A serializer class with the form's fields (for the schema), plus `extra` fields."""
    fields = {field_name: _field_for(field) for field_name, field in form.fields.items()}
    fields.update(extra)
    return type(name, (serializers.Serializer,), fields)
