"""The renewal list's filters: one definition of what may be asked, for the page (which ignores
a value it does not know) and the API (which answers it with a field error)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from renewals.queries import STATES, WINDOWS
from tenants.models import Subscription


def window_choices() -> list[tuple[str, str]]:
    labels = {
        "7": _("Ends within 7 days"),
        "30": _("Ends within 30 days"),
        "60": _("Ends within 60 days"),
        "expired": _("Expired (grace period)"),
        "disabled": _("Disabled"),
    }
    return [(value, labels[value]) for value in WINDOWS]


def state_choices() -> list[tuple[str, str]]:
    return [(value, Subscription.State(value).label) for value in STATES]


class RenewalFilterForm(forms.Form):
    window = forms.ChoiceField(
        label=_("When"),
        required=False,
        choices=[("", _("All")), *window_choices()],
        help_text=_(
            "Ends within 7, 30 or 60 days (from today, the end date included), or expired (grace "
            "period), or disabled."
        ),
    )
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("All")), *state_choices()],
        help_text=_("The state the dates give today: active, expired or disabled."),
    )

    def filters(self) -> tuple[str, str]:
        """(window, state) as the page reads them: a value the form refuses counts as none."""
        self.is_valid()
        data = self.cleaned_data
        return data.get("window", ""), data.get("state", "")
