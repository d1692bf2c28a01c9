"""One word for one thing in French (issue 16): the glossary in locale/fr/glossary.tsv, checked
against every message of the catalogue; and "retirer" only for taking a partner's standing away
(its roles, its being partner of record, its enrolment) or one's own admin role."""

import csv
import re
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"


def _rules() -> list[dict]:
    lines = (ROOT / "locale" / "fr" / "glossary.tsv").read_text().splitlines()
    rows = [line for line in lines if line and not line.startswith("#")]
    return list(csv.DictReader(rows, delimiter="\t"))


def _messages(with_context: bool = False) -> list[tuple[str, str]]:
    """(English, French) for every translated message, each plural form on its own; the English
    with its context in front when asked ("partner of record: Change or remove")."""
    pairs = []
    for entry in polib.pofile(str(CATALOGUE)):
        context = f"{entry.msgctxt}: " if entry.msgctxt and with_context else ""
        if entry.msgid_plural:
            pairs += [(context + entry.msgid_plural, t) for t in entry.msgstr_plural.values()]
        else:
            pairs.append((context + entry.msgid, entry.msgstr))
    return pairs


RULES = _rules()


def test_the_glossary_has_its_rules():
    assert {rule["english"] for rule in RULES} >= {r"\bseats?\b", r"\bpartner overview\b"}


@pytest.mark.parametrize("rule", RULES, ids=[rule["english"] for rule in RULES])
def test_every_message_uses_the_glossarys_word(rule):
    english = re.compile(rule["english"], re.IGNORECASE)
    french = re.compile(rule["french"], re.IGNORECASE)
    never = None if rule["never"] == "-" else re.compile(rule["never"], re.IGNORECASE)
    wrong = [
        (source, text)
        for source, text in _messages()
        if english.search(source) and (not french.search(text) or (never and never.search(text)))
    ]
    assert wrong == [], rule["why"]


STANDING = re.compile(r"\broles?\b|partner of record|cloud program", re.IGNORECASE)


def test_retirer_is_only_for_taking_a_standing_away():
    wrong = [
        (source, text)
        for source, text in _messages(with_context=True)
        if re.search(r"\bretir", text, re.IGNORECASE) and not STANDING.search(source)
    ]
    assert wrong == []
