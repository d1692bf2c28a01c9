"""Whatever a query string or a form holds, the answer is a page, a redirect or a 4xx, never a 500.

PostgreSQL refuses NUL characters in text, so a NUL that reached a query used to be a 500; the
admin's own list filter read `?partner=` as an id without checking it.
"""

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from keys.models import Product
from keys.services import batch_generate
from portal.models import Partner, PartnerMembership, User
from tests.portal.urlconf import argless_paths, make_customer_admin

QUERIES = ["q=%00", "page=%00", "partner=abc", "p=x", "o=zz"]


@pytest.fixture
def people(partner_admin, staff, northwind, make_keys):
    make_keys(2, partner=northwind)  # so that the admin's lists and filters have rows
    return {
        "partner admin": partner_admin,
        "customer admin": make_customer_admin(northwind),
        "staff": staff,
    }


@pytest.mark.parametrize("path", argless_paths())
def test_no_query_string_gives_a_500(client, people, path):
    for who, user in people.items():
        client.force_login(user)
        for query in QUERIES:
            response = client.get(f"{path}?{query}")
            assert response.status_code < 500, (who, f"{path}?{query}")


def test_a_nul_character_is_refused_with_a_400_that_says_why(client, partner_admin):
    client.force_login(partner_admin)
    response = client.get("/partner/customers/?q=%00")
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_a_nul_character_in_a_form_is_refused_too(client, partner_admin):
    client.force_login(partner_admin)
    assert client.post("/partner/keys/check/", {"key": "BCDFG\x00"}).status_code == 400
    assert client.post("/partner/keys/check/", {"k\x00ey": "BCDFG"}).status_code == 400


def test_the_admins_partner_filter_refuses_a_value_that_is_no_partner(client, staff):
    client.force_login(staff)
    response = client.get("/admin/keys/productkey/?partner=abc")
    # The admin's own answer to a bad filter: back to the list, with the error flag.
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert client.get("/admin/keys/productkey/?partner=none").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/admin/portal/partnermembership/add/?partner=abc&user=1,2",
        "/admin/portal/user/add/?groups=1,x",
        "/admin/django_celery_beat/periodictask/add/?crontab=zz&interval=%2F",
    ],
)
def test_an_add_page_ignores_an_initial_value_that_is_no_id(client, staff, url):
    client.force_login(staff)
    assert client.get(url).status_code == 200


query_strings = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(
                ["q", "page", "p", "o", "e", "partner", "state__exact", "batch__id__exact", "all"]
            ),
            st.text(max_size=20),
        ),
        st.text(max_size=40),
    ),
    max_size=5,
).map(urlencode)


class NoQueryStringGivesA500(HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        partner = Partner.objects.create(
            name="Northwind", partner_id="1000001", contact_email="c@northwind.example"
        )
        cls.partner_user = User.objects.create_user("p@northwind.example", "x")
        PartnerMembership.objects.create(user=cls.partner_user, partner=partner, role="admin")
        cls.staff = User.objects.create_superuser("ops@example.com", "x")
        product = Product.objects.create(sku="BUS-STD", name="Business Standard", term_months=12)
        batch_generate(product=product, count=2, seats_per_key=1, partner=partner, actor=None)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(query=query_strings)
    def test_the_customer_list(self, query):
        self.client.force_login(self.partner_user)
        response = self.client.get(f"/partner/customers/?{query}")
        self.assertIn(response.status_code, {200, 400})

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(query=query_strings)
    def test_the_admins_key_list(self, query):
        self.client.force_login(self.staff)
        response = self.client.get(f"/admin/keys/productkey/?{query}")
        self.assertIn(response.status_code, {200, 302, 400})
