"""The one rule for who may act on a tenant, and as what (tenants/access.py)."""

import datetime

import pytest
from django.http import Http404

from portal.models import AuditEvent
from tenants.access import Capacity, Permission, partner_customers, tenant_access
from tests.factories import SubscriptionFactory, TenantFactory


@pytest.fixture
def subscriptions(contoso):
    """Contoso's two subscriptions: Business Standard to 2027-03-31, Business Premium to
    2026-12-31."""
    SubscriptionFactory(tenant=contoso, end_date=datetime.date(2027, 3, 31))
    SubscriptionFactory(
        tenant=contoso,
        product__sku="BUS-PREM",
        product__name="Business Premium",
        end_date=datetime.date(2026, 12, 31),
    )
    return contoso.subscriptions.all()


@pytest.fixture
def pending_admin(contoso):
    """Megan, before she activated her account."""
    account = contoso.users.get(is_admin=True)
    account.user.set_unusable_password()
    account.user.save()
    return account


@pytest.fixture
def contoso_user(alex):
    """Alex's account."""
    return alex.user


@pytest.fixture
def fabrikam_tenant(fabrikam):
    return TenantFactory(name="Tailspin", domain_prefix="tailspin", created_by_partner=fabrikam)


def test_it_answers_each_capacity(
    contoso, subscriptions, contoso_admin, contoso_user, partner_admin, partner_agent
):
    assert (
        tenant_access(user=contoso_admin, tenant_id=contoso.pk, permission=Permission.MANAGE)
    ).capacity is Capacity.TENANT_ADMIN
    for user in (partner_admin, partner_agent):
        access = tenant_access(user=user, tenant_id=contoso.pk, permission=Permission.REDEEM)
        assert access.capacity is Capacity.PARTNER
        assert access.partner.partner_id == "1000001"
    access = tenant_access(
        user=contoso_user, tenant_id=contoso.pk, permission=Permission.OWN_LICENSES
    )
    assert access.capacity is Capacity.TENANT_USER


@pytest.mark.parametrize(
    ("who", "permission"),
    [
        ("other_partner_admin", Permission.READ),
        ("other_partner_agent", Permission.READ),
        ("staff", Permission.READ),
        ("nobody", Permission.READ),
        ("partner_admin", Permission.MANAGE),  # a partner reads and redeems; it does not manage
        ("contoso_user", Permission.READ),  # a tenant user sees their own licenses only
    ],
)
def test_it_answers_404_to_everyone_else(request, contoso, subscriptions, who, permission):
    user = request.getfixturevalue(who)
    with pytest.raises(Http404):
        tenant_access(user=user, tenant_id=contoso.pk, permission=permission)


def test_a_customer_admin_has_no_capacity_in_another_tenant(
    contoso_admin, fabrikam_tenant, contoso, subscriptions
):
    with pytest.raises(Http404):
        tenant_access(user=contoso_admin, tenant_id=fabrikam_tenant.pk, permission=Permission.READ)


def test_a_missing_tenant_and_a_forbidden_one_look_the_same(
    other_partner_admin, contoso, subscriptions
):
    for tenant_id in (contoso.pk, contoso.pk + 1000):
        with pytest.raises(Http404):
            tenant_access(user=other_partner_admin, tenant_id=tenant_id, permission=Permission.READ)


def test_the_partner_of_record_of_one_subscription_may_read_and_redeem(
    contoso, subscriptions, other_partner_admin, fabrikam
):
    subscription = contoso.subscriptions.first()
    subscription.partner_of_record = fabrikam
    subscription.save()
    access = tenant_access(
        user=other_partner_admin, tenant_id=contoso.pk, permission=Permission.REDEEM
    )
    assert access.partner == fabrikam


def test_the_partner_of_record_sees_the_right_next_end_date(
    client, contoso, subscriptions, other_partner_admin, fabrikam
):
    """Filtering by EXISTS: the subscription of record does not narrow the aggregate."""
    of_record = contoso.subscriptions.get(end_date=datetime.date(2027, 3, 31))
    of_record.partner_of_record = fabrikam
    of_record.save()
    client.force_login(other_partner_admin)
    page = client.get("/partner/customers/")
    (customer,) = page.context["page"].object_list
    assert customer.next_end_date == datetime.date(2026, 12, 31)
    assert list(partner_customers(fabrikam)) == [contoso]


def test_a_tenant_with_two_subscriptions_of_record_is_listed_once(contoso, subscriptions, fabrikam):
    contoso.subscriptions.update(partner_of_record=fabrikam)
    assert partner_customers(fabrikam).count() == 1


def test_the_partner_of_record_resends_the_activation_and_is_recorded(
    client, contoso, subscriptions, pending_admin, other_partner_agent, fabrikam
):
    contoso.subscriptions.update(partner_of_record=fabrikam)
    client.force_login(other_partner_agent)
    response = client.post(
        f"/partner/customers/{contoso.pk}/admins/{pending_admin.pk}/resend-activation/"
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="tenant_user.activation_resent")
    assert event.partner == fabrikam  # the acting party, not the partner that created it
    assert event.actor == other_partner_agent
    assert event.details["capacity"] == "partner"


def test_the_tenant_created_page_is_the_creating_partners_only(
    client, contoso, subscriptions, other_partner_admin, fabrikam
):
    """Issue 15: the partner of record reads the customer, but the creation's confirmation is
    the creating partner's (this test asserted 200 for the partner of record before)."""
    client.force_login(other_partner_admin)
    url = f"/partner/customers/{contoso.pk}/created/"
    assert client.get(url).status_code == 404
    contoso.subscriptions.update(partner_of_record=fabrikam)
    assert client.get(f"/partner/customers/{contoso.pk}/").status_code == 200
    assert client.get(url).status_code == 404


def test_a_tenant_user_who_is_not_an_admin_cannot_open_the_admin_home(
    client, subscriptions, contoso_user
):
    client.force_login(contoso_user)
    assert client.get("/customer/").status_code == 404
