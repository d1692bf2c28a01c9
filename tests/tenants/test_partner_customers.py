"""A partner's customers (`tenants.access.partner_customers`) are exactly the tenants where the
tenant rule gives the partner the permission asked: the list and the rule never disagree."""

import datetime

import pytest
from django.http import Http404
from django.utils import timezone

from tenants.access import Permission, partner_customers, tenant_access
from tests.factories import DelegationRelationshipFactory, SubscriptionFactory, TenantFactory

pytestmark = pytest.mark.postgres


@pytest.fixture
def tenants(northwind, fabrikam):
    today = timezone.localdate()
    day = datetime.timedelta(days=1)

    def tenant(prefix, partner=fabrikam):
        return TenantFactory(name=prefix.title(), domain_prefix=prefix, created_by_partner=partner)

    made = {
        "created": tenant("created", northwind),
        "of-record": tenant("of-record"),
        "helpdesk": tenant("helpdesk"),
        "billing": tenant("billing"),
        "global": tenant("global"),
        "ended": tenant("ended"),
        "not-yet": tenant("not-yet"),
        "terminated": tenant("terminated"),
        "someone-else": tenant("someone-else"),
    }
    SubscriptionFactory(tenant=made["of-record"], partner_of_record=northwind)
    SubscriptionFactory(tenant=made["someone-else"])
    for prefix, roles, extra in (
        ("helpdesk", ["helpdesk"], {}),
        ("billing", ["billing_reader"], {}),
        ("global", ["global_admin"], {}),
        ("ended", ["billing_reader"], {"starts_on": today - 30 * day, "ends_on": today - day}),
        ("not-yet", ["billing_reader"], {"starts_on": today + day, "ends_on": today + 30 * day}),
        ("terminated", ["global_admin"], {"state": "terminated"}),
    ):
        DelegationRelationshipFactory(partner=northwind, tenant=made[prefix], roles=roles, **extra)
    return made


def _rule_allows(user, tenant, permission) -> bool:
    try:
        tenant_access(user=user, tenant_id=tenant.pk, permission=permission)
    except Http404:
        return False
    return True


@pytest.mark.parametrize("permission", list(Permission))
def test_it_lists_what_the_rule_allows(tenants, northwind, partner_admin, permission):
    listed = set(partner_customers(northwind, permission=permission))
    allowed = {t for t in tenants.values() if _rule_allows(partner_admin, t, permission)}
    assert listed == allowed


def test_it_means_created_of_record_or_administered_today(tenants, northwind):
    names = lambda permission: sorted(  # noqa: E731
        t.domain_prefix for t in partner_customers(northwind, permission=permission)
    )
    assert names(Permission.READ) == ["billing", "created", "global", "helpdesk", "of-record"]
    assert names(Permission.SUBSCRIPTIONS_READ) == ["billing", "created", "global", "of-record"]
    assert names(Permission.MANAGE) == ["global"]


LISTS = ["/partner/", "/partner/customers/", "/partner/customers/?sort=end"]


def _row(page: str, name: str) -> str:
    start = page.index(f">{name}</a>")
    return page[start : page.index("</tr>", start)]


@pytest.mark.parametrize("url", LISTS)
def test_the_customer_list_hides_subscriptions_from_a_helpdesk_only_partner(
    tenants, northwind, partner_admin, client, url
):
    """Issue 15 §5: what the customer page hides from helpdesk, the list hides too."""
    SubscriptionFactory(tenant=tenants["helpdesk"])
    SubscriptionFactory(tenant=tenants["billing"])
    client.force_login(partner_admin)
    page = client.get(url).content.decode()
    helpdesk, billing = _row(page, "Helpdesk"), _row(page, "Billing")
    assert "Business Standard" not in helpdesk and "subscriptions-hidden" in helpdesk
    assert "—" in helpdesk  # no next end date either
    assert "Business Standard (" in billing and "subscriptions-hidden" not in billing
