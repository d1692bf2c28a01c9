"""Product keys for an existing customer: add licenses or renew, with a preview (issue 9.1)."""

import datetime
import re

import pytest
import time_machine
from post_office.models import Email

from keys.codec import format_key
from keys.models import ProductKey, Redemption
from portal.models import AuditEvent
from tenants.models import RedemptionTarget, Subscription, SubscriptionKey
from tests.helpers import keys_form, standard


@pytest.fixture
def customer(make_contoso):
    """Contoso, created on 2026-11-27 from one Business Standard key of 5 seats."""
    with time_machine.travel("2026-11-27 09:00:00Z", tick=False):
        return make_contoso(seats=5)


def start(client, tenant, intent, *keys):
    """The key entry of the customer's page, then the review: the redemption's pk."""
    url = f"/partner/customers/{tenant.pk}/{'renew' if intent == 'renew' else 'add-licenses'}/"
    page = client.get(url)
    assert b"contoso.cloudsuite.example" in page.content  # the customer, named in full
    response = client.post(url, keys_form(*keys))
    redemption = Redemption.objects.latest("id")
    assert response["Location"] == f"/partner/redeem/{redemption.pk}/review/"
    page = client.get(f"/partner/redeem/{redemption.pk}/review/")
    assert b"contoso.cloudsuite.example" in page.content
    # "Done adding product keys" goes straight to what changes: no "Getting started" page.
    done = client.post(f"/partner/redeem/{redemption.pk}/review/")
    assert done["Location"] == f"/partner/redeem/{redemption.pk}/apply/"
    return redemption


def test_adding_licenses_shows_before_and_after_then_applies(
    client, partner_admin, customer, make_keys
):
    with time_machine.travel("2027-02-01 10:00:00Z", tick=False):
        client.force_login(partner_admin)
        redemption = start(client, customer, "add", *make_keys(2, seats=3))
        assert redemption.target.intent == RedemptionTarget.Intent.ADD_LICENSES
        preview = client.get(f"/partner/redeem/{redemption.pk}/apply/")
        (row,) = preview.context["rows"]
        assert (row.before.seats, row.after.seats) == (5, 11)
        assert row.before.end_date == row.after.end_date == datetime.date(2027, 11, 26)
        assert b">Apply product keys</button>" in preview.content
        assert b"contoso.cloudsuite.example" in preview.content
        Email.objects.all().delete()
        response = client.post(f"/partner/redeem/{redemption.pk}/apply/")
    assert response["Location"] == f"/partner/customers/{customer.pk}/"
    subscription = standard(customer)
    assert (subscription.seats, subscription.end_date) == (11, datetime.date(2027, 11, 26))
    assert SubscriptionKey.objects.filter(kind="added", subscription=subscription).count() == 2
    assert ProductKey.objects.filter(state="redeemed").count() == 3
    assert AuditEvent.objects.filter(action="subscription.licenses_added").count() == 1
    assert sorted(e.to[0] for e in Email.objects.all()) == [
        "megan@contoso.example",
        "partner@northwind.example",
    ]
    # Applying again (a double submit) changes nothing more.
    again = client.post(f"/partner/redeem/{redemption.pk}/apply/")
    assert again["Location"] == f"/partner/customers/{customer.pk}/"
    assert standard(customer).seats == 11


def test_a_product_the_customer_lacks_starts_a_new_subscription(
    client, partner_admin, customer, make_keys
):
    with time_machine.travel("2027-02-01 10:00:00Z", tick=False):
        client.force_login(partner_admin)
        redemption = start(client, customer, "add", *make_keys(1, sku="BUS-PREM", seats=2))
        client.post(f"/partner/redeem/{redemption.pk}/apply/")
    premium = Subscription.objects.get(tenant=customer, product__sku="BUS-PREM")
    assert (premium.seats, premium.start_date, premium.end_date) == (
        2,
        datetime.date(2027, 2, 1),
        datetime.date(2028, 1, 31),
    )


def test_a_key_above_the_maximum_is_refused_with_the_maximum(
    client, partner_admin, customer, make_keys, products
):
    products["BUS-STD"].max_seats = 10
    products["BUS-STD"].save()
    client.force_login(partner_admin)
    redemption = start(client, customer, "add", *make_keys(1, seats=6))
    preview = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    assert b"allows at most 10 seats in one subscription; these keys would make 11" in (
        preview.content
    )
    assert b">Apply product keys</button>" not in preview.content
    response = client.post(f"/partner/redeem/{redemption.pk}/apply/")
    assert b"Nothing was applied" in response.content
    assert standard(customer).seats == 5
    assert ProductKey.objects.filter(state="reserved").count() == 1


def test_renewing_extends_from_the_end_date(client, partner_admin, customer, make_keys):
    with time_machine.travel("2027-10-01 10:00:00Z", tick=False):
        client.force_login(partner_admin)
        redemption = start(client, customer, "renew", *make_keys(1, seats=5))
        client.post(f"/partner/redeem/{redemption.pk}/apply/")
    subscription = standard(customer)
    assert subscription.end_date == datetime.date(2028, 11, 26)
    assert SubscriptionKey.objects.filter(kind="renewed").count() == 1
    assert AuditEvent.objects.filter(action="subscription.renewed").count() == 1


def test_renewing_an_expired_subscription_counts_from_today_and_reactivates(
    client, partner_admin, customer, make_keys
):
    Subscription.objects.filter(tenant=customer).update(state="disabled")
    with time_machine.travel("2028-01-10 10:00:00Z", tick=False):
        client.force_login(partner_admin)
        redemption = start(client, customer, "renew", *make_keys(1, seats=5))
        preview = client.get(f"/partner/redeem/{redemption.pk}/apply/")
        assert b"active again from today" in preview.content
        client.post(f"/partner/redeem/{redemption.pk}/apply/")
    subscription = standard(customer)
    assert (subscription.end_date, subscription.state) == (datetime.date(2029, 1, 9), "active")


def test_renewing_says_what_changes_when_the_seats_differ(
    client, partner_admin, customer, make_keys
):
    client.force_login(partner_admin)
    redemption = start(client, customer, "renew", *make_keys(1, seats=8))
    preview = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    assert b"the subscription goes from 5 to 8" in preview.content


def test_renewing_a_product_the_customer_lacks_says_to_add_licenses(
    client, partner_admin, customer, make_keys
):
    client.force_login(partner_admin)
    redemption = start(client, customer, "renew", *make_keys(1, sku="BUS-PREM"))
    page = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    assert b"no Business Premium subscription to renew" in page.content


def test_other_partners_cannot_add_keys_to_the_customer(
    client, other_partner_admin, customer, make_keys
):
    client.force_login(other_partner_admin)
    assert client.get(f"/partner/customers/{customer.pk}/add-licenses/").status_code == 404
    response = client.post(
        f"/partner/customers/{customer.pk}/renew/", keys_form(format_key(make_keys(1)[0]))
    )
    assert response.status_code == 404
    assert not Redemption.objects.filter(created_by=other_partner_admin).exists()


def test_a_colleague_cannot_apply_my_keys(
    client, partner_admin, partner_agent, customer, make_keys
):
    client.force_login(partner_admin)
    redemption = start(client, customer, "add", *make_keys(1))
    client.force_login(partner_agent)
    assert client.post(f"/partner/redeem/{redemption.pk}/apply/").status_code == 404
    assert standard(customer).seats == 5


def test_step_2_of_a_customer_redemption_is_the_preview(client, partner_admin, customer, make_keys):
    client.force_login(partner_admin)
    redemption = start(client, customer, "add", *make_keys(1))
    response = client.get(f"/partner/redeem/{redemption.pk}/customer/")
    assert response["Location"] == f"/partner/redeem/{redemption.pk}/apply/"


def test_renewing_a_directly_billed_subscription_makes_it_prepaid_again(
    client, partner_admin, customer, make_keys
):
    Subscription.objects.filter(tenant=customer).update(
        billed_directly=True, renewal_notice_on=None
    )
    with time_machine.travel("2027-10-01 10:00:00Z", tick=False):
        client.force_login(partner_admin)
        redemption = start(client, customer, "renew", *make_keys(1, seats=5))
        preview = client.get(f"/partner/redeem/{redemption.pk}/apply/").content.decode()
        # It renews on its own on its date: "renews on", not "until" (issue 16).
        assert re.search(r"\d+ seats? · renews on ", preview)
        client.post(f"/partner/redeem/{redemption.pk}/apply/")
    subscription = standard(customer)
    assert subscription.end_date == datetime.date(2028, 11, 26)
    assert not subscription.billed_directly
    # Back under the renewal notices.
    assert subscription.renewal_notice_on == datetime.date(2027, 10, 1)


def test_a_customers_keys_have_no_getting_started_page(client, partner_admin, customer, make_keys):
    """Keys → review → what changes → apply: one page fewer than a new customer's path."""
    client.force_login(partner_admin)
    redemption = start(client, customer, "add", *make_keys(1))
    review = client.get(f"/partner/redeem/{redemption.pk}/review/")
    assert b"Step 2" not in review.content  # no two-step path for an existing customer
    # An old link (or a bookmark) to "Getting started" goes to what changes.
    old = client.get(f"/partner/redeem/{redemption.pk}/getting-started/")
    assert old["Location"] == f"/partner/redeem/{redemption.pk}/apply/"
    # Resume, before the preview was seen, opens it too.
    Redemption.objects.filter(pk=redemption.pk).update(furthest_step=Redemption.Step.REVIEW)
    dashboard = client.get("/partner/")
    assert f'href="/partner/redeem/{redemption.pk}/apply/"'.encode() in dashboard.content
