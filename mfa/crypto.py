"""The authenticator apps' secrets, encrypted at rest with keys from the environment.

MFA_SECRET_KEYS holds Fernet keys (AES-128-CBC with an HMAC-SHA256, from `cryptography`), apart
from the database: a dump of the database alone yields no secret. The first key encrypts; every
key decrypts, so a key is rotated by putting the new one first: each device is re-encrypted
under it whenever it is saved (every accepted code saves it).
"""

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in settings.MFA_SECRET_KEYS])


def secret_encrypt(secret: bytes) -> str:
    return _fernet().encrypt(secret).decode("ascii")


def secret_decrypt(token: str) -> bytes:
    return _fernet().decrypt(token.encode("ascii"))


def secret_reencrypt(token: str) -> str:
    """The same secret under the first key (a no-op in effect when it already is)."""
    return _fernet().rotate(token.encode("ascii")).decode("ascii")
