"""Every string the portal shows has its French, and the compiled catalogue matches the source."""

from pathlib import Path

import polib
import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "fr" / "LC_MESSAGES"
CATALOGUES = sorted(LOCALE.glob("*.po"))


def test_there_is_a_french_catalogue():
    assert [p.name for p in CATALOGUES] and "django.po" in [p.name for p in CATALOGUES]


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.name)
def test_it_translates_every_string_into_french(po_path):
    po = polib.pofile(str(po_path))
    untranslated = [entry.msgid for entry in po.untranslated_entries()]
    fuzzy = [entry.msgid for entry in po.fuzzy_entries()]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda p: p.name)
def test_the_compiled_catalogue_matches_the_source(po_path):
    # A .po edited without `make messages` would ship stale French.
    po = polib.pofile(str(po_path))
    mo = polib.mofile(str(po_path.with_suffix(".mo")))
    source = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in po.translated_entries()}
    compiled = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in mo if e.msgid}
    assert compiled == source
