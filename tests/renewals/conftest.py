import datetime

import pytest

from portal.models import User
from tenants.models import TenantUser
from tests.factories import SubscriptionFactory, TenantFactory


@pytest.fixture
def contoso(northwind, partner_admin, partner_agent):
    """A customer of Northwind with a French-speaking admin and a user who is not an admin."""
    tenant = TenantFactory(name="Contoso", domain_prefix="contoso", created_by_partner=northwind)
    megan = User.objects.create_user("megan@contoso.example", "portal-demo", language="fr")
    TenantUser.objects.create(
        tenant=tenant,
        user=megan,
        first_name="Megan",
        last_name="Bowen",
        email="megan@contoso.example",
        is_admin=True,
    )
    alex = User.objects.create_user("alex@contoso.example", "portal-demo")
    TenantUser.objects.create(
        tenant=tenant, user=alex, first_name="Alex", last_name="Wilber", email=alex.email
    )
    return tenant


@pytest.fixture
def notice_days(db):
    """The seeded notice days. The data migration adds them, but transactional tests flush
    tables, so tests that need them ask for them."""
    from renewals.models import NoticeOffset

    for days in (60, 30, 7, 1):
        NoticeOffset.objects.get_or_create(days_before=days)


@pytest.fixture
def subscribe(contoso, northwind, notice_days):
    """subscribe(end_date, sku=..., tenant=...) -> a subscription of Northwind's record."""
    from tests.factories import ProductFactory

    def make(end_date: datetime.date, sku="BUS-STD", tenant=None, **extra):
        product = ProductFactory(sku=sku, name=sku)
        extra.setdefault("partner_of_record", northwind)
        extra.setdefault("renewal_notice_on", datetime.date(2000, 1, 1))
        return SubscriptionFactory(
            tenant=tenant or contoso,
            product=product,
            start_date=min(end_date, datetime.date(2025, 1, 1)),
            end_date=end_date,
            **extra,
        )

    return make
