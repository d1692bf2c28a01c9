"""Switch to direct billing: the prepaid subscription ends, a direct one starts today."""

from datetime import date, timedelta

import pytest
from django.test import Client
from post_office.models import Email

from portal.models import AuditEvent, PartnerMembership, User
from renewals.services import DirectBillingError, direct_billing_switch, prepaid_days_lost
from tenants.access import Permission, tenant_access
from tenants.models import License, Subscription, TenantUser
from tests.second_factor import second_step

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
    client = customer_client()
    response = client.get(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
    assert response.status_code == 200
    # The days after today: the "days left" the pages show (10 on June 20 for June 30).
    assert prepaid_days_lost(subscription, TODAY) == 10
    assert "ends it today and gives up 10 prepaid days" in response.content.decode()
    assert "Switch at the last moment" in response.content.decode()


def test_the_customer_admin_switches(subscription, contoso, time_machine):
    time_machine.move_to(TODAY)
    alex = TenantUser.objects.get(email="alex@contoso.example")
    License.objects.create(subscription=subscription, tenant_user=alex)
    client = customer_client()
    response = client.post(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
    assert response.status_code == 302
    subscription.refresh_from_db()
    new = Subscription.objects.exclude(pk=subscription.pk).get()
    assert subscription.ended_by_direct_billing and subscription.end_date == TODAY
    assert subscription.renewal_notice_on is None
    assert new.billed_directly and not subscription.billed_directly
    assert new.renewal_notice_on is None
    assert (new.start_date, new.end_date, new.seats) == (TODAY, date(2027, 6, 19), 5)
    assert new.partner_of_record is None and new.product == subscription.product
    assert list(new.licenses.values_list("tenant_user", flat=True)) == [alex.pk]
    event = AuditEvent.objects.get(action="subscription.direct_billing")
    assert event.details["prepaid_days_lost"] == 10
    assert sorted(to[0] for to in Email.objects.values_list("to", flat=True)) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    assert response["Location"] == f"/customer/subscriptions/{new.pk}/"
    mail = Email.objects.get(to=["partner@northwind.example"])
    assert '<html lang="en">' in mail.html_message
    assert "ended on June 20, 2026; 10 prepaid days were given up" in mail.message
    assert "renews on its own each term" in mail.message


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


def test_a_disabled_subscription_switches_and_the_tenant_is_usable_again(
    subscription, contoso, time_machine
):
    from renewals.auth import tenant_user_locked_out

    day = END + timedelta(days=30)
    time_machine.move_to(day)
    alex = User.objects.get(email="alex@contoso.example")
    assert tenant_user_locked_out(alex)
    new = direct_billing_switch(access=admin_access(contoso), subscription=subscription, today=day)
    subscription.refresh_from_db()
    # An ended subscription keeps its end date: switching never lengthens the prepaid term.
    assert subscription.end_date == END and subscription.ended_by_direct_billing
    assert new.billed_directly and new.start_date == day
    assert not tenant_user_locked_out(alex)


def test_a_deleted_subscription_cannot_switch(subscription, contoso):
    with pytest.raises(DirectBillingError):
        direct_billing_switch(
            access=admin_access(contoso),
            subscription=subscription,
            today=END + timedelta(days=120),
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


def customer_client():
    """Megan signed in: her password, then the code of her authenticator app (a customer admin
    must have a second factor)."""
    client = Client()
    assert client.login(email="megan@contoso.example", password="portal-demo")
    second_step(client, User.objects.get(email="megan@contoso.example"))
    return client


def test_the_directly_billed_subscription_renews_on_its_own(
    subscription, contoso, partner_admin, time_machine
):
    from renewals.auth import tenant_user_locked_out
    from renewals.queries import renewal_list
    from renewals.services import lifecycle_advance, renewal_notices_send
    from tenants.lifecycle import subscription_state

    new = direct_billing_switch(
        access=admin_access(contoso), subscription=subscription, today=TODAY
    )
    assert new.renewal_notice_on is None
    with pytest.raises(DirectBillingError):  # no second switch for a directly billed one
        direct_billing_switch(access=admin_access(contoso), subscription=new, today=TODAY)
    # Years after its first term: no notice, no lifecycle move, still usable.
    later = new.end_date + timedelta(days=400)
    Email.objects.all().delete()
    Subscription.objects.filter(pk=new.pk).update(renewal_notice_on=TODAY)
    assert renewal_notices_send(today=later) == 0
    assert lifecycle_advance(today=later) == 0
    new.refresh_from_db()
    assert new.state == Subscription.State.ACTIVE and new.renewal_notice_on is None
    assert subscription_state(new, later) == Subscription.State.ACTIVE
    assert not Email.objects.exists()
    time_machine.move_to(later)
    assert not tenant_user_locked_out(User.objects.get(email="alex@contoso.example"))
    # The partner has nothing to renew: neither the new one nor the ended one is listed.
    northwind = PartnerMembership.objects.get(user=partner_admin).partner
    Subscription.objects.filter(pk=new.pk).update(partner_of_record=northwind)
    assert list(renewal_list(northwind, today=later)) == []
    page = customer_client().get(f"/customer/subscriptions/{new.pk}/").content.decode()
    assert "Billed directly: renews on its own each term; nothing to do." in page
    assert 'data-testid="timeline"' not in page
    assert 'data-testid="direct-billing"' not in page
    assert "ask your partner" not in page
    partner = Client()
    partner.force_login(partner_admin)
    page = partner.get(f"/partner/renewals/{new.pk}/").content.decode()
    assert "Billed directly" in page and "Renew with a key" not in page


def test_the_ended_prepaid_subscription_reads_as_replaced(
    subscription, contoso, partner_admin, time_machine
):
    time_machine.move_to(TODAY)
    new = direct_billing_switch(
        access=admin_access(contoso), subscription=subscription, today=TODAY
    )
    time_machine.move_to(TODAY + timedelta(days=40))  # past the old end: would be "disabled"
    page = customer_client().get(f"/customer/subscriptions/{subscription.pk}/").content.decode()
    assert "Ended (direct billing)" in page
    assert "Ended on June 20, 2026: replaced by a directly billed subscription." in page
    assert f'href="/customer/subscriptions/{new.pk}/"' in page
    for threat in ("Expired (grace period)", "Disabled on", "Deleted", "To renew"):
        assert threat not in page
    assert 'data-testid="timeline"' not in page
    partner = Client()
    partner.force_login(partner_admin)
    page = partner.get(f"/partner/renewals/{subscription.pk}/").content.decode()
    assert "Renew with a key" not in page and f'href="/partner/renewals/{new.pk}/"' in page
    home = customer_client().get("/customer/").content.decode()
    assert "Ended (direct billing)" in home and "Disabled on" not in home


def test_the_days_given_up_are_the_days_left(subscription, partner_admin, time_machine):
    time_machine.move_to(TODAY)
    partner = Client()
    partner.force_login(partner_admin)
    page = partner.get(f"/partner/renewals/{subscription.pk}/").content.decode()
    assert "10 days left" in page
    page = (
        customer_client()
        .get(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
        .content.decode()
    )
    assert "gives up 10 prepaid days" in page
    time_machine.move_to(END)
    assert prepaid_days_lost(subscription, END) == 0
    page = (
        customer_client()
        .get(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
        .content.decode()
    )
    assert "gives up 0 prepaid days" in page and "Switch at the last moment" not in page


def test_an_expired_subscription_says_when_it_ended(subscription, time_machine):
    time_machine.move_to(END + timedelta(days=5))
    page = (
        customer_client()
        .get(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
        .content.decode()
    )
    assert (
        "It ended on June 30, 2026; switching starts a directly billed subscription today." in page
    )
    assert "runs until" not in page and "prepaid day" not in page
    assert "last moment" not in page


def test_the_ended_prepaid_subscription_keeps_its_partner_of_record(
    subscription, contoso, time_machine
):
    from tenants.services import partner_of_record_set

    time_machine.move_to(TODAY)
    client = customer_client()
    client.post(f"/customer/subscriptions/{subscription.pk}/direct-billing/")
    home = client.get("/customer/").content.decode()
    assert home.count("Change or remove") == 0  # the new one has none; the ended one is closed
    url = f"/customer/subscriptions/{subscription.pk}/partner-of-record/"
    assert client.get(url).status_code == 404
    subscription.refresh_from_db()
    assert (
        partner_of_record_set(access=admin_access(contoso), subscription=subscription, partner=None)
        is False
    )
    subscription.refresh_from_db()
    assert subscription.partner_of_record is not None
