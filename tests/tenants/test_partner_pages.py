import pytest

from tests.factories import SubscriptionFactory, TenantFactory


def make_customers(partner, count):
    for _ in range(count):
        tenant = TenantFactory(created_by_partner=partner)
        SubscriptionFactory(tenant=tenant)
        SubscriptionFactory(
            tenant=tenant, product__sku="BUS-PREM", product__name="Business Premium"
        )


def count_queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# Three of every signed-in request (the session, the person, the second factor's device), the
# customers' count and page, their subscriptions, and the partner's standing in the page's
# customers (two: tenants.access.partner_standings); the overview adds its drafts and its team.
@pytest.mark.parametrize("url, expected", [("/partner/", 10), ("/partner/customers/", 8)])
def test_the_page_runs_the_same_queries_for_1_and_200_customers(
    client, partner_admin, northwind, url, expected
):
    client.force_login(partner_admin)
    make_customers(northwind, 1)
    with_one = count_queries(client, url)
    make_customers(northwind, 199)
    with_many = count_queries(client, url)
    assert with_one == with_many == expected


def test_the_customer_list_paginates_and_searches(client, partner_admin, northwind):
    make_customers(northwind, 30)
    TenantFactory(name="Tailspin Toys", domain_prefix="tailspin", created_by_partner=northwind)
    client.force_login(partner_admin)
    first = client.get("/partner/customers/")
    assert len(first.context["page"].object_list) == 25
    assert b"Page 1 of 2" in first.content
    second = client.get("/partner/customers/", {"page": 2})
    assert len(second.context["page"].object_list) == 6
    found = client.get("/partner/customers/", {"q": "tailspin"})
    assert [t.name for t in found.context["page"].object_list] == ["Tailspin Toys"]
    nothing = client.get("/partner/customers/", {"q": "zzz"})
    assert b"No customer matches" in nothing.content
    assert client.get("/partner/customers/", {"page": "abc"}).status_code == 200


def test_partners_see_only_their_own_customers(client, partner_admin, northwind, fabrikam):
    TenantFactory(name="Ours", domain_prefix="ours", created_by_partner=northwind)
    theirs = TenantFactory(name="Theirs", domain_prefix="theirs", created_by_partner=fabrikam)
    client.force_login(partner_admin)
    listing = client.get("/partner/customers/").content
    assert b"Ours" in listing and b"Theirs" not in listing
    assert client.get(f"/partner/customers/{theirs.pk}/").status_code == 404
    assert client.get(f"/partner/customers/{theirs.pk}/created/").status_code == 404


def test_a_partner_of_record_sees_the_customer_too(client, partner_admin, northwind, fabrikam):
    tenant = TenantFactory(name="Shared", domain_prefix="shared", created_by_partner=fabrikam)
    SubscriptionFactory(tenant=tenant, partner_of_record=northwind)
    client.force_login(partner_admin)
    assert b"Shared" in client.get("/partner/customers/").content


def test_the_dashboard_lists_redemptions_in_progress(
    client, partner_admin, northwind, make_keys, redeem
):
    keys = make_keys(2)
    redemption = redeem(partner_admin, northwind, *keys, confirm=False)
    client.force_login(partner_admin)
    response = client.get("/partner/")
    assert b"Redemptions in progress" in response.content
    (draft,) = response.context["drafts"]
    assert draft == redemption
    for key in keys:
        assert f"•••••-•••••-•••••-•••••-{key[-5:]}".encode() in response.content
    assert b"Business Standard" in response.content
    assert b"Entering product keys" in response.content  # the step reached
    assert b"(UTC)" in response.content  # the last change says its time zone
    assert f'href="/partner/redeem/{redemption.pk}/keys/"'.encode() in response.content
    assert f'href="/partner/redeem/{redemption.pk}/cancel/"'.encode() in response.content


def test_the_dashboard_says_when_there_are_no_customers(client, partner_admin):
    client.force_login(partner_admin)
    assert b"You have no customers yet." in client.get("/partner/").content


def test_the_customer_list_searches_admins_sorts_by_end_date_and_counts(
    client, partner_admin, northwind
):
    import datetime

    from portal.models import User
    from tenants.models import TenantUser

    later = TenantFactory(name="Alpha", domain_prefix="alpha", created_by_partner=northwind)
    SubscriptionFactory(tenant=later, end_date=datetime.date(2027, 6, 30))
    sooner = TenantFactory(name="Beta", domain_prefix="beta", created_by_partner=northwind)
    SubscriptionFactory(tenant=sooner, end_date=datetime.date(2027, 1, 31))
    account = User.objects.create_user("megan@beta.example")
    TenantUser.objects.create(
        tenant=sooner, user=account, first_name="Megan", last_name="Bowen",
        email=account.email, is_admin=True,
    )  # fmt: skip
    client.force_login(partner_admin)
    by_name = client.get("/partner/customers/")
    assert [t.name for t in by_name.context["page"].object_list] == ["Alpha", "Beta"]
    assert b"2 customers" in by_name.content
    by_end = client.get("/partner/customers/", {"sort": "end"})
    assert [t.name for t in by_end.context["page"].object_list] == ["Beta", "Alpha"]
    for search in ("megan bowen", "megan@beta", "Bowen"):
        found = client.get("/partner/customers/", {"q": search})
        assert [t.name for t in found.context["page"].object_list] == ["Beta"], search
        assert b"1 customer" in found.content
    assert client.get("/partner/customers/", {"sort": "nonsense"}).status_code == 200


def test_the_customer_page_shows_seats_used_and_bought(client, partner_admin, northwind):
    from portal.models import User
    from tenants.models import License, TenantUser

    tenant = TenantFactory(name="Contoso", domain_prefix="contoso", created_by_partner=northwind)
    subscription = SubscriptionFactory(tenant=tenant, seats=5)
    account = User.objects.create_user("megan@contoso.example")
    admin = TenantUser.objects.create(
        tenant=tenant, user=account, first_name="Megan", last_name="Bowen",
        email=account.email, is_admin=True,
    )  # fmt: skip
    License.objects.create(subscription=subscription, tenant_user=admin)
    client.force_login(partner_admin)
    page = client.get(f"/partner/customers/{tenant.pk}/")
    assert b"1 of 5 used" in page.content


def test_the_404_page_says_what_happened_and_where_to_go(client, partner_admin):
    client.force_login(partner_admin)
    response = client.get("/partner/customers/999999/")
    assert response.status_code == 404
    assert b"There is nothing at this address" in response.content
    assert b'href="/partner/customers/"' in response.content


def test_the_partner_sees_the_customers_users_and_licenses_read_only(
    client, partner_admin, northwind
):
    from portal.models import User
    from tenants.models import License, TenantUser

    tenant = TenantFactory(name="Contoso", domain_prefix="contoso", created_by_partner=northwind)
    subscription = SubscriptionFactory(tenant=tenant, seats=5)
    account = User.objects.create_user("megan@contoso.example")
    admin = TenantUser.objects.create(
        tenant=tenant, user=account, first_name="Megan", last_name="Bowen",
        email=account.email, is_admin=True, username="megan",
    )  # fmt: skip
    License.objects.create(subscription=subscription, tenant_user=admin)
    client.force_login(partner_admin)
    page = client.get(f"/partner/customers/{tenant.pk}/")
    users = page.content.decode().split('data-testid="users"')[1]
    assert "megan@contoso.cloudsuite.example" in users
    assert "Business Standard" in users
    assert "/customer/users/" not in users  # no link to the customer's own pages
