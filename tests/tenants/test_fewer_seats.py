"""A renewal whose keys are for fewer seats than the subscription has (issue 16, 1): the preview
warns, names who loses a license and when, offers to add keys, and asks to confirm; applying
removes the licenses beyond the new seats (users who are not admins first, the most recently
assigned first) before the seats go down, audits each and tells the customer's admins."""

import datetime

import pytest
import time_machine
from django.db import IntegrityError, transaction
from post_office.models import Email

from keys.models import ProductKey, Redemption
from portal.models import AuditEvent
from tenants.models import License, TenantUser
from tests.helpers import keys_form, standard

T0 = datetime.datetime(2027, 2, 1, 9, tzinfo=datetime.UTC)


@pytest.fixture
def customer(make_contoso):
    """Contoso with 5 seats and 4 licenses: Megan (admin, the first), Alex, Lynne, then Diego
    (admin, the last assigned)."""
    with time_machine.travel("2026-11-27 09:00:00Z", tick=False):
        tenant = make_contoso(seats=5)
    subscription = standard(tenant)
    for minutes, (first, last, admin) in enumerate(
        [("Alex", "Wilber", False), ("Lynne", "Robbins", False), ("Diego", "Siciliani", True)],
        start=1,
    ):
        person = TenantUser.objects.create(
            tenant=tenant,
            first_name=first,
            last_name=last,
            email=f"{first.lower()}@contoso.example",
            is_admin=admin,
        )
        License.objects.create(
            subscription=subscription,
            tenant_user=person,
            assigned_at=T0 + datetime.timedelta(minutes=minutes),
        )
    return tenant


def renew(client, tenant, keys):
    """The renew page's key entry, the review, "Done adding product keys": the redemption."""
    client.post(f"/partner/customers/{tenant.pk}/renew/", keys_form(*keys))
    redemption = Redemption.objects.latest("id")
    done = client.post(f"/partner/redeem/{redemption.pk}/review/")
    assert done["Location"] == f"/partner/redeem/{redemption.pk}/apply/"
    return redemption


def holders(tenant) -> list[str]:
    return sorted(
        License.objects.filter(subscription__tenant=tenant).values_list(
            "tenant_user__first_name", flat=True
        )
    )


def test_it_warns_and_names_who_loses_a_license_and_when(
    client, partner_admin, customer, make_keys
):
    client.force_login(partner_admin)
    redemption = renew(client, customer, make_keys(1, seats=2))
    page = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    html = page.content.decode()
    assert 'data-testid="fewer-seats"' in html
    assert "the subscription goes from 5 seats to 2, and 4 licenses are assigned" in html
    assert "When you apply these keys, today, 2 users lose their Business Standard license" in html
    (row,) = page.context["rows"]
    # Not admins first, the most recently assigned first: Lynne, then Alex.
    assert [lic.tenant_user.first_name for lic in row.licenses_lost] == ["Lynne", "Alex"]
    assert (
        '<span class="fw-semibold">Lynne Robbins</span> '
        '<span class="d-inline-block small text-break">lynne@contoso.cloudsuite.example</span>'
    ) in html
    assert "Megan" not in html.split('data-testid="licenses-lost"')[1].split("</ul>")[0]
    assert "add keys for 3 more seats" in html
    assert f'href="/partner/redeem/{redemption.pk}/keys/" class="alert-link"' in html
    assert "I understand that 2 users lose their license." in html
    assert "btn btn-danger" in html


def test_it_refuses_to_apply_without_the_confirmation(client, partner_admin, customer, make_keys):
    client.force_login(partner_admin)
    redemption = renew(client, customer, make_keys(1, seats=2))
    page = client.post(f"/partner/redeem/{redemption.pk}/apply/")
    assert page.status_code == 200
    assert b"Confirm that 2 users lose their license before applying these keys." in page.content
    assert standard(customer).seats == 5
    assert holders(customer) == ["Alex", "Diego", "Lynne", "Megan"]
    assert ProductKey.objects.filter(state="reserved").count() == 1
    assert not AuditEvent.objects.filter(action="license.unassigned").exists()


def confirmation(page) -> dict:
    (row,) = page.context["rows"]
    return {
        "fewer_seats_confirmed": "1",
        "licenses_removed": [str(lic.pk) for lic in row.licenses_lost],
    }


def test_it_removes_the_licenses_named_then_lowers_the_seats(
    client, partner_admin, customer, make_keys
):
    client.force_login(partner_admin)
    redemption = renew(client, customer, make_keys(1, seats=2))
    page = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    Email.objects.all().delete()
    response = client.post(f"/partner/redeem/{redemption.pk}/apply/", confirmation(page))
    assert response["Location"] == f"/partner/customers/{customer.pk}/"
    subscription = standard(customer)
    assert subscription.seats == 2
    assert holders(customer) == ["Diego", "Megan"]
    events = AuditEvent.objects.filter(action="license.unassigned").order_by("id")
    assert [e.details["username"] for e in events] == ["lynne", "alex"]
    assert {e.details["reason"] for e in events} == {"renewal_with_fewer_seats"}
    # The customer's admins read who lost a license (Megan in French, Diego in the tenant's).
    megan = Email.objects.get(to=["megan@contoso.example"])
    assert "Lynne Robbins (lynne@contoso.cloudsuite.example)" in megan.message
    assert "Alex Wilber" in megan.html_message
    assert Email.objects.filter(to=["diego@contoso.example"]).exists()


def test_admins_lose_theirs_last(client, partner_admin, customer, make_keys):
    client.force_login(partner_admin)
    redemption = renew(client, customer, make_keys(1, seats=1))
    page = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    (row,) = page.context["rows"]
    assert [lic.tenant_user.first_name for lic in row.licenses_lost] == ["Lynne", "Alex", "Diego"]
    client.post(f"/partner/redeem/{redemption.pk}/apply/", confirmation(page))
    assert holders(customer) == ["Megan"]
    assert standard(customer).seats == 1


def test_it_refuses_when_the_licenses_changed_since_the_preview(
    client, partner_admin, customer, make_keys
):
    client.force_login(partner_admin)
    redemption = renew(client, customer, make_keys(1, seats=2))
    page = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    posted = confirmation(page)
    # Meanwhile the customer's admin unassigns Lynne: now only Alex would go.
    License.objects.filter(tenant_user__first_name="Lynne").delete()
    again = client.post(f"/partner/redeem/{redemption.pk}/apply/", posted)
    assert b"The licenses assigned changed since you looked" in again.content
    assert standard(customer).seats == 5
    assert holders(customer) == ["Alex", "Diego", "Megan"]
    (row,) = again.context["rows"]
    assert [lic.tenant_user.first_name for lic in row.licenses_lost] == ["Alex"]


def test_fewer_seats_nobody_loses_still_asks(client, partner_admin, customer, make_keys):
    License.objects.exclude(tenant_user__first_name="Megan").delete()
    client.force_login(partner_admin)
    redemption = renew(client, customer, make_keys(1, seats=2))
    page = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    assert b"Nobody loses their license." in page.content
    assert b"I understand that the customer will have fewer seats." in page.content
    refused = client.post(f"/partner/redeem/{redemption.pk}/apply/")
    assert b"Confirm that the customer has fewer seats" in refused.content
    client.post(f"/partner/redeem/{redemption.pk}/apply/", {"fewer_seats_confirmed": "1"})
    assert standard(customer).seats == 2
    assert holders(customer) == ["Megan"]


def test_the_same_seats_ask_nothing(client, partner_admin, customer, make_keys):
    client.force_login(partner_admin)
    redemption = renew(client, customer, make_keys(1, seats=5))
    page = client.get(f"/partner/redeem/{redemption.pk}/apply/")
    assert b'data-testid="fewer-seats"' not in page.content
    client.post(f"/partner/redeem/{redemption.pk}/apply/")
    assert standard(customer).seats == 5
    assert len(holders(customer)) == 4


@pytest.mark.django_db(transaction=True)
def test_the_seat_trigger_refuses_fewer_seats_than_licenses(customer):
    """The backstop the service orders its writes for: seats never go below the licenses."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the seat trigger is PostgreSQL's")
    subscription = standard(customer)
    with pytest.raises(IntegrityError, match="licenses assigned"), transaction.atomic():
        type(subscription).objects.filter(pk=subscription.pk).update(seats=2)
    assert standard(customer).seats == 5


def test_digits_that_int_refuses_are_ignored_not_a_500(client, partner_admin, customer, make_keys):
    """ "²".isdigit() is True but int("²") fails: the form's numbers are ASCII digits only."""
    client.force_login(partner_admin)
    redemption = renew(client, customer, make_keys(1, seats=2))
    response = client.post(
        f"/partner/redeem/{redemption.pk}/apply/",
        {"fewer_seats_confirmed": "1", "licenses_removed": ["²", "٣"]},
    )
    assert response.status_code == 200  # the preview again: the confirmation does not match
    offer_page = client.get("/partner/delegated-admin/offers/new/", {"tenant": "²"})
    assert offer_page.status_code == 200
