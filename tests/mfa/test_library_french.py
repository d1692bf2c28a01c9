"""django-otp-webauthn ships no French: the portal's (locale_libraries/fr) covers every word its
script shows and every error its ceremonies answer with, and the pages load it."""

import re
from pathlib import Path

import django_otp_webauthn
import polib
import pytest
from django.test import Client
from django.utils import translation
from django_otp_webauthn import exceptions

LIBRARY = Path(django_otp_webauthn.__file__).parent
OURS = Path(__file__).resolve().parents[2] / "locale_libraries" / "fr" / "LC_MESSAGES"


def script_words() -> set[str]:
    text = "".join(p.read_text() for p in (LIBRARY / "static" / "django_otp_webauthn").glob("*.js"))
    return set(re.findall(r'gettext\("([^"]*)"\)', text))


def test_every_word_of_the_script_has_its_french():
    french = {e.msgid: e.msgstr for e in polib.pofile(OURS / "djangojs.po") if e.msgstr}
    words = script_words()
    assert len(words) > 20
    assert sorted(words - set(french)) == []


def test_every_error_of_the_ceremonies_has_its_french():
    with translation.override("en"):  # the English, whatever an earlier test left active
        errors = {
            str(cls.default_detail)
            for cls in vars(exceptions).values()
            if isinstance(cls, type) and issubclass(cls, exceptions.OTPWebAuthnApiError)
        }
    with translation.override("fr"):
        untranslated = [
            message for message in errors if str(translation.gettext(message)) == message
        ]
    assert untranslated == []


@pytest.mark.django_db
def test_the_script_catalogue_is_served_in_french():
    catalogue = Client().get("/accounts/webauthn/jsi18n/", HTTP_ACCEPT_LANGUAGE="fr")
    assert catalogue.status_code == 200
    assert "Ajouter une cl\\u00e9 d\\u2019acc\\u00e8s" in catalogue.content.decode() or (
        "Ajouter une clé d’accès" in catalogue.content.decode()
    )
