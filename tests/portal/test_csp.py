"""The Content Security Policy on real responses, and pages that keep to it.

Under `script-src 'self'; style-src 'self'` a browser ignores inline scripts, style attributes
and <style> elements: a page that used one would break silently. So every page the test client
can reach is checked for them, as each kind of person.
"""

from html.parser import HTMLParser

import pytest

from tests.portal.urlconf import argless_paths, make_customer_admin

EXPECTED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy(response) -> dict[str, str]:
    parts = [part.strip().partition(" ") for part in response["Content-Security-Policy"].split(";")]
    return {name: value for name, _space, value in parts}


class InlineFinder(HTMLParser):
    """Inline scripts (a <script> without src that is not JSON data), <style> and style=."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        data = attributes.get("type") == "application/json"
        if tag == "script" and "src" not in attributes and not data:
            self.found.append(self.get_starttag_text())
        if tag == "style":
            self.found.append("<style>")
        if "style" in attributes:
            self.found.append(self.get_starttag_text())
        self.found += [f"{tag} {name}=" for name in attributes if name.startswith("on")]


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


def test_the_finder_finds_what_the_policy_forbids():
    assert inline_code('<script>alert(1)</script><p style="x">') == [
        "<script>",
        '<p style="x">',
    ]
    assert inline_code('<button onclick="go()">') == ["button onclick="]
    assert inline_code('<script type="application/json">{}</script><script src="a.js">') == []


def check(response, where):
    assert policy(response) == EXPECTED, where
    if response["Content-Type"].startswith("text/html"):
        assert inline_code(response.content.decode()) == [], where


@pytest.fixture
def people(partner_admin, staff, northwind, make_keys, redeem):
    """Each kind of person, with a customer and a redemption so that their pages have content."""
    customer = make_customer_admin(northwind)
    redemption = redeem(partner_admin, northwind, *make_keys(2))
    return {
        "anonymous": (None, []),
        "partner admin": (
            partner_admin,
            [
                f"/partner/customers/{customer.tenant_user.tenant_id}/",
                f"/partner/redeem/{redemption.pk}/keys/",
                f"/partner/redeem/{redemption.pk}/review/",
                f"/partner/redeem/{redemption.pk}/getting-started/",
                f"/partner/redeem/{redemption.pk}/customer/",
            ],
        ),
        "customer admin": (customer, []),
        "staff": (
            staff,
            [
                f"/admin/portal/user/{customer.pk}/change/",
                f"/admin/tenants/tenant/{customer.tenant_user.tenant_id}/change/",
                f"/admin/keys/redemption/{redemption.pk}/change/",
            ],
        ),
    }


def test_every_page_carries_the_policy_and_keeps_to_it(client, people, countries):
    for who, (user, extra) in people.items():
        client.logout()
        if user is not None:
            client.force_login(user)
        for path in argless_paths() + extra:
            response = client.get(path)
            if response.status_code == 302 and response["Location"].startswith("/admin/"):
                response = client.get(response["Location"])  # the admin's `?e=1` and sign-in
            check(response, (who, path, response.status_code))


def test_the_pages_that_answer_a_form_keep_to_it_too(client, partner_admin):
    client.force_login(partner_admin)
    response = client.post("/partner/keys/check/", {"key": "BCDFG-HJKMP-QRTVW-XY234-6789K"})
    assert b"typing mistake" in response.content
    check(response, "key check with an error")


def test_the_error_pages_keep_to_it(client, partner_admin):
    from django.template.loader import render_to_string

    client.force_login(partner_admin)
    check(client.get("/partner/customers/999999/"), "404")
    assert inline_code(render_to_string("500.html")) == []
    for outage in ("database", "limits"):
        assert inline_code(render_to_string("503.html", {"outage": outage})) == []
