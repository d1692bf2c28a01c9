"""The offer form's customer chooser marks the customers with an offer pending or a relationship
in force and says what sending will do (issue 16, 2), in a fixed number of queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    DelegationOfferFactory,
    DelegationRelationshipFactory,
    TenantFactory,
)

URL = "/partner/delegated-admin/offers/new/"


@pytest.fixture
def enrolled(northwind, partner_admin, client):
    northwind.cloud_program_enrolled = True
    northwind.save()
    client.force_login(partner_admin)
    return client


def customers(northwind, start: int, n: int):
    """n customers of Northwind's: one with an offer pending, one in a relationship, the rest
    with neither (or with another partner's, which does not count)."""
    made = []
    for i in range(start, start + n):
        made.append(
            TenantFactory(
                name=f"Customer {i:02}", domain_prefix=f"customer{i}", created_by_partner=northwind
            )
        )
    return made


def option(html: str, prefix: str) -> str:
    return html.split(f"({prefix})")[1].split("</option>")[0]


def test_it_marks_pending_offers_and_relationships_in_force(
    enrolled, northwind, fabrikam, partner_admin
):
    pending, related, ended, plain = customers(northwind, 0, 4)
    DelegationOfferFactory(partner=northwind, tenant=pending, created_by=partner_admin)
    DelegationRelationshipFactory(partner=northwind, tenant=related)
    # A relationship that ended yesterday is not in force; another partner's offer is theirs.
    DelegationRelationshipFactory(
        partner=northwind,
        tenant=ended,
        starts_on=timezone.localdate() - datetime.timedelta(days=100),
        ends_on=timezone.localdate() - datetime.timedelta(days=1),
    )
    DelegationOfferFactory(partner=fabrikam, tenant=plain)
    html = enrolled.get(URL).content.decode()
    assert option(html, "customer0") == " — offer pending"
    assert option(html, "customer1") == " — relationship in force"
    assert option(html, "customer2") == ""
    assert option(html, "customer3") == ""
    # Said under the list too (a mark inside an option shows only once the list opens).
    assert "withdraw it before sending another one): <strong>Customer 00</strong>" in html
    assert "replaces its roles; it does not add to them): <strong>Customer 01</strong>" in html


def test_a_chosen_customer_with_an_offer_pending_says_to_withdraw_it(
    enrolled, northwind, partner_admin
):
    (pending,) = customers(northwind, 0, 1)
    DelegationOfferFactory(partner=northwind, tenant=pending, created_by=partner_admin)
    page = enrolled.get(f"{URL}?tenant={pending.pk}").content.decode()
    assert 'data-testid="offer-pending"' in page
    assert "An offer to Customer 00 is already pending" in page
    assert 'href="/partner/delegated-admin/" class="alert-link"' in page


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_chooser_costs_the_same_queries_however_many_customers(
    enrolled, northwind, partner_admin
):
    def add(start):
        first, second, _third = customers(northwind, start, 3)
        DelegationOfferFactory(partner=northwind, tenant=first, created_by=partner_admin)
        DelegationRelationshipFactory(partner=northwind, tenant=second)

    add(0)
    few = _count(enrolled, URL)
    add(3)
    add(6)
    assert _count(enrolled, URL) == few
