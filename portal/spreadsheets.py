"""CSV exports that spreadsheet programs open safely: one place for every export of the portal.

A text cell starting with = + - @ or a control character would be run as a formula by a
spreadsheet (CSV injection), so it gets a leading apostrophe; numbers are written as they are
(a negative day count is no formula). The file starts with a byte order mark, so that spreadsheet
programs read it as UTF-8 ("Société"). The separator is the one spreadsheet programs split on
without an import step in the reader's language: a comma in English, a semicolon in French (where
the comma is the decimal separator, as French spreadsheet programs expect).
"""

import csv
from collections.abc import Iterable

from django.http import HttpResponse
from django.utils import translation

# The separator spreadsheet programs expect, by the language of the page the export is asked on.
SEPARATORS = {"fr": ";"}

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value):
    """The cell as a spreadsheet should show it: numbers as numbers, None as empty, text that
    starts like a formula behind an apostrophe."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(filename: str, header: list, rows: Iterable[Iterable]) -> HttpResponse:
    """A CSV download: the header row, then each row with every cell through `csv_cell`."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    writer = csv.writer(response, delimiter=csv_separator())
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return response


def csv_separator(language: str | None = None) -> str:
    return SEPARATORS.get(language or translation.get_language() or "en", ",")
