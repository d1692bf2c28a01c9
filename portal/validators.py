"""Validators shared by the forms of every app."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Unicode's explicit direction controls (embeddings, overrides, isolates and their ends) ...
_BIDI_CONTROL_CLASSES = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
# ... and the three invisible direction marks: LEFT-TO-RIGHT, RIGHT-TO-LEFT and ARABIC LETTER.
_BIDI_MARKS = {"\u200e", "\u200f", "\u061c"}


def is_bidi_control(character: str) -> bool:
    return unicodedata.category(character) == "Cf" and (
        character in _BIDI_MARKS or unicodedata.bidirectional(character) in _BIDI_CONTROL_CLASSES
    )


def refuse_bidi_controls(value: str) -> None:
    """Refuse invisible text-direction characters in a name.

    They make a name display differently from what it is ("Contoso" followed by U+202E and
    "moc.evil" reads as "Contosolive.com") in e-mails, the admin and the partner's lists, which
    is how look-alike names fool people.
    """
    for position, character in enumerate(value, start=1):
        if is_bidi_control(character):
            raise ValidationError(
                _(
                    "This name holds an invisible character that changes the direction of the "
                    "text (%(code)s, character %(position)d). Type the name again without it."
                ),
                code="bidi_control",
                params={"code": f"U+{ord(character):04X}", "position": position},
            )
