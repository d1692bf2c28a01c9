"""French typography in every French string of the portal and its e-mails, and the portal's own
wording where Django's French says it otherwise ("adresse de courriel").

The convention (README, "Languages"): a no-break space (U+00A0) before « : » and « ; » and
inside « guillemets », a narrow no-break space (U+202F) before « ? » and « ! », and the typographic
apostrophe (U+2019).
"""

import importlib.util
import re
from pathlib import Path

import django
import polib
import pytest
from django.core import mail

from portal.django_messages import DJANGO_MESSAGES
from portal.models import User
from portal.outbox import outbox_deliver

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
NBSP, NNBSP = "\u00a0", "\u202f"
# What typography leaves alone: placeholders, markup, addresses and clock times (10:15).
PROTECTED = re.compile(
    r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%[-#0 +]*\d*(?:\.\d+)?[sdfir]|\{[^{}]*\}|<[^<>]*>"
    r"|\w+://\S+|\b\d{1,2}:\d{2}\b"
)
MISTAKES = [
    (re.compile(rf"(?<=.)(?<!{NBSP})[:;]"), "no no-break space before : or ;"),
    (re.compile(rf"(?<=.)(?<![{NNBSP}?!])[?!]"), "no narrow no-break space before ? or !"),
    (re.compile(rf"«(?!{NBSP})|(?<!{NBSP})»"), "no no-break space inside « »"),
    (re.compile("'"), "a straight apostrophe"),
]


def typography_mistakes(text: str) -> list[str]:
    # A placeholder stands for a word: "%(name)s:" needs its space as much as "Nom:" does.
    text = PROTECTED.sub("x", text)
    return [reason for pattern, reason in MISTAKES if pattern.search(text)]


def french_translations():
    for entry in polib.pofile(str(CATALOGUE)):
        for text in [entry.msgstr, *entry.msgstr_plural.values()]:
            if text:
                yield entry.msgid, text


def test_every_french_translation_follows_french_typography():
    mistakes = {
        text: problems
        for _msgid, text in french_translations()
        if (problems := typography_mistakes(text))
    }
    assert mistakes == {}, "run scripts/french_typography.py (make messages does)"


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("Compte créé\u00a0: %(name)s", []),
        ("Compte créé : %(name)s", ["no no-break space before : or ;"]),
        ("Compte créé: %(name)s", ["no no-break space before : or ;"]),
        ("%(product)s: %(seats)s", ["no no-break space before : or ;"]),
        ("Tout vous semble-t-il correct\u202f?", []),
        ("Tout vous semble-t-il correct\u00a0?", ["no narrow no-break space before ? or !"]),
        ("la colonne « key »", ["no no-break space inside « »"]),
        ("l'étape 2", ["a straight apostrophe"]),
        ("Réessayez à 10:15 UTC, ou voir https://portal.example/a?b=c", []),
    ],
)
def test_the_check_finds_each_kind_of_mistake(text, problems):
    assert typography_mistakes(text) == problems


def load_fixer():
    spec = importlib.util.spec_from_file_location(
        "french_typography", ROOT / "scripts" / "french_typography.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.french_typography


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("Abonnements :", "Abonnements\u00a0:"),
        ("%(product)s: %(seats)s ; fin", "%(product)s\u00a0: %(seats)s\u00a0; fin"),
        ("Abandonner ?!", "Abandonner\u202f?!"),
        ("la colonne «key»", "la colonne «\u00a0key\u00a0»"),
        ("la colonne « key »", "la colonne «\u00a0key\u00a0»"),
        ("l'étape", "l’étape"),
        ('<a href="https://x.example/?a=1">10:15</a> {name:>3}', None),
    ],
)
def test_the_script_fixes_what_the_check_finds(text, fixed):
    french_typography = load_fixer()
    assert french_typography(text) == (fixed or text)
    assert typography_mistakes(french_typography(text)) == []
    assert french_typography(french_typography(text)) == french_typography(text)  # idempotent


def test_the_overridden_messages_are_still_djangos_own():
    """A Django upgrade that rewords one of them would leave the portal's French unused."""
    base = Path(django.__file__).parent
    djangos = set()
    for path in [
        base / "conf" / "locale" / "fr" / "LC_MESSAGES" / "django.po",
        *(base / "contrib").glob("*/locale/fr/LC_MESSAGES/django.po"),
    ]:
        djangos |= {entry.msgid for entry in polib.pofile(str(path))}
    assert [msgid for msgid in DJANGO_MESSAGES if msgid not in djangos] == []
    portal = dict(french_translations())
    assert all(portal.get(msgid) for msgid in DJANGO_MESSAGES)


def french(client, method, url, data=None):
    response = getattr(client, method)(url, data or {}, HTTP_ACCEPT_LANGUAGE="fr")
    return response.content.decode()


def test_djangos_email_error_says_adresse_e_mail(client, db):
    page = french(client, "post", "/accounts/password_reset/", {"email": "pas-une-adresse"})
    assert "Entrez une adresse e-mail valide." in page
    assert "courriel" not in page.casefold()
    assert "Adresse e-mail" in page  # the field's label


def test_a_failed_sign_in_says_it_in_the_portals_french(client, partner_admin):
    page = french(
        client,
        "post",
        "/accounts/login/",
        {"username": "partner@northwind.example", "password": "wrong"},
    )
    assert "Entrez une adresse e-mail et un mot de passe corrects." in page
    assert "courriel" not in page.casefold()


def test_the_password_forms_help_uses_the_portals_wording(client, partner_admin):
    client.force_login(partner_admin)
    page = french(client, "get", "/accounts/password_change/")
    assert "Entrez le même mot de passe que ci-dessus, pour vérification." in page
    assert "Saisissez" not in page


def test_french_pages_and_emails_carry_the_no_break_spaces(client, partner_admin):
    page = french(client, "get", "/accounts/login/")
    assert "Mot de passe oublié\u202f?" in page
    User.objects.filter(pk=partner_admin.pk).update(language="fr")
    client.post("/accounts/password_reset/", {"email": "partner@northwind.example"})
    outbox_deliver()
    body = mail.outbox[0].body
    assert "choisissez un nouveau mot de passe ici\u00a0:" in body
    assert "ignorez cet e-mail\u00a0: votre mot de passe" in body
