"""French elision of the names put into French sentences, in pages and e-mails (issue 16):
"d'Adatum" (with the typographic apostrophe), not "de Adatum"."""

import pytest
from django.test import Client

from portal.elision import french_elision, french_elision_html
from portal.models import Partner, User
from tenants.emails import activation_email_queue
from tenants.models import TenantUser
from tests.factories import DelegationRelationshipFactory, TenantFactory


@pytest.mark.parametrize(
    ("text", "elided"),
    [
        ("les rôles de Adatum", "les rôles d’Adatum"),
        ("le compte de Éole", "le compte d’Éole"),
        ("plus que Orange", "plus qu’Orange"),
        ("jusque ici", "jusqu’ici"),
        ("les rôles de Contoso", "les rôles de Contoso"),  # a consonant
        ("de Yvette", "de Yvette"),  # before "y", no elision
        ("l’adresse de admin@adatum.example", "l’adresse de admin@adatum.example"),
        ("le lien de https://portal.example", "le lien de https://portal.example"),
        ("Code de", "Code de"),
        ("mode Adatum", "mode Adatum"),  # a word ending in "de"
        ("L’offre de Adatum", "L’offre d’Adatum"),  # after an elided word
        ("de Adatum", "d’Adatum"),  # at the start
        # A name that holds "de" keeps its spelling.
        ("Maria De Andrade", "Maria De Andrade"),
        ("la banque Banco de Oro", "la banque Banco de Oro"),
        ("les rôles de Banco de Oro", "les rôles de Banco de Oro"),
    ],
)
def test_it_elides_before_a_vowel_only(text, elided):
    assert french_elision(text) == elided


def test_it_leaves_comments_and_quoted_angle_brackets_alone():
    html = '<p title="x > de Adatum">rôles de Adatum</p><!-- rôles de Adatum -->'
    assert french_elision_html(html) == (
        '<p title="x > de Adatum">rôles d’Adatum</p><!-- rôles de Adatum -->'
    )


def test_it_leaves_tags_scripts_and_text_areas_alone():
    html = (
        '<p title="de Adatum">de Adatum</p><script>x = "de Adatum"</script>'
        "<textarea>de Adatum</textarea>"
    )
    assert french_elision_html(html) == (
        '<p title="de Adatum">d’Adatum</p><script>x = "de Adatum"</script>'
        "<textarea>de Adatum</textarea>"
    )


@pytest.mark.postgres
def test_a_french_page_elides_the_partners_name(contoso, contoso_admin):
    adventure = Partner.objects.create(
        name="Adventure Works", partner_id="1000009", contact_email="contact@adventure.example"
    )
    relationship = DelegationRelationshipFactory(partner=adventure, tenant=contoso)
    client = Client()
    client.force_login(contoso_admin)
    url = f"/customer/partner-relationships/{relationship.pk}/remove-roles/"
    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Retirer les rôles d’Adventure Works" in french
    assert "de Adventure" not in french
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Remove the roles of Adventure Works?" in english


@pytest.mark.postgres
def test_a_french_e_mail_elides_the_organizations_name(northwind):
    adatum = TenantFactory(name="Adatum", domain_prefix="adatum", created_by_partner=northwind)
    user = User.objects.create_user("lea@adatum.example", language="fr")
    account = TenantUser.objects.create(
        tenant=adatum, user=user, first_name="Léa", last_name="Martin", email=user.email,
        is_admin=True,
    )  # fmt: skip
    email = activation_email_queue(account=account)
    assert "le compte d’Adatum" in email.message and "de Adatum" not in email.message
    assert "le compte d’Adatum" in email.html_message
