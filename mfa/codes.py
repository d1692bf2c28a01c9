"""Recovery codes: ten single-use codes, shown once, stored only as keyed digests.

They live in django-otp's StaticDevice/StaticToken; the token column holds an HMAC of the code
under KEY_PEPPER (kept in the environment like the product keys' pepper), so a dump of the
database cannot be read back into codes.
"""

import hashlib
import hmac
import secrets

from django.conf import settings

RECOVERY_CODE_COUNT = 10
# 10 characters from 31 letters and digits without look-alikes (no i, l, o, 0, 1): about 49
# bits, shown as "xxxxx-xxxxx".
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 10


def recovery_code_new() -> str:
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{code[:5]}-{code[5:]}"


def recovery_code_normalize(text: str) -> str:
    """What a person typed, as the code it means: case, spaces and hyphens do not matter."""
    return "".join(ch for ch in text.lower() if ch not in " -\t\u00a0")[: CODE_LENGTH * 2]


def recovery_code_digest(code: str) -> str:
    """The 16 hex characters stored for a code (StaticToken.token holds 16)."""
    normalized = recovery_code_normalize(code)
    mac = hmac.new(
        f"recovery-code:{settings.KEY_PEPPER}".encode(), normalized.encode(), hashlib.sha256
    )
    return mac.hexdigest()[:16]
