"""Delegated administration's forms: the offer, and the activity log's filters. Validation
only: the services check everything again."""

from django import forms
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.audit_labels import action_label
from portal.validators import refuse_bidi_controls
from tenants.delegation.offers import OfferDetails, offer_details_problem
from tenants.models import MAX_DURATION_DAYS, ROLE_DESCRIPTIONS, DelegatedRole


def _role_line(label, description) -> str:
    return gettext("%(role)s: %(description)s") % {"role": label, "description": description}


# "Label: description", in the reader's language (French puts a no-break space before « : »).
role_line = lazy(_role_line, str)


def _role_choices():
    return [
        (
            role.value,
            role_line(role.label, ROLE_DESCRIPTIONS[role]),
        )
        for role in DelegatedRole
    ]


def offer_default_message(partner, language: str) -> str:
    """The offer's message as it starts, in the customer's language; the partner edits it."""
    with translation.override(language):
        return str(
            _(
                "Hello,\n\nTo help you run your organization's subscriptions and users, "
                "%(partner)s asks for the delegated administration roles listed above. You can "
                "accept or decline, and remove the roles at any time.\n\nThank you,\n%(partner)s"
            )
            % {"partner": partner.name}
        )


def _duration_message() -> str:
    return gettext("The duration is from 1 to %(max)d days.") % {"max": MAX_DURATION_DAYS}


DURATION_MESSAGE = lazy(_duration_message, str)()


class OfferForm(forms.Form):
    """ "Send delegated admin offers": the customer, the roles, the duration, auto-extend and the
    message. Validation only: `offer_send` checks everything again."""

    tenant = forms.ModelChoiceField(
        queryset=None, label=_("Customer"), empty_label=None, widget=forms.HiddenInput
    )
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Ask only for what you need: each role allows what its line says."),
    )
    duration_days = forms.IntegerField(
        label=_("Duration (days)"),
        min_value=1,
        max_value=730,
        error_messages={"min_value": DURATION_MESSAGE, "max_value": DURATION_MESSAGE},
        initial=730,
        help_text=_("From 1 to 730 days from the customer's acceptance."),
    )
    auto_extend = forms.BooleanField(
        label=_("Auto-extend by 180 days at a time"),
        required=False,
        help_text=_("Not possible with the global administrator role."),
    )
    message = forms.CharField(
        label=_("Message to the customer"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=2000,
        required=False,
        validators=[refuse_bidi_controls],
    )

    def __init__(self, *args, tenants, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants
        self.fields["roles"].choices = _role_choices()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        problem = offer_details_problem(self.details())
        if problem:
            self.add_error(problem[0], problem[1])
        return data

    def details(self) -> OfferDetails:
        data = self.cleaned_data
        return OfferDetails(
            roles=list(data["roles"]),
            duration_days=data["duration_days"],
            auto_extend=data["auto_extend"],
            message=data.get("message", ""),
        )


class ActivityFilterForm(forms.Form):
    """The activity log's filters (GET): a date range and an action."""

    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    action = forms.ChoiceField(label=_("Action"), required=False)

    def __init__(self, *args, actions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions"))] + [
            (code, action_label(code)) for code in actions
        ]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The end of the range is before its start."))
        return data


def activity_filter_form(entries, data) -> ActivityFilterForm:
    """The activity log's filters for these entries (the page's query string, the API's query
    parameters): the actions to choose from are those recorded in them."""
    codes = sorted(set(entries.values_list("action", flat=True).distinct()))
    return ActivityFilterForm(data or None, actions=codes)
