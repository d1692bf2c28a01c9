from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.api.scopes import scope_choices
from portal.api.services import MAX_DAYS
from portal.emails import email_queue
from portal.identity import NormalizedEmailField
from portal.models import PartnerMembership, User
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
            # The right password, refused by the disabled-tenant rule (renewals.auth sets this).
            if getattr(self.request, "sign_in_refusal", None) == "tenant_disabled":
                raise forms.ValidationError(
                    _(
                        "Your organization's subscriptions are disabled: only its administrators "
                        "can sign in until they are renewed. Ask one of your administrators."
                    ),
                    code="tenant_disabled",
                ) from None
            raise
        attempt.refund()  # the right password: this try does not count
        return cleaned


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's password reset, whose e-mail goes to the outbox instead of being sent during the
    request: a mail server that is down delays the link instead of losing it."""

    # The address is normalized like every other entry of an address (one identity per address).
    email = NormalizedEmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def get_users(self, email):
        """The active account with exactly this (normalized) address, if it may sign in."""
        return (
            user
            for user in User.objects.filter(email=email, is_active=True)
            if user.has_usable_password()
        )

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        user = context["user"]
        # The link points at PORTAL_BASE_URL, never at the Host header of the request.
        path = reverse(
            "password_reset_confirm", kwargs={"uidb64": context["uid"], "token": context["token"]}
        )
        email_queue(
            template="password_reset",
            to=[to_email],
            language=user.language,
            context={"user": user, "url": f"{settings.PORTAL_BASE_URL}{path}"},
        )


def posted_data(request):
    """The POST data of a POST, else None: an empty POST still binds the form (and shows its
    errors), which `request.POST or None` would not."""
    return request.POST if request.method == "POST" else None


class ApiKeyForm(forms.Form):
    """A new API key (portal.api.services.api_key_create checks the rules and raises with the
    field)."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, e.g. “Billing sync”."),
    )
    role = forms.ChoiceField(
        label=_("Acts as"),
        choices=PartnerMembership.Role.choices,
        initial=PartnerMembership.Role.AGENT,
        widget=forms.RadioSelect,
        help_text=_(
            "A key acting as a partner agent cannot switch billing, send offers or end "
            "relationships, whatever its scopes."
        ),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=scope_choices, widget=forms.CheckboxSelectMultiple
    )
    days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=MAX_DAYS,
        initial=90,
        help_text=_("Up to one year."),
    )
