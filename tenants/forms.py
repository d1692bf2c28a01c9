import re
import unicodedata

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from portal.identity import NormalizedEmailField
from portal.models import partner_id_validator
from portal.validators import refuse_bidi_controls
from tenants.services import (
    USER_EDITED_FIELDS,
    TenantDetails,
    UserDetails,
    admin_email_problem,
    domain_prefix_example,
    domain_prefix_problem,
    organization_name_problem,
    supported_country_codes,
    user_email_problem,
    username_problem,
)


def _collation_key(choice) -> str:
    """Sort names as a reader expects: accents do not move "Émirats" after "Zambie"."""
    name = unicodedata.normalize("NFKD", str(choice[1]))
    return "".join(ch for ch in name if not unicodedata.combining(ch)).casefold()


class TenantForm(forms.Form):
    """Step 2: the customer's organization and its administrator. Validation only."""

    country = forms.ChoiceField(
        label=_("Country or region"),
        help_text=_("If your country or region is not listed, the service is not offered there."),
    )
    name = forms.CharField(
        label=_("Organization name"), max_length=200, validators=[refuse_bidi_controls]
    )
    admin_first_name = forms.CharField(
        label=_("Administrator's first name"), max_length=150, validators=[refuse_bidi_controls]
    )
    admin_last_name = forms.CharField(
        label=_("Administrator's last name"), max_length=150, validators=[refuse_bidi_controls]
    )
    admin_email = NormalizedEmailField(
        label=_("Administrator's e-mail address"),
        max_length=254,  # what the user table holds
        help_text=_("The activation link goes here. Not an address of your own organization."),
    )
    admin_phone = forms.CharField(label=_("Administrator's phone number"), max_length=32)
    language = forms.ChoiceField(label=_("Preferred language"), choices=settings.LANGUAGES)
    domain_prefix = forms.CharField(
        label=_("Domain prefix"),
        max_length=253,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "data-domain-check": ""}
        ),
    )

    def __init__(self, *args, partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.partner = partner
        # The customer admin's e-mails are in this language; start from the partner's own.
        self.fields["language"].initial = translation.get_language()
        codes = supported_country_codes()
        named = sorted(((code, countries.name(code)) for code in codes), key=_collation_key)
        self.fields["country"].choices = [("", "—"), *named]
        example = domain_prefix_example()
        self.fields["domain_prefix"].help_text = _(
            "Lower-case letters, digits and hyphens, 3 to 40 characters: “%(example)s” gives "
            "%(example)s.%(suffix)s."
        ) % {"example": example, "suffix": settings.TENANT_DOMAIN_SUFFIX}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        problem = organization_name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean_admin_first_name(self):
        return _person_name(self.cleaned_data["admin_first_name"])

    def clean_admin_last_name(self):
        return _person_name(self.cleaned_data["admin_last_name"])

    def clean_admin_email(self):
        email = self.cleaned_data["admin_email"]
        problem = admin_email_problem(email, self.partner)
        if problem:
            raise forms.ValidationError(problem)
        return email

    def clean_admin_phone(self):
        return _phone_number(self.cleaned_data["admin_phone"].strip())

    def clean_domain_prefix(self):
        prefix = self.cleaned_data["domain_prefix"].strip().lower()
        problem = domain_prefix_problem(prefix)
        if problem:
            raise forms.ValidationError(problem)
        return prefix

    def details(self) -> TenantDetails:
        data = self.cleaned_data
        return TenantDetails(
            country=data["country"],
            name=data["name"],
            admin_first_name=data["admin_first_name"],
            admin_last_name=data["admin_last_name"],
            admin_email=data["admin_email"],
            admin_phone=data["admin_phone"],
            language=data["language"],
            domain_prefix=data["domain_prefix"],
        )


def _phone_number(phone: str) -> str:
    """Digits, spaces, brackets, dots, hyphens and a leading +, with 6 to 20 digits."""
    digits = re.sub(r"\D", "", phone)
    if not re.fullmatch(r"\+?[0-9 ().-]+", phone) or not 6 <= len(digits) <= 20:
        raise forms.ValidationError(
            _("Enter a phone number with 6 to 20 digits, for example +33 1 23 45 67 89.")
        )
    return phone


def _person_name(value: str) -> str:
    value = value.strip()
    if not any(ch.isalpha() for ch in value):
        raise forms.ValidationError(_("Enter a name with letters."))
    return value


class TenantUserForm(forms.Form):
    """ "Add a user" and a user's page: who they are in the organization. Validation only."""

    first_name = forms.CharField(
        label=_("First name"), max_length=150, validators=[refuse_bidi_controls]
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=150, validators=[refuse_bidi_controls]
    )
    username = forms.CharField(
        label=_("User name"),
        max_length=253,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    email = NormalizedEmailField(
        label=_("Contact e-mail address"),
        max_length=254,
        help_text=_("The activation link goes here, and the person signs in with it."),
    )
    phone = forms.CharField(label=_("Phone number"), max_length=32, required=False)
    language = forms.ChoiceField(label=_("Preferred language"), choices=settings.LANGUAGES)
    is_admin = forms.BooleanField(
        label=_("Administrator"),
        required=False,
        help_text=_("Administrators manage the organization's users, licenses and partner."),
    )

    def __init__(self, *args, tenant, tenant_user=None, seat_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.tenant_user = tenant_user
        # "Add a user" with licenses (when the access allows managing them): the tenant's
        # subscriptions, each with its free seats or why it cannot be chosen.
        self.seat_choices = seat_choices
        if seat_choices is not None:
            self.fields["licenses"] = forms.TypedMultipleChoiceField(
                label=_("Licenses"),
                required=False,
                coerce=int,
                choices=[(c.subscription.pk, c.subscription.product.name) for c in seat_choices],
                widget=forms.CheckboxSelectMultiple,
            )
        self.fields["username"].help_text = _(
            "Lower-case letters, digits, dots and hyphens: “megan.bowen” gives "
            "megan.bowen@%(domain)s."
        ) % {"domain": tenant.domain}
        if tenant_user is not None:
            del self.fields["language"]  # theirs to choose, once signed in
        else:
            self.fields["language"].initial = tenant.preferred_language

    def clean_first_name(self):
        return _person_name(self.cleaned_data["first_name"])

    def clean_last_name(self):
        return _person_name(self.cleaned_data["last_name"])

    def clean_username(self):
        username = self.cleaned_data["username"].strip().lower()
        problem = username_problem(username, self.tenant, exclude=self.tenant_user)
        if problem:
            raise forms.ValidationError(problem)
        return username

    def clean_email(self):
        email = self.cleaned_data["email"]
        problem = user_email_problem(email, self.tenant, exclude=self.tenant_user)
        if problem:
            raise forms.ValidationError(problem)
        return email

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        return _phone_number(phone) if phone else phone  # optional for a user

    def clean_licenses(self):
        chosen = set(self.cleaned_data["licenses"])
        problems = [
            choice.problem
            for choice in self.seat_choices
            if choice.subscription.pk in chosen and choice.problem
        ]
        if problems:
            raise forms.ValidationError(problems)
        return [c.subscription for c in self.seat_choices if c.subscription.pk in chosen]

    def details(self) -> UserDetails:
        data = self.cleaned_data
        return UserDetails(
            first_name=data["first_name"],
            last_name=data["last_name"],
            username=data["username"],
            email=data["email"],
            phone=data["phone"],
            is_admin=data["is_admin"],
            language=data.get("language") or self.tenant.preferred_language,
        )


def tenant_user_initial(tenant_user) -> dict:
    """A user's details as their page's form shows them (and as an API edit starts from)."""
    return {field: getattr(tenant_user, field) for field in USER_EDITED_FIELDS}


class PartnerIdForm(forms.Form):
    """ "Set partner of record": the partner's 7-digit ID, as the partner gave it."""

    partner_id = forms.CharField(
        label=_("Partner ID"),
        max_length=40,
        help_text=_("7 digits. Your partner finds it on its partner overview."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )

    def clean_partner_id(self):
        # Spaces and hyphens people type between groups of digits are not part of the ID.
        value = re.sub(r"[\s-]+", "", self.cleaned_data["partner_id"])
        partner_id_validator(value)
        return value


class UserImportForm(forms.Form):
    """ "Add users from a file": the CSV. Its lines are read by the service."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, separated by commas or semicolons, the column names on the first line."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )
