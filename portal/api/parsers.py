"""The API's JSON parser: a body whose text the database cannot store is refused at the door.

JSON can carry what no form can: a NUL (`\\u0000`, which PostgreSQL refuses in text) and lone
UTF-16 surrogates (`\\ud800`, which cannot be encoded to UTF-8). Either, anywhere in a key or a
value, is a 400 problem here instead of a 500 deep in a service.
"""

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _unstorable(text: str) -> bool:
    return "\x00" in text or any(0xD800 <= ord(character) <= 0xDFFF for character in text)


def _check(data) -> None:
    pending = [data]
    while pending:  # iterative: a deeply nested body cannot exhaust the stack here
        value = pending.pop()
        if isinstance(value, str) and _unstorable(value):
            raise ParseError(
                _("The body holds a NUL character or a lone surrogate, which cannot be stored.")
            )
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The body is nested too deeply.")) from None
        _check(data)
        return data
