"""`customer_partners` (who hears about a tenant) is `partner_customers` (a partner's customers)
read the other way: for every permission, both forms give the same pairs."""

import datetime

import pytest
from django.utils import timezone

from portal.models import Partner
from tenants.access import Permission, customer_partners, partner_customers
from tests.factories import DelegationRelationshipFactory, SubscriptionFactory, TenantFactory

DAY = datetime.timedelta(days=1)


@pytest.fixture
def world(db):
    """Four partners and tenants reached every way the rule knows, and some ways it refuses."""
    today = timezone.localdate()
    p1, p2, p3, p4 = (
        Partner.objects.create(name=f"P{n}", partner_id=f"200000{n}", contact_email=f"p{n}@x.ex")
        for n in range(1, 5)
    )
    t1 = TenantFactory(created_by_partner=p1)
    t2 = TenantFactory(created_by_partner=p2)
    SubscriptionFactory(tenant=t2, partner_of_record=p1)  # p1 of record in p2's customer
    t3 = TenantFactory(created_by_partner=p3)
    DelegationRelationshipFactory(partner=p1, tenant=t3, roles=["billing_reader"])
    DelegationRelationshipFactory(partner=p2, tenant=t3, roles=["helpdesk", "license_admin"])
    t4 = TenantFactory(created_by_partner=p4)
    DelegationRelationshipFactory(partner=p3, tenant=t4, roles=["global_admin"])
    # Not in force: ended, terminated, not started yet.
    DelegationRelationshipFactory(
        partner=p4, tenant=t3, starts_on=today - 40 * DAY, ends_on=today - DAY
    )
    DelegationRelationshipFactory(partner=p4, tenant=t1, state="terminated")
    DelegationRelationshipFactory(partner=p4, tenant=t2, starts_on=today + DAY)
    return [p1, p2, p3, p4], [t1.pk, t2.pk, t3.pk, t4.pk]


@pytest.mark.parametrize("permission", list(Permission))
def test_both_forms_give_the_same_pairs(world, permission):
    partners, tenant_ids = world
    by_tenant = customer_partners(tenant_ids, permission=permission)
    for partner in partners:
        customers = set(
            partner_customers(partner, permission=permission)
            .filter(pk__in=tenant_ids)
            .values_list("pk", flat=True)
        )
        assert customers == {t for t in tenant_ids if partner.pk in by_tenant.get(t, set())}, (
            partner.name
        )


def test_it_reads_only_the_partners_asked_about(world):
    partners, tenant_ids = world
    p1, p2 = partners[:2]
    found = customer_partners(tenant_ids, permission=Permission.READ, partner_ids=[p2.pk])
    assert dict(found) == {tenant_ids[1]: {p2.pk}, tenant_ids[2]: {p2.pk}}
    assert customer_partners(tenant_ids, partner_ids=[]) == {}
    assert customer_partners([], partner_ids=[p1.pk]) == {}


def test_the_pairs_are_what_the_world_says(world):
    (p1, p2, p3, p4), (t1, t2, t3, t4) = world
    assert dict(customer_partners([t1, t2, t3, t4], permission=Permission.SUBSCRIPTIONS_READ)) == {
        t1: {p1.pk},
        t2: {p1.pk, p2.pk},
        t3: {p1.pk, p3.pk},  # p2's roles there do not read subscriptions
        t4: {p3.pk, p4.pk},
    }
