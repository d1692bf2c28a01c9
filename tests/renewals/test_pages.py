"""The partner's renewal list, its CSV export, and the timelines."""

from datetime import date, timedelta

import pytest
from django.test import Client

from portal.models import User
from tests.factories import DelegationRelationshipFactory, TenantFactory
from tests.second_factor import second_step

TODAY = date(2026, 6, 1)


@pytest.fixture
def partner(partner_admin, time_machine):
    time_machine.move_to(TODAY)
    client = Client()
    client.force_login(partner_admin)
    return client


def test_the_list_shows_soonest_end_first_with_days_left(partner, subscribe):
    later = subscribe(TODAY + timedelta(days=50), sku="B")
    sooner = subscribe(TODAY + timedelta(days=5), sku="A")
    page = partner.get("/partner/renewals/").content.decode()
    assert page.index(f'data-testid="renewal-{sooner.pk}"') < page.index(
        f'data-testid="renewal-{later.pk}"'
    )
    assert f"/partner/customers/{sooner.tenant_id}/renew/" in page


def test_the_filters(partner, subscribe):
    week = subscribe(TODAY + timedelta(days=5), sku="A")
    two_months = subscribe(TODAY + timedelta(days=50), sku="B")
    expired = subscribe(TODAY - timedelta(days=3), sku="C")
    disabled = subscribe(TODAY - timedelta(days=45), sku="D")
    subscribe(TODAY - timedelta(days=200), sku="E")  # deleted by its dates: not listed

    def listed(query):
        page = partner.get(f"/partner/renewals/?{query}").content.decode()
        return {
            pk
            for pk in (week.pk, two_months.pk, expired.pk, disabled.pk)
            if f'data-testid="renewal-{pk}"' in page
        }

    assert listed("") == {week.pk, two_months.pk, expired.pk, disabled.pk}
    assert listed("window=7") == {week.pk}
    assert listed("window=60") == {week.pk, two_months.pk}
    assert listed("window=expired") == {expired.pk}
    assert listed("window=disabled") == {disabled.pk}
    assert listed("state=active") == {week.pk, two_months.pk}
    assert listed("state=disabled") == {disabled.pk}


def test_it_lists_only_the_partners_subscriptions(partner, subscribe, fabrikam):
    other = TenantFactory(created_by_partner=fabrikam)
    theirs = subscribe(TODAY + timedelta(days=5), tenant=other, partner_of_record=fabrikam)
    theirs.created_by_partner = fabrikam
    theirs.save()
    assert f"renewal-{theirs.pk}" not in partner.get("/partner/renewals/").content.decode()


def test_the_list_costs_the_same_queries_for_many_rows(
    partner, subscribe, northwind, fabrikam, django_assert_num_queries
):
    subscribe(TODAY + timedelta(days=5), sku="A")
    # The relationships whose roles allow reading subscriptions are part of the list's query
    # (tenants.access.partner_customers), not a query of their own. 7: the session, the person
    # with their membership (renewals.auth's get_user), the session's verified device
    # (django-otp's OTPMiddleware), the count and the page, and the partner's standing in the
    # page's tenants for its "Renew with a key" buttons (tenants.access.partner_tenant_accesses).
    with django_assert_num_queries(7) as first:
        partner.get("/partner/renewals/")
    for index in range(20):
        subscribe(
            TODAY + timedelta(days=index),
            sku=f"M{index}",
            tenant=TenantFactory(created_by_partner=northwind),
        )
    for index in range(5):  # customers of another partner, under Northwind's relationships
        tenant = TenantFactory(created_by_partner=fabrikam)
        subscribe(
            TODAY + timedelta(days=index), sku=f"D{index}", tenant=tenant, partner_of_record=None
        )
        DelegationRelationshipFactory(partner=northwind, tenant=tenant, roles=["billing_reader"])
    with django_assert_num_queries(len(first.captured_queries)):
        page = partner.get("/partner/renewals/").content.decode()
    assert "26 subscriptions" in page  # 25 a page


def test_renew_with_a_key_only_where_the_partner_may_renew(partner, subscribe, northwind, fabrikam):
    ours = subscribe(TODAY + timedelta(days=5), sku="A")
    tenant = TenantFactory(created_by_partner=fabrikam)
    read_only = subscribe(TODAY + timedelta(days=6), sku="B", tenant=tenant, partner_of_record=None)
    DelegationRelationshipFactory(partner=northwind, tenant=tenant, roles=["billing_reader"])
    page = partner.get("/partner/renewals/").content.decode()
    assert f'data-testid="renewal-{read_only.pk}"' in page  # listed: it may read it
    assert f"/partner/customers/{ours.tenant_id}/renew/" in page
    # A billing reader may not redeem keys into the tenant: no button leading to a 404.
    assert f"/partner/customers/{tenant.pk}/renew/" not in page
    assert page.count("Renew with a key") == 1
    assert partner.get(f"/partner/customers/{tenant.pk}/renew/").status_code == 404


def test_the_csv_export_is_utf8_with_a_bom_and_formula_safe(partner, subscribe, contoso):
    contoso.name = '=HYPERLINK("x") Société'
    contoso.save()
    subscribe(TODAY + timedelta(days=5))
    response = partner.get("/partner/renewals/export.csv?window=7")
    body = response.content.decode("utf-8")
    assert response["Content-Type"].startswith("text/csv")
    assert body.startswith("\ufeffCustomer,")
    assert "'=HYPERLINK" in body and "Société" in body


def test_the_timeline_lists_every_date_in_order(partner, subscribe):
    subscription = subscribe(TODAY + timedelta(days=45))
    page = partner.get(f"/partner/renewals/{subscription.pk}/").content.decode()
    kinds = ["today", "notice", "notice", "notice", "notice", "end", "expired"]
    positions = [page.index(f'data-testid="timeline-{kind}"') for kind in ("today", "end")]
    assert positions == sorted(positions)
    for kind in [*kinds, "disabled", "deleted"]:
        assert f'data-testid="timeline-{kind}"' in page
    # The 60-day notice is past, before today.
    assert page.index("timeline-notice timeline-past") < page.index('data-testid="timeline-today"')


def test_the_customer_sees_the_timeline_and_what_happens_next(subscribe, time_machine):
    time_machine.move_to(TODAY)
    subscription = subscribe(TODAY + timedelta(days=10))
    client = Client()
    assert client.login(email="megan@contoso.example", password="portal-demo")
    second_step(client, User.objects.get(email="megan@contoso.example"))
    page = client.get(f"/customer/subscriptions/{subscription.pk}/").content.decode()
    assert 'data-testid="timeline"' in page and 'data-testid="next-change"' in page
    home = client.get("/customer/").content.decode()
    assert f"/customer/subscriptions/{subscription.pk}/" in home
    assert 'data-testid="next-change"' in home
    # The day after the end date starts the grace period: not "expires" next to the end date.
    assert "Grace period from June 12, 2026 unless renewed (still usable)." in page
    assert "Expires on" not in page


def test_the_csv_export_keeps_numbers_as_numbers(partner, subscribe):
    subscribe(TODAY + timedelta(days=45), sku="A")
    subscribe(TODAY - timedelta(days=45), sku="B")  # disabled
    body = partner.get("/partner/renewals/export.csv").content.decode("utf-8")
    ended, soon = (line.split(",") for line in body.splitlines()[1:3])
    assert soon[5] == "45"  # a number, with no formula guard
    # Issue 16: what the page says for an ended subscription (it said -45 before).
    assert ended[5] == "ended"
    page = partner.get("/partner/renewals/").content.decode()
    assert '<td data-label="Days left">ended</td>' in page


def test_the_empty_list_says_there_is_nothing_yet_or_nothing_matching(partner, subscribe):
    page = partner.get("/partner/renewals/").content.decode()
    assert "No subscription to renew yet." in page and "No subscription matches." not in page
    subscribe(TODAY + timedelta(days=50))
    page = partner.get("/partner/renewals/?window=7").content.decode()
    assert "No subscription matches." in page and "to renew yet" not in page


def test_the_customer_home_table_stacks_on_a_phone(subscribe, time_machine):
    import re

    time_machine.move_to(TODAY)
    subscribe(TODAY + timedelta(days=20))
    client = Client()
    assert client.login(email="megan@contoso.example", password="portal-demo")
    second_step(client, User.objects.get(email="megan@contoso.example"))
    page = client.get("/customer/").content.decode()
    table = page[page.index('data-testid="subscriptions"') - 60 : page.index("</table>")]
    assert 'class="table table-stack' in table and "table-responsive" not in page
    cells = re.findall(r"<td[^>]*>", table)
    assert cells and all("data-label=" in cell for cell in cells)
