"""Who has which second factor, for the pages that show it to an organization's admins."""

from django.db.models import Exists, OuterRef, QuerySet
from django_otp_webauthn.models import WebAuthnCredential

from mfa.models import AuthenticatorApp
from portal.models import PartnerMembership, User


def with_factors(queryset: QuerySet, user_field: str = "pk") -> QuerySet:
    """Annotate `has_passkey` and `has_app` (confirmed ones) on rows whose `user_field` is a
    user's id: two EXISTS sub-queries, however many rows."""
    return queryset.annotate(
        has_passkey=Exists(
            WebAuthnCredential.objects.filter(user=OuterRef(user_field), confirmed=True)
        ),
        has_app=Exists(AuthenticatorApp.objects.filter(user=OuterRef(user_field), confirmed=True)),
    )


def partner_team(partner) -> QuerySet:
    """The partner's users with their factors, for the partner overview."""
    return with_factors(
        PartnerMembership.objects.filter(partner=partner).select_related("user"), "user_id"
    ).order_by("user__email")


def user_factors(user: User) -> dict:
    """One person's factors, for a tenant user's page."""
    row = with_factors(User.objects.filter(pk=user.pk)).values("has_passkey", "has_app").get()
    return row
