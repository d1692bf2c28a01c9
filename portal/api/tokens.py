"""The API key's format: recognisable, typo-checked, stored only as a keyed hash.

`pkp_` + 30 random base62 characters (178 bits) + 6 characters of checksum (CRC32 of the random
part, in base62), as the big code hosts' tokens are: a secret scanner spots one by its prefix
and checksum, and a mistyped key is refused before any database look-up. The database keeps
HMAC-SHA256 under KEY_PEPPER (domain-separated from the product keys' digests) — one indexed
query per request, no slow password hasher; a database dump yields no usable key.
"""

import hashlib
import hmac
import secrets
import zlib

from django.conf import settings

PREFIX = "pkp_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
SHOWN_START = len(PREFIX) + 4  # "pkp_Ab3x": what the list shows, with the last 4 characters
SHOWN_END = 4


class MalformedToken(ValueError):
    """Not an API key of this portal: wrong prefix, length, character or checksum."""


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def token_generate() -> str:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{PREFIX}{random_part}{_checksum(random_part)}"


def token_check(raw: str) -> str:
    """The key, if it is well formed; raises MalformedToken otherwise (no look-up needed)."""
    if len(raw) != LENGTH or not raw.startswith(PREFIX):
        raise MalformedToken
    body = raw[len(PREFIX) :]
    if any(character not in ALPHABET for character in body):
        raise MalformedToken
    random_part, checksum = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    if not hmac.compare_digest(_checksum(random_part), checksum):
        raise MalformedToken
    return raw


def token_digest(raw: str) -> str:
    return hmac.new(
        settings.KEY_PEPPER.encode(), f"api-key:{raw}".encode("ascii"), hashlib.sha256
    ).hexdigest()


def token_shown(raw: str) -> tuple[str, str]:
    """The parts kept to recognise a key in a list: its start and its last characters."""
    return raw[:SHOWN_START], raw[-SHOWN_END:]
