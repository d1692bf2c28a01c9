"""The layout's menus are rendered once per person and language in each web process
(templates/base.html, settings.CACHES["fragments"]); whatever they show is part of their key, so
a change shows at the next page without anything to invalidate."""

import pytest
from django.conf import settings
from django.test import Client

from portal.models import PartnerMembership

pytestmark = pytest.mark.django_db


def _menus(client: Client, url: str = "/partner/") -> str:
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    return html[html.index("<nav") : html.index("</nav>")]


def test_a_new_role_shows_at_the_next_page(client, partner_agent):
    client.force_login(partner_agent)
    assert "/partner/api-keys/" not in _menus(client)
    membership = PartnerMembership.objects.get(user=partner_agent)
    membership.role = PartnerMembership.Role.ADMIN
    membership.save()
    assert "/partner/api-keys/" in _menus(client)
    membership.role = PartnerMembership.Role.AGENT
    membership.save()
    assert "/partner/api-keys/" not in _menus(client)


def test_a_membership_that_ends_takes_the_partner_menus_with_it(client, partner_agent):
    client.force_login(partner_agent)
    assert "/partner/customers/" in _menus(client)
    PartnerMembership.objects.filter(user=partner_agent).delete()
    page = client.get("/")  # no role left: the page that says so, with the layout
    assert page.status_code == 403
    assert "/partner/customers/" not in page.content.decode()


def test_the_tenant_s_new_name_shows_in_its_admin_s_menu(client, contoso, contoso_admin):
    client.force_login(contoso_admin)
    assert ">Contoso</a>" in _menus(client, "/customer/")
    contoso.name = "Contoso Pharmaceuticals"
    contoso.save()
    assert ">Contoso Pharmaceuticals</a>" in _menus(client, "/customer/")


def test_the_menus_follow_the_language_and_the_account(client, partner_admin):
    client.force_login(partner_admin)
    english = _menus(client)
    assert "Customers" in english and 'value="en" selected' in english
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    french = _menus(client)
    assert "Clients" in french and 'value="fr" selected' in french
    partner_admin.email = "renamed@northwind.example"
    partner_admin.save()
    assert "renamed@northwind.example" in _menus(client)


def test_each_page_keeps_its_own_language_form_and_tokens(client, partner_admin):
    client.force_login(partner_admin)
    renewals = _menus(client, "/partner/renewals/")
    customers = _menus(client, "/partner/customers/")
    assert 'name="next" type="hidden" value="/partner/renewals/"' in renewals
    assert 'name="next" type="hidden" value="/partner/customers/"' in customers
    assert renewals.count('name="csrfmiddlewaretoken"') == 2  # the language form and sign-out
