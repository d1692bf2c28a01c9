"""The customer home, the partner's delegation page and the customer's relationships page run a
fixed number of queries, however many subscriptions, offers and relationships there are."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.models import Partner, PartnerMembership
from tenants.models import DelegationOffer, DelegationRelationship
from tests.factories import (
    DelegationOfferFactory,
    DelegationRelationshipFactory,
    ProductFactory,
    SubscriptionFactory,
    TenantFactory,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def contoso_admin_client(contoso_admin):
    client = Client()
    client.force_login(contoso_admin)
    return client


def _count(client, url: str) -> int:
    """The queries of one signed-in request. Each count below includes three of every signed-in
    request: the session, the person with their membership or tenant user record (one query:
    renewals.auth's get_user; the lifecycle's sign-in rule asks nothing more of a partner user
    or an admin) and django-otp's load of the device the session was verified with
    (OTPMiddleware)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _partners(n: int, start: int) -> list[Partner]:
    return [
        Partner.objects.create(
            name=f"Partner {i}", partner_id=f"{2000000 + i}", contact_email=f"p{i}@example.com"
        )
        for i in range(start, start + n)
    ]


def _add_customer_rows(contoso, n: int, start: int) -> None:
    """n more subscriptions (with a partner of record), pending offers and relationships."""
    for partner in _partners(n, start):
        product = ProductFactory(sku=f"SKU-{partner.partner_id}")
        SubscriptionFactory(tenant=contoso, product=product, partner_of_record=partner)
        DelegationOfferFactory(partner=partner, tenant=contoso)
        DelegationRelationshipFactory(partner=partner, tenant=contoso)


def test_the_customer_home_does_not_grow_with_its_rows(contoso, contoso_admin_client):
    _add_customer_rows(contoso, 1, 0)
    few = _count(contoso_admin_client, "/customer/")
    _add_customer_rows(contoso, 6, 1)
    assert _count(contoso_admin_client, "/customer/") == few == 8


def test_the_relationships_page_does_not_grow_with_its_rows(contoso, contoso_admin_client):
    url = "/customer/partner-relationships/"
    _add_customer_rows(contoso, 1, 0)
    few = _count(contoso_admin_client, url)
    _add_customer_rows(contoso, 6, 1)
    assert DelegationOffer.objects.open(timezone.now()).filter(tenant=contoso).count() == 7
    assert _count(contoso_admin_client, url) == few == 5


def test_the_delegation_page_does_not_grow_with_its_rows(northwind, partner_admin, client):
    client.force_login(partner_admin)
    assert PartnerMembership.objects.filter(user=partner_admin).exists()

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            tenant = TenantFactory(
                name=f"Customer {i}", domain_prefix=f"customer{i}", created_by_partner=northwind
            )
            DelegationOfferFactory(partner=northwind, tenant=tenant, last_sent_at=None)
            DelegationRelationshipFactory(
                partner=northwind,
                tenant=tenant,
                ends_on=datetime.date.today() + datetime.timedelta(days=5 + i),
            )

    add(1, 0)
    few = _count(client, "/partner/delegated-admin/")
    add(6, 1)
    assert DelegationRelationship.objects.filter(partner=northwind).count() == 7
    # Both lists are pages: a count and a page of rows each.
    assert _count(client, "/partner/delegated-admin/") == few == 7
