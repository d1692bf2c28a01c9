"""Product keys: 25 characters, Luhn mod 24 check character. Pure Python, no Django.

The alphabet leaves out vowels and 0, 1, 5, L, N, S, Z: nothing a person confuses when reading a
card. The 25th character is the Luhn mod N check character of the first 24, which catches every
single mistyped character and almost every swap of two neighbours before any database look-up.
static/keys/key_input.js implements the same rules for instant feedback; tests run both against
tests/keys/key_vectors.json. The server is the authority.
"""

import re
import secrets

ALPHABET = "BCDFGHJKMPQRTVWXY2346789"
BASE = len(ALPHABET)  # 24
KEY_LENGTH = 25
PAYLOAD_LENGTH = KEY_LENGTH - 1
GROUP = 5
_CODE_POINT = {character: index for index, character in enumerate(ALPHABET)}
_DOUBLED = {ch: (2 * cp) // BASE + (2 * cp) % BASE for ch, cp in _CODE_POINT.items()}
_ALPHABET_RUN = re.compile(f"[{ALPHABET}]*")

# Hyphens, the en and em dashes that word processors insert, and the Unicode hyphens; white space
# is anything str.isspace() accepts. Nothing else is guessed.
_SEPARATORS = frozenset("-\u2010\u2011\u2013\u2014")
_ASCII_DELETE = str.maketrans("", "", "-" + "".join(chr(c) for c in range(128) if chr(c).isspace()))


def _(message: str) -> str:
    """Marks a message for translation; the Django layer translates it (keys.forms)."""
    return message


MESSAGES = {
    "empty": _("Please enter a product key."),
    "character": _(
        "Character '%(character)s' (position %(position)d) is never used in product keys."
    ),
    "length_one": _("This key has %(length)d character; a product key has 25."),
    "length": _("This key has %(length)d characters; a product key has 25."),
    "checksum": _("This key contains a typing mistake: please check it against the card."),
}


class KeyFormatError(ValueError):
    """A typed key that cannot be a product key. `.code`: empty, character, length, checksum."""

    def __init__(
        self,
        code: str,
        *,
        position: int | None = None,
        character: str | None = None,
        length: int | None = None,
    ):
        self.code = code
        self.position = position
        self.character = character
        self.length = length
        self.template = MESSAGES["length_one" if code == "length" and length == 1 else code]
        super().__init__(self.template % self.params)

    @property
    def params(self) -> dict:
        return {"position": self.position, "character": self.character, "length": self.length}

    @property
    def message(self) -> str:
        return str(self)


def normalize_key(raw: str) -> str:
    """Remove white space, hyphens and dashes; upper-case. Nothing else is changed."""
    if raw.isascii():  # the usual case, several times faster (bench/README.md)
        return raw.translate(_ASCII_DELETE).upper()
    return "".join(ch for ch in raw if not ch.isspace() and ch not in _SEPARATORS).upper()


def check_character(payload24: str) -> str:
    """The Luhn mod 24 check character of 24 characters of the alphabet.

    From the right, factors 2, 1, 2, 1…; each product p adds p // 24 + p % 24 (precomputed per
    character below); the check code point is (24 - sum % 24) % 24.
    """
    if len(payload24) != PAYLOAD_LENGTH:
        raise ValueError(f"The payload has {len(payload24)} characters, not {PAYLOAD_LENGTH}.")
    try:
        total = sum(map(_DOUBLED.__getitem__, payload24[-1::-2])) + sum(
            map(_CODE_POINT.__getitem__, payload24[-2::-2])
        )
    except KeyError as error:
        raise ValueError(f"{error.args[0]!r} is not in the product key alphabet.") from None
    return ALPHABET[(BASE - total % BASE) % BASE]


def validate_key(raw: str) -> str:
    """The canonical 25 characters of a typed key, or KeyFormatError.

    Checks run in this order: empty, a character outside the alphabet (first one, 1-based position
    in the normalized key), length, check character.
    """
    key = normalize_key(raw)
    if not key:
        raise KeyFormatError("empty")
    usable = _ALPHABET_RUN.match(key).end()
    if usable != len(key):
        raise KeyFormatError("character", position=usable + 1, character=key[usable])
    if len(key) != KEY_LENGTH:
        raise KeyFormatError("length", length=len(key))
    if check_character(key[:PAYLOAD_LENGTH]) != key[PAYLOAD_LENGTH]:
        raise KeyFormatError("checksum")
    return key


def format_key(canonical: str) -> str:
    """XXXXX-XXXXX-XXXXX-XXXXX-XXXXX."""
    return "-".join(canonical[i : i + GROUP] for i in range(0, len(canonical), GROUP))


def mask_key(last5: str) -> str:
    """How a stored key is shown: only its last five characters."""
    return "-".join(["•••••"] * 4 + [last5])


def generate_key() -> str:
    """A new canonical key: a cryptographically random payload and its check character."""
    payload = "".join(secrets.choice(ALPHABET) for _ in range(PAYLOAD_LENGTH))
    return payload + check_character(payload)


_LIST_SEPARATORS = re.compile(r"[\r\n,;]+")


def split_keys(text: str) -> list[str]:
    """Split a pasted list into the keys it holds, as typed.

    Keys are one a line, or separated by commas, semicolons or spaces. Spaces are ambiguous (a
    single key may be typed in space-separated groups), so a piece is split on spaces only when
    it is too long for one key and every space-separated part is a whole key on its own.
    """
    keys = []
    for piece in _LIST_SEPARATORS.split(text):
        if not piece.strip():
            continue
        parts = piece.split()
        if (
            len(normalize_key(piece)) > KEY_LENGTH
            and len(parts) > 1
            and all(len(normalize_key(part)) == KEY_LENGTH for part in parts)
        ):
            keys.extend(parts)
        else:
            keys.append(piece.strip())
    return keys
