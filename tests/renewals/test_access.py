"""A partner's renewals pages go through the tenant rule with "read subscriptions": a partner
whose only standing in a tenant is a delegated relationship sees that tenant's subscriptions
when its roles allow reading them (billing reader), and gets the rule's 404 otherwise
(helpdesk: users, not subscriptions)."""

from datetime import date, timedelta

import pytest
from django.test import Client

from tests.factories import DelegationRelationshipFactory

TODAY = date(2026, 6, 1)


@pytest.fixture
def fabrikam_admin(other_partner_admin, time_machine):
    time_machine.move_to(TODAY)
    client = Client()
    client.force_login(other_partner_admin)
    return client


@pytest.fixture
def subscription(subscribe):
    """Contoso's, created by Northwind, which is its partner of record: Fabrikam has no
    standing in Contoso but the relationship each test gives it."""
    return subscribe(TODAY + timedelta(days=20))


def _pages(subscription) -> list[str]:
    return [
        f"/partner/renewals/{subscription.pk}/",
        f"/partner/renewals/{subscription.pk}/direct-billing/",
    ]


def test_it_hides_the_subscriptions_from_a_helpdesk_relationship(
    fabrikam_admin, subscription, contoso, fabrikam
):
    DelegationRelationshipFactory(partner=fabrikam, tenant=contoso, roles=["helpdesk"])
    for url in _pages(subscription):
        assert fabrikam_admin.get(url).status_code == 404, url
        assert fabrikam_admin.post(url).status_code == 404, url
    assert (
        f"renewal-{subscription.pk}"
        not in fabrikam_admin.get("/partner/renewals/").content.decode()
    )
    assert "Contoso" not in fabrikam_admin.get("/partner/renewals/export.csv").content.decode()
    subscription.refresh_from_db()
    assert not subscription.ended_by_direct_billing


def test_it_shows_them_to_a_billing_reader_relationship(
    fabrikam_admin, subscription, contoso, fabrikam
):
    DelegationRelationshipFactory(partner=fabrikam, tenant=contoso, roles=["billing_reader"])
    page = fabrikam_admin.get(f"/partner/renewals/{subscription.pk}/")
    assert page.status_code == 200 and 'data-testid="timeline"' in page.content.decode()
    # Renewing is redeeming keys into the tenant, which the role does not allow.
    assert 'data-testid="renew"' not in page.content.decode()
    assert f"renewal-{subscription.pk}" in fabrikam_admin.get("/partner/renewals/").content.decode()
    assert "Contoso" in fabrikam_admin.get("/partner/renewals/export.csv").content.decode()
    # Reading is not switching: that takes the global administrator role or being of record.
    url = f"/partner/renewals/{subscription.pk}/direct-billing/"
    assert fabrikam_admin.post(url).status_code == 404


def test_it_stops_showing_them_once_the_relationship_is_past_its_end_date(
    fabrikam_admin, subscription, contoso, fabrikam
):
    # Still recorded as active (the delegation sweep has not run): the dates decide.
    DelegationRelationshipFactory(
        partner=fabrikam,
        tenant=contoso,
        roles=["billing_reader"],
        starts_on=TODAY - timedelta(days=30),
        ends_on=TODAY - timedelta(days=1),
    )
    assert fabrikam_admin.get(f"/partner/renewals/{subscription.pk}/").status_code == 404
    listed = fabrikam_admin.get("/partner/renewals/").content.decode()
    assert f"renewal-{subscription.pk}" not in listed


def test_the_partner_of_record_reads_it_with_the_way_to_renew(
    subscription, partner_agent, time_machine
):
    time_machine.move_to(TODAY)
    client = Client()
    client.force_login(partner_agent)
    page = client.get(f"/partner/renewals/{subscription.pk}/")
    assert page.status_code == 200 and 'data-testid="renew"' in page.content.decode()
