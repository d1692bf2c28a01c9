"""Demo data for a newcomer's `make run`. Idempotent: running it again changes nothing."""

from django.core.management.base import BaseCommand
from django.db import transaction

from keys.models import Product
from portal.models import Partner, PartnerMembership, User

DEMO_PASSWORD = "portal-demo"  # noqa: S105 — printed by `make run`; demo data only

PRODUCTS = [
    ("BUS-BASIC", "Business Basic"),
    ("BUS-STD", "Business Standard"),
    ("BUS-PREM", "Business Premium"),
]
PARTNERS = [
    # partner ID, name, enrolled, user, role
    ("1000001", "Northwind Partners", True, "partner@example.com", PartnerMembership.Role.ADMIN),
    (
        "1000002",
        "Fabrikam Resellers",
        False,
        "agent@fabrikam.example",
        PartnerMembership.Role.AGENT,
    ),
]


def _user(email: str, **extra) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, **extra)
    return user


class Command(BaseCommand):
    help = "Create the demo products, partners and users (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        for sku, name in PRODUCTS:
            Product.objects.get_or_create(sku=sku, defaults={"name": name, "term_months": 12})
        for partner_id, name, enrolled, email, role in PARTNERS:
            domain = email.split("@", 1)[1]
            partner, _ = Partner.objects.get_or_create(
                partner_id=partner_id,
                defaults={
                    "name": name,
                    "cloud_program_enrolled": enrolled,
                    "contact_email": f"contact@{domain}",
                },
            )
            user = _user(email)
            PartnerMembership.objects.get_or_create(
                user=user, defaults={"partner": partner, "role": role}
            )
        _user("ops@example.com", is_staff=True, is_superuser=True)
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
