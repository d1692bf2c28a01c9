"""Who has which second factor, for the pages that show it to an organization's admins."""

from django.db.models import QuerySet

from mfa.models import with_factors
from portal.models import PartnerMembership, User


def partner_team(partner) -> QuerySet:
    """The partner's users with their factors, for the partner overview."""
    return with_factors(
        PartnerMembership.objects.filter(partner=partner).select_related("user"), "user_id"
    ).order_by("user__email")


def user_factors(user: User) -> dict:
    """One person's factors, for a tenant user's page."""
    row = with_factors(User.objects.filter(pk=user.pk)).values("has_passkey", "has_app").get()
    return row
