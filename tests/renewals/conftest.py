import datetime

import pytest

from tests.factories import SubscriptionFactory


@pytest.fixture
def alex_signs_in(alex):
    """Alex has activated his account (password portal-demo): the lifecycle locks him out."""
    alex.user.set_password("portal-demo")
    alex.user.save()
    return alex


@pytest.fixture
def notice_days(db):
    """The seeded notice days. The data migration adds them, but transactional tests flush
    tables, so tests that need them ask for them."""
    from renewals.models import NoticeOffset

    for days in (60, 30, 7, 1):
        NoticeOffset.objects.get_or_create(days_before=days)


@pytest.fixture
def subscribe(contoso, alex_signs_in, partner_admin, partner_agent, northwind, notice_days):
    """subscribe(end_date, sku=..., tenant=...) -> a subscription of Northwind's record.

    Each renewal test has the same people around the subscription: Contoso's Megan (admin) and
    Alex, and Northwind's admin and agent, whom the notices and the lock-outs tell apart."""
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
