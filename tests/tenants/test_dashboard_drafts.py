"""Redemptions in progress on the partner overview are named by what the partner typed (issue
16, 2): the organization of step 2, else the customer the keys are for, else the first
product; and the overview runs the same queries however many there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keys.models import Redemption
from tenants.models import RedemptionTarget


@pytest.fixture
def drafts(partner_admin, northwind, contoso, make_keys, redeem):
    """Three drafts: step 2 half typed, keys for Contoso, keys only."""

    def make(start: int = 0) -> list[Redemption]:
        typed = redeem(partner_admin, northwind, *make_keys(1))
        Redemption.objects.filter(pk=typed.pk).update(
            customer_details={"name": f"Fourth Coffee {start}", "country": "FR"}
        )
        targeted = redeem(partner_admin, northwind, *make_keys(1))
        RedemptionTarget.objects.create(
            redemption=targeted, tenant=contoso, intent=RedemptionTarget.Intent.ADD_LICENSES
        )
        keys_only = redeem(partner_admin, northwind, *make_keys(1, sku="BUS-PREM"), confirm=False)
        return [typed, targeted, keys_only]

    return make


def test_it_names_drafts_by_what_the_partner_typed(client, partner_admin, drafts):
    typed, targeted, keys_only = drafts()
    client.force_login(partner_admin)
    page = client.get("/partner/")
    names = page.content.decode().split('data-testid="draft-name">')[1:]
    assert sorted(name.split("<")[0] for name in names) == [
        "Business Premium",
        "Contoso",
        "Fourth Coffee 0",
    ]
    for draft in (typed, targeted, keys_only):
        assert f">Redemption {draft.pk}<" not in page.content.decode()


def test_a_draft_without_keys_or_details_keeps_its_number(client, partner_admin, northwind):
    draft = Redemption.objects.create(partner=northwind, created_by=partner_admin)
    client.force_login(partner_admin)
    assert (
        f'data-testid="draft-name">Redemption {draft.pk}<'
        in client.get("/partner/").content.decode()
    )


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/partner/", "/partner/redeem/"])
def test_the_drafts_cost_the_same_queries_however_many(client, partner_admin, drafts, url):
    client.force_login(partner_admin)
    drafts(0)
    few = _count(client, url)
    drafts(1)
    assert _count(client, url) == few


def test_a_customers_confirmed_keys_wait_on_what_changes(client, partner_admin, drafts):
    _typed, targeted, _keys_only = drafts()
    client.force_login(partner_admin)
    item = (
        client.get("/partner/").content.decode().split('data-testid="draft-name">Contoso</span>')[1]
    )
    assert " ".join(item.split("</p>")[0].split()) == "· Check what changes"
    assert f'href="/partner/redeem/{targeted.pk}/apply/"' in item
