"""Resume continues where the partner left off (issue: usable by everyone, item 1)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keys.codec import generate_key
from keys.models import ProductKey, Redemption
from keys.services import (
    redemption_cancel,
    redemption_key_remove,
    redemption_keys_add,
    redemption_start,
)
from portal.models import AuditEvent
from tests.helpers import contoso_details, keys_form

# Step 2 half filled in.
STEP2 = contoso_details(admin_last_name="", admin_email="", admin_phone="", domain_prefix="")


@pytest.mark.parametrize(
    ("furthest", "confirmed", "holds_keys", "expected"),
    [
        (Redemption.Step.KEYS, False, True, Redemption.Step.KEYS),
        (Redemption.Step.REVIEW, False, True, Redemption.Step.REVIEW),
        (Redemption.Step.CUSTOMER, False, True, Redemption.Step.REVIEW),  # keys changed
        (Redemption.Step.REVIEW, True, True, Redemption.Step.GETTING_STARTED),
        (Redemption.Step.GETTING_STARTED, True, True, Redemption.Step.GETTING_STARTED),
        (Redemption.Step.CUSTOMER, True, True, Redemption.Step.CUSTOMER),
        (Redemption.Step.CUSTOMER, True, False, Redemption.Step.KEYS),  # reservations ran out
    ],
)
def test_resume_opens_the_furthest_step_that_still_holds(furthest, confirmed, holds_keys, expected):
    from django.utils import timezone

    redemption = Redemption(
        pk=7, furthest_step=furthest, keys_confirmed_at=timezone.now() if confirmed else None
    )
    assert redemption.resume_step(holds_keys=holds_keys) == expected


def test_start_alone_leaves_no_draft(client, partner_admin):
    client.force_login(partner_admin)
    response = client.post("/partner/redeem/", {"understood": "on"})
    assert response["Location"] == "/partner/redeem/new/"
    assert client.get("/partner/redeem/new/").status_code == 200
    assert Redemption.objects.count() == 0


def test_the_key_entry_needs_the_acknowledgement_first(client, partner_admin):
    client.force_login(partner_admin)
    assert client.get("/partner/redeem/new/")["Location"] == "/partner/redeem/"


def test_the_first_keys_create_the_redemption(client, partner_admin, make_keys):
    keys = make_keys(2)
    client.force_login(partner_admin)
    client.post("/partner/redeem/", {"understood": "on"})
    submission = uuid.uuid4()
    response = client.post("/partner/redeem/new/", keys_form(*keys, submission=submission))
    redemption = Redemption.objects.get()
    assert response["Location"] == f"/partner/redeem/{redemption.pk}/review/"
    assert redemption.lines.count() == 2
    # The same form posted again gives the same redemption, not a second one.
    again = client.post("/partner/redeem/new/", keys_form(*keys, submission=submission))
    assert again["Location"] == f"/partner/redeem/{redemption.pk}/review/"
    assert Redemption.objects.count() == 1


def test_bad_first_keys_create_nothing(client, partner_admin, make_keys):
    good = make_keys(1)[0]
    client.force_login(partner_admin)
    client.post("/partner/redeem/", {"understood": "on"})
    response = client.post("/partner/redeem/new/", keys_form(good, generate_key()))
    assert response.status_code == 200
    assert b"We could not find this product key" in response.content
    assert Redemption.objects.count() == 0
    assert ProductKey.objects.get().state == "available"


def test_a_key_lost_to_another_redemption_creates_nothing(
    partner_admin, partner_agent, northwind, make_keys, redeem
):
    key = make_keys(1)[0]
    redeem(partner_agent, northwind, key, confirm=False)
    redemption, errors = redemption_start(
        user=partner_admin, partner=northwind, raw_keys=[key], client_address=None
    )
    assert redemption is None
    assert errors == {0: "This product key has already been used."}
    assert Redemption.objects.filter(created_by=partner_admin).count() == 0
    assert AuditEvent.objects.filter(action="redemption.started").count() == 1  # the agent's


def test_each_page_records_the_furthest_step(client, partner_admin, northwind, make_keys, redeem):
    redemption = redeem(partner_admin, northwind, *make_keys(1), confirm=False)
    client.force_login(partner_admin)

    def resume_link():
        page = client.get("/partner/")
        (draft,) = page.context["drafts"]
        return draft.resume_url(holds_keys=bool(draft.active_lines))

    assert resume_link() == f"/partner/redeem/{redemption.pk}/keys/"
    client.get(f"/partner/redeem/{redemption.pk}/review/")
    assert resume_link() == f"/partner/redeem/{redemption.pk}/review/"
    client.post(f"/partner/redeem/{redemption.pk}/review/")
    assert resume_link() == f"/partner/redeem/{redemption.pk}/getting-started/"
    client.get(f"/partner/redeem/{redemption.pk}/customer/")
    assert resume_link() == f"/partner/redeem/{redemption.pk}/customer/"
    # A new key asks for a new review: Resume goes back to it.
    redemption_keys_add(
        redemption=redemption, user=partner_admin, raw_keys=make_keys(1), client_address=None
    )
    assert resume_link() == f"/partner/redeem/{redemption.pk}/review/"


def test_what_was_typed_in_step_2_is_kept_with_the_draft(
    client, partner_admin, northwind, make_keys, redeem
):
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    client.force_login(partner_admin)
    kept = client.post(f"/partner/redeem/{redemption.pk}/customer/keep/", STEP2)
    assert kept.json() == {"kept": True}
    redemption.refresh_from_db()
    assert redemption.customer_details["name"] == "Contoso"
    # Another browser (a new session) finds the fields filled.
    other = client.__class__()
    other.force_login(partner_admin)
    page = other.get(f"/partner/redeem/{redemption.pk}/customer/")
    form = page.context["form"]
    assert form["name"].value() == "Contoso"
    assert form["admin_first_name"].value() == "Megan"
    assert form["country"].value() == "FR"


def test_a_submitted_step_2_is_kept_even_when_invalid(
    client, partner_admin, northwind, make_keys, redeem, countries
):
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    client.force_login(partner_admin)
    response = client.post(f"/partner/redeem/{redemption.pk}/customer/", STEP2)
    assert response.status_code == 200
    redemption.refresh_from_db()
    assert redemption.customer_details["admin_first_name"] == "Megan"


def test_nobody_else_keeps_step_2_in_my_draft(client, partner_admin, partner_agent, northwind,
                                              make_keys, redeem):  # fmt: skip
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    client.force_login(partner_agent)
    assert client.post(f"/partner/redeem/{redemption.pk}/customer/keep/", STEP2).status_code == 404
    redemption.refresh_from_db()
    assert redemption.customer_details == {}


def test_completing_or_discarding_forgets_what_was_typed(
    partner_admin, northwind, make_keys, redeem, tenant_details, countries
):
    from keys.services import redemption_details_keep
    from tenants.services import tenant_create

    done = redeem(partner_admin, northwind, *make_keys(1))
    redemption_details_keep(redemption=done, details={"name": "Contoso"})
    tenant_create(redemption=done, user=partner_admin, details=tenant_details())
    dropped = redeem(partner_admin, northwind, *make_keys(1))
    redemption_details_keep(redemption=dropped, details={"name": "Fabrikam"})
    redemption_cancel(redemption=dropped, user=partner_admin)
    for redemption in (done, dropped):
        redemption.refresh_from_db()
        assert redemption.customer_details == {}
    assert not redemption_details_keep(redemption=done, details={"name": "late"})


def test_discard_asks_first_then_frees_the_keys(
    client, partner_admin, northwind, make_keys, redeem
):
    keys = make_keys(2)
    redemption = redeem(partner_admin, northwind, *keys, confirm=False)
    client.force_login(partner_admin)
    page = client.get(f"/partner/redeem/{redemption.pk}/cancel/")
    assert b"Discard this redemption?" in page.content
    assert keys[0][-5:].encode() in page.content
    redemption.refresh_from_db()
    assert redemption.is_draft  # showing the question changed nothing
    response = client.post(f"/partner/redeem/{redemption.pk}/cancel/")
    assert response["Location"] == "/partner/"
    assert set(ProductKey.objects.values_list("state", flat=True)) == {"available"}


def test_a_draft_whose_keys_were_all_removed_resumes_at_the_keys(
    client, partner_admin, northwind, make_keys, redeem
):
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    redemption_key_remove(
        redemption=redemption, user=partner_admin, line_id=redemption.lines.get().pk
    )
    client.force_login(partner_admin)
    page = client.get("/partner/")
    assert f'href="/partner/redeem/{redemption.pk}/keys/"'.encode() in page.content


def test_the_draft_list_costs_the_same_for_1_and_5_drafts(
    client, partner_admin, northwind, make_keys, redeem
):
    client.force_login(partner_admin)
    redeem(partner_admin, northwind, *make_keys(2), confirm=False)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/partner/").status_code == 200
        return len(captured)

    with_one = queries()
    for _ in range(4):
        redeem(partner_admin, northwind, *make_keys(3), confirm=False)
    assert queries() == with_one
