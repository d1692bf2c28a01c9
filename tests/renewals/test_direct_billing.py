"""Switch to direct billing: the prepaid subscription ends, a direct one starts today."""

from datetime import date, timedelta

import pytest
from django.test import Client
from post_office.models import Email

from portal.models import AuditEvent, PartnerMembership, User
from renewals.services import DirectBillingError, direct_billing_switch, prepaid_days_lost
from tenants.access import Permission, tenant_access
from tenants.models import License, Subscription, TenantUser

TODAY = date(2026, 6, 20)
END = date(2026, 6, 30)


@pytest.fixture
def subscription(subscribe):
    return subscribe(END)


def admin_access(contoso):
    megan = User.objects.get(email="megan@contoso.example")
    return tenant_access(user=megan, tenant_id=contoso.pk, permission=Permission.DIRECT_BILLING)


def test_the_page_shows_the_prepaid_days_lost(subscription, time_machine):
    time_machine.move_to(TODAY)
    client = Client()
    client.login(email="megan@contoso.example", password="portal-demo")
    response = client.get(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
    assert response.status_code == 200
    assert prepaid_days_lost(subscription, TODAY) == 11
    assert "gives up 11 prepaid days" in response.content.decode()


def test_the_customer_admin_switches(subscription, contoso, time_machine):
    time_machine.move_to(TODAY)
    alex = TenantUser.objects.get(email="alex@contoso.example")
    License.objects.create(subscription=subscription, tenant_user=alex)
    client = Client()
    client.login(email="megan@contoso.example", password="portal-demo")
    response = client.post(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
    assert response.status_code == 302
    subscription.refresh_from_db()
    new = Subscription.objects.exclude(pk=subscription.pk).get()
    assert subscription.ended_by_direct_billing and subscription.end_date == TODAY - timedelta(1)
    assert subscription.renewal_notice_on is None
    assert (new.start_date, new.end_date, new.seats) == (TODAY, date(2027, 6, 19), 5)
    assert new.partner_of_record is None and new.product == subscription.product
    assert list(new.licenses.values_list("tenant_user", flat=True)) == [alex.pk]
    event = AuditEvent.objects.get(action="subscription.direct_billing")
    assert event.details["prepaid_days_lost"] == 11
    assert sorted(to[0] for to in Email.objects.values_list("to", flat=True)) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    assert response["Location"] == f"/customer/subscriptions/{new.pk}/"


def test_a_subscription_that_started_today_ends_today(subscribe, contoso):
    subscription = subscribe(TODAY + timedelta(days=365))
    Subscription.objects.filter(pk=subscription.pk).update(start_date=TODAY)
    subscription.refresh_from_db()
    direct_billing_switch(access=admin_access(contoso), subscription=subscription, today=TODAY)
    subscription.refresh_from_db()
    assert subscription.end_date == subscription.start_date == TODAY


def test_it_switches_once(subscription, contoso):
    direct_billing_switch(access=admin_access(contoso), subscription=subscription, today=TODAY)
    subscription.refresh_from_db()
    with pytest.raises(DirectBillingError):
        direct_billing_switch(access=admin_access(contoso), subscription=subscription, today=TODAY)


def test_a_disabled_subscription_cannot_switch(subscription, contoso):
    with pytest.raises(DirectBillingError):
        direct_billing_switch(
            access=admin_access(contoso),
            subscription=subscription,
            today=END + timedelta(days=30),
        )


def test_the_partner_admin_of_record_switches_and_the_agent_cannot(
    subscription, contoso, partner_admin, partner_agent, time_machine
):
    time_machine.move_to(TODAY)
    url = f"/partner/renewals/{subscription.pk}/direct-billing/"
    agent = Client()
    agent.force_login(partner_agent)
    assert agent.post(url).status_code == 404
    admin = Client()
    admin.force_login(partner_admin)
    assert admin.post(url).status_code == 302
    assert Subscription.objects.filter(ended_by_direct_billing=True).count() == 1


def test_a_partner_admin_who_is_not_of_record_cannot(
    subscription, contoso, northwind, fabrikam, partner_admin
):
    Subscription.objects.filter(pk=subscription.pk).update(partner_of_record=fabrikam)
    subscription.refresh_from_db()
    access = tenant_access(user=partner_admin, tenant_id=contoso.pk, permission=Permission.READ)
    assert PartnerMembership.objects.get(user=partner_admin).is_admin
    with pytest.raises(DirectBillingError):
        direct_billing_switch(access=access, subscription=subscription, today=TODAY)


def test_under_a_global_administrator_relationship_the_partner_admin_switches_and_it_is_logged(
    subscription, contoso, fabrikam, other_partner_admin, other_partner_agent
):
    from tenants.models import ActivityLog
    from tests.factories import DelegationRelationshipFactory

    DelegationRelationshipFactory(partner=fabrikam, tenant=contoso, roles=["global_admin"])
    agent = tenant_access(
        user=other_partner_agent, tenant_id=contoso.pk, permission=Permission.READ
    )
    with pytest.raises(DirectBillingError):  # agents never switch, whatever the roles
        direct_billing_switch(access=agent, subscription=subscription, today=TODAY)
    access = tenant_access(
        user=other_partner_admin, tenant_id=contoso.pk, permission=Permission.DIRECT_BILLING
    )
    direct_billing_switch(access=access, subscription=subscription, today=TODAY)
    entry = ActivityLog.objects.get(action="subscription.direct_billing")
    assert (entry.tenant, entry.partner, entry.actor) == (contoso, fabrikam, other_partner_admin)


def test_a_user_administrator_relationship_does_not_allow_switching(
    subscription, contoso, fabrikam, other_partner_admin
):
    from tests.factories import DelegationRelationshipFactory

    DelegationRelationshipFactory(partner=fabrikam, tenant=contoso, roles=["user_admin"])
    access = tenant_access(
        user=other_partner_admin, tenant_id=contoso.pk, permission=Permission.READ
    )
    with pytest.raises(DirectBillingError):
        direct_billing_switch(access=access, subscription=subscription)
