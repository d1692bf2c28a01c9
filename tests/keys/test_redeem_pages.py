import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from keys.codec import format_key, generate_key
from keys.models import ProductKey, Redemption
from keys.services import key_digest
from portal.models import Partner, PartnerMembership, User
from tests.helpers import keys_form


def start(client):
    """Start, then a draft of the signed-in user to work on (as if its keys had been removed)."""
    response = client.post("/partner/redeem/", {"understood": "on"})
    assert response["Location"] == "/partner/redeem/new/"
    user = response.wsgi_request.user
    return Redemption.objects.create(partner=user.partner_membership.partner, created_by=user)


def test_start_needs_the_acknowledgement(client, partner_admin):
    client.force_login(partner_admin)
    response = client.post("/partner/redeem/", {})
    assert response.status_code == 200
    assert b"Tick the box to confirm" in response.content
    assert Redemption.objects.count() == 0


def test_the_seed_steps_in_order(client, partner_admin, make_keys):
    keys = make_keys(2, seats=3)
    client.force_login(partner_admin)
    page = client.get("/partner/redeem/")
    assert b"I understand. I&#x27;m the most appropriate person" in page.content
    redemption = start(client)
    response = client.post(f"/partner/redeem/{redemption.pk}/keys/", keys_form(*keys))
    assert response["Location"] == f"/partner/redeem/{redemption.pk}/review/"
    review = client.get(response["Location"])
    assert b"Does everything look right?" in review.content
    assert review.content.count(b"Business Standard") == 2
    assert b"12 months" in review.content
    done = client.post(f"/partner/redeem/{redemption.pk}/review/")
    assert done["Location"] == f"/partner/redeem/{redemption.pk}/getting-started/"
    getting_started = client.get(done["Location"])
    assert b"Getting started" in getting_started.content
    assert f'href="/partner/redeem/{redemption.pk}/customer/"'.encode() in getting_started.content


def test_a_bad_line_keeps_every_typed_key_and_says_where(client, partner_admin, make_keys):
    good = make_keys(1)[0]
    client.force_login(partner_admin)
    redemption = start(client)
    response = client.post(
        f"/partner/redeem/{redemption.pk}/keys/", keys_form(good, "BCDFG-HJKMP-QRTVW-XY234-6789K")
    )
    assert response.status_code == 200
    forms = response.context["formset"].forms
    assert forms[0].errors == {}
    assert "typing mistake" in forms[1].errors["key"][0]
    assert forms[0]["key"].value() == good
    assert forms[1]["key"].value() == "BCDFG-HJKMP-QRTVW-XY234-6789K"
    assert ProductKey.objects.get(digest=key_digest(good)).state == "available"


def test_add_another_without_javascript_keeps_what_was_typed(client, partner_admin):
    client.force_login(partner_admin)
    redemption = start(client)
    response = client.post(
        f"/partner/redeem/{redemption.pk}/keys/", keys_form("BCDFG-HJKMP", action="add")
    )
    values = [f["key"].value() for f in response.context["formset"].forms]
    assert values == ["BCDFG-HJKMP", ""]
    assert b"Add another product key" in response.content


def test_a_pasted_list_in_one_box_becomes_one_row_per_key(client, partner_admin, make_keys):
    keys = make_keys(3)
    client.force_login(partner_admin)
    redemption = start(client)
    pasted = f"{format_key(keys[0])}\n{format_key(keys[1])}, {keys[2]}"
    response = client.post(f"/partner/redeem/{redemption.pk}/keys/", keys_form(pasted))
    assert response.status_code == 302
    assert redemption.lines.count() == 3


def test_a_double_submitted_form_lands_on_the_review_both_times(client, partner_admin, make_keys):
    key = make_keys(1)[0]
    client.force_login(partner_admin)
    redemption = start(client)
    data = keys_form(key, submission=uuid.uuid4())
    first = client.post(f"/partner/redeem/{redemption.pk}/keys/", data)
    second = client.post(f"/partner/redeem/{redemption.pk}/keys/", data)
    assert first["Location"] == second["Location"] == f"/partner/redeem/{redemption.pk}/review/"
    assert redemption.lines.count() == 1


def test_next_with_nothing_typed_asks_for_a_key(client, partner_admin):
    client.force_login(partner_admin)
    redemption = start(client)
    response = client.post(f"/partner/redeem/{redemption.pk}/keys/", keys_form(""))
    assert b"Enter at least one product key." in response.content


def test_too_many_rows_are_refused_but_kept(client, partner_admin):
    client.force_login(partner_admin)
    redemption = start(client)
    rows = [generate_key() for _ in range(51)]
    response = client.post(f"/partner/redeem/{redemption.pk}/keys/", keys_form(*rows))
    assert b"You can enter up to 50 product keys at a time." in response.content
    assert len(response.context["formset"].forms) == 51


def test_the_guessing_limit_answers_429(client, partner_admin, products):
    client.force_login(partner_admin)
    redemption = start(client)
    for _ in range(10):
        client.post(f"/partner/redeem/{redemption.pk}/keys/", keys_form(generate_key()))
    response = client.post(f"/partner/redeem/{redemption.pk}/keys/", keys_form(generate_key()))
    assert response.status_code == 429
    assert b"You can try again at" in response.content


def test_a_redemption_belongs_to_its_user(
    client, partner_admin, partner_agent, other_partner_admin
):
    client.force_login(partner_admin)
    redemption = start(client)
    for user in (partner_agent, other_partner_admin):
        client.force_login(user)
        for path in ("keys", "review", "getting-started", "customer"):
            assert client.get(f"/partner/redeem/{redemption.pk}/{path}/").status_code == 404
        assert client.post(f"/partner/redeem/{redemption.pk}/cancel/").status_code == 404


def test_removing_and_cancelling(client, partner_admin, make_keys):
    keys = make_keys(2)
    client.force_login(partner_admin)
    redemption = start(client)
    client.post(f"/partner/redeem/{redemption.pk}/keys/", keys_form(*keys))
    line = redemption.lines.first()
    client.post(f"/partner/redeem/{redemption.pk}/keys/", {"remove": str(line.pk)})
    assert redemption.lines.count() == 1
    response = client.post(f"/partner/redeem/{redemption.pk}/cancel/", follow=True)
    assert b"The redemption was discarded" in response.content
    assert set(ProductKey.objects.values_list("state", flat=True)) == {"available"}
    # A cancelled redemption sends its user back to the dashboard.
    assert client.get(f"/partner/redeem/{redemption.pk}/keys/")["Location"] == "/partner/"


def test_the_review_cannot_be_skipped(client, partner_admin, make_keys):
    client.force_login(partner_admin)
    redemption = start(client)
    assert client.get(f"/partner/redeem/{redemption.pk}/review/")["Location"].endswith("/keys/")
    client.post(f"/partner/redeem/{redemption.pk}/keys/", keys_form(*make_keys(1)))
    step2 = client.get(f"/partner/redeem/{redemption.pk}/customer/")
    assert step2["Location"].endswith("/review/")


class NothingAUserSendsGivesA500(HypothesisTestCase):
    """Whatever is posted to the step forms, the answer is a page or a redirect, never a 500."""

    @classmethod
    def setUpTestData(cls):
        partner = Partner.objects.create(
            name="Northwind", partner_id="1000001", contact_email="c@northwind.example"
        )
        cls.user = User.objects.create_user("p@northwind.example", "x")
        PartnerMembership.objects.create(user=cls.user, partner=partner, role="admin")
        cls.redemption = Redemption.objects.create(partner=partner, created_by=cls.user)

    fields = st.dictionaries(
        st.sampled_from(
            [
                "keys-TOTAL_FORMS",
                "keys-INITIAL_FORMS",
                "keys-MAX_NUM_FORMS",
                "keys-0-key",
                "keys-1-key",
                "action",
                "submission",
                "remove",
                "understood",
                "key",
                "country",
                "name",
                "admin_email",
                "admin_phone",
                "domain_prefix",
                "language",
            ]
        ),
        st.text(max_size=60),
        max_size=10,
    )

    def assert_answered(self, response, data, statuses):
        if any("\x00" in key + value for key, value in data.items()):
            self.assertEqual(response.status_code, 400)  # NUL is refused before any view
        else:
            self.assertIn(response.status_code, statuses)

    # Step 2 ("customer") has its own test on a confirmed draft, in tests/tenants/.
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=fields, step=st.sampled_from(["keys", "review", "getting-started"]))
    def test_step_forms(self, data, step):
        from django.core.cache import cache

        cache.clear()  # the guessing limit would turn every answer into a 429
        self.client.force_login(self.user)
        response = self.client.post(f"/partner/redeem/{self.redemption.pk}/{step}/", data)
        self.assert_answered(response, data, {200, 302, 404, 429})

    @settings(max_examples=30, deadline=None)
    @given(data=fields)
    def test_start_form(self, data):
        from django.core.cache import cache

        cache.clear()
        self.client.force_login(self.user)
        response = self.client.post("/partner/redeem/", data)
        self.assert_answered(response, data, {200, 302, 429})

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        data=fields,
        url=st.sampled_from(
            [
                "/partner/redeem/new/",
                "/partner/customers/{tenant}/add-licenses/",
                "/partner/customers/{tenant}/renew/",
                "/partner/redeem/{redemption}/apply/",
            ]
        ),
    )
    def test_the_key_entries_of_new_and_existing_customers(self, data, url):
        """The first keys of a redemption, for a new customer or for an existing one, and the
        preview of what keys change."""
        from django.core.cache import cache

        from tests.factories import TenantFactory

        cache.clear()
        tenant = TenantFactory(created_by_partner=self.redemption.partner)
        self.client.force_login(self.user)
        session = self.client.session
        session["keys.redeem.acknowledged"] = True
        session.save()
        path = url.format(tenant=tenant.pk, redemption=self.redemption.pk)
        response = self.client.post(path, data)
        self.assert_answered(response, data, {200, 302, 404, 429})


def test_a_checked_key_can_be_redeemed_from_the_check_page(client, partner_admin, make_keys):
    key = make_keys(1)[0]
    client.force_login(partner_admin)
    checked = client.post("/partner/keys/check/", {"key": format_key(key)})
    assert b"Redeem this key" in checked.content
    assert b'formaction="/partner/redeem/"' in checked.content
    # Without the acknowledgement: asked for it, the key kept in the form.
    refused = client.post("/partner/redeem/", {"key": format_key(key)})
    assert b"Tick the box to confirm" in refused.content
    assert format_key(key).encode() in refused.content
    assert Redemption.objects.count() == 0
    response = client.post("/partner/redeem/", {"key": format_key(key), "understood": "on"})
    redemption = Redemption.objects.get()
    assert response["Location"] == f"/partner/redeem/{redemption.pk}/review/"
    assert redemption.lines.get().product_key.last5 == key[-5:]


def test_a_wrong_character_says_which_never_occur_and_what_is_usually_meant(client, partner_admin):
    client.force_login(partner_admin)
    response = client.post("/partner/keys/check/", {"key": "BCDFO"})
    assert b"Character &#x27;O&#x27; (position 5) is never used" in response.content
    assert b"O or 0 is often a Q or a D" in response.content
