"""Partner and customer pages, and every page that echoes a product key, are never stored."""

import pytest

from tests.portal.urlconf import make_customer_admin, sample_paths

PAGES = sample_paths("partner/") + sample_paths("customer/")


def test_the_walk_finds_the_partner_and_customer_pages():
    assert {"/partner/", "/partner/keys/check/", "/customer/"} <= set(PAGES)


@pytest.mark.parametrize("path", PAGES)
def test_every_partner_and_customer_page_says_no_store(client, partner_admin, northwind, path):
    people = [None, partner_admin, make_customer_admin(northwind)]
    for user in people:
        if user is not None:
            client.force_login(user)
        for response in (client.get(path), client.post(path)):
            assert "no-store" in response.get("Cache-Control", ""), (user, path, response)


def test_a_page_that_shows_a_customer_says_no_store(client, partner_admin, northwind):
    customer = make_customer_admin(northwind)
    client.force_login(partner_admin)
    page = client.get(f"/partner/customers/{customer.tenant_user.tenant_id}/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    client.force_login(customer)
    assert "no-store" in client.get("/customer/")["Cache-Control"]


def test_the_admins_key_look_up_says_no_store(client, staff):
    client.force_login(staff)
    url = "/admin/keys/productkey/lookup/"
    assert "no-store" in client.get(url)["Cache-Control"]
    # The answer to a miss shows the typed key again in the form.
    response = client.post(url, {"key": "BCDFG-HJKMP-QRTVW-XY234-6789J"})
    assert b"BCDFG-HJKMP-QRTVW-XY234-6789J" in response.content
    assert "no-store" in response["Cache-Control"]
