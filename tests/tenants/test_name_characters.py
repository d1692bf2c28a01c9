"""Names refuse the invisible characters that change the direction of the text."""

import pytest
from django.core.exceptions import ValidationError

from portal.validators import is_bidi_control, refuse_bidi_controls
from tenants.models import Tenant
from tests.helpers import contoso_details

BIDI_CONTROLS = [
    "\u061c",  # ARABIC LETTER MARK
    "\u200e",  # LEFT-TO-RIGHT MARK
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u202a",  # LEFT-TO-RIGHT EMBEDDING
    "\u202b",  # RIGHT-TO-LEFT EMBEDDING
    "\u202c",  # POP DIRECTIONAL FORMATTING
    "\u202d",  # LEFT-TO-RIGHT OVERRIDE
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u2067",  # RIGHT-TO-LEFT ISOLATE
    "\u2068",  # FIRST STRONG ISOLATE
    "\u2069",  # POP DIRECTIONAL ISOLATE
]

FORM = contoso_details()


@pytest.mark.parametrize("character", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_the_validator_refuses_each_direction_control(character):
    with pytest.raises(ValidationError) as caught:
        refuse_bidi_controls(f"Conto{character}so")
    assert caught.value.code == "bidi_control"
    assert caught.value.params == {"code": f"U+{ord(character):04X}", "position": 6}


def test_it_accepts_names_in_every_script_and_joiners():
    for name in [
        "Contoso",
        "Société Générale",
        "شركة كونتوسو",
        "קונטוסו",
        "コントソ",
        "می\u200cخواهم",
    ]:
        refuse_bidi_controls(name)  # the zero-width non-joiner (Persian) is a letter-shaping aid
    assert not any(is_bidi_control(chr(c)) for c in range(0x20, 0x600))


@pytest.fixture
def step2(client, partner_admin, northwind, make_keys, redeem, countries):
    redemption = redeem(partner_admin, northwind, *make_keys(1))
    client.force_login(partner_admin)
    return f"/partner/redeem/{redemption.pk}/customer/"


@pytest.mark.parametrize("field", ["name", "admin_first_name", "admin_last_name"])
def test_each_name_field_says_why_and_keeps_what_was_typed(client, step2, field):
    for character in BIDI_CONTROLS:
        typed = f"{FORM[field]}{character}evil"
        response = client.post(step2, {**FORM, field: typed})
        assert response.status_code == 200
        form = response.context["form"]
        assert form.errors[field] == [
            "This name holds an invisible character that changes the direction of the text "
            f"(U+{ord(character):04X}, character {len(FORM[field]) + 1}). Type the name again "
            "without it."
        ]
        assert form[field].value() == typed
        assert all(form[other].value() == FORM[other] for other in FORM if other != field)
    assert Tenant.objects.count() == 0


def test_the_message_is_in_french_on_french_pages(client, step2):
    response = client.post(step2, {**FORM, "name": "Contoso\u202e"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.context["form"].errors["name"] == [
        "Ce nom contient un caractère invisible qui change le sens d’écriture du texte "
        "(U+202E, caractère 8). Retapez le nom sans ce caractère."
    ]
