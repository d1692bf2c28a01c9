"""The forms of the Webhooks page, which the API's bodies are validated with too
(portal.api.forms). The rules (URL allowed, events known) are checked by portal.webhooks.services,
which raises WebhookError with the field it is about."""

from django import forms
from django.utils.translation import gettext_lazy as _

from portal.webhooks.events import EVENT_TYPES, TEST_EVENT, event_label
from portal.webhooks.selectors import OUTCOMES


def _event_choices():
    return list(EVENT_TYPES.items())


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        help_text=_("Where the portal sends the events: an https address on the internet."),
        widget=forms.URLInput(attrs={"autocomplete": "url", "inputmode": "url"}),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=200,
        required=False,
        help_text=_("What receives them, e.g. “Billing sync”."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        choices=_event_choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )


class DeliveryFilterForm(forms.Form):
    """The delivery log's filters; a value that is not a choice is ignored (the list unfiltered)."""

    event = forms.ChoiceField(
        label=_("Event"),
        required=False,
        choices=lambda: [
            ("", _("All events")),
            *_event_choices(),
            (TEST_EVENT, event_label(TEST_EVENT)),
        ],
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=lambda: [("", _("All outcomes"))] + [(key, label) for key, label, _q in OUTCOMES],
    )

    def filters(self) -> dict:
        self.is_valid()  # the fields that are valid are in cleaned_data, the others are not
        return {name: value for name, value in self.cleaned_data.items() if value}
