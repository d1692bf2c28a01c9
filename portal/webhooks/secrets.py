"""Endpoints' signing secrets: Standard Webhooks' format, encrypted at rest.

A secret is "whsec_" and 32 random bytes in base64, as the standardwebhooks library reads it. The
database keeps it encrypted with the MFA_SECRET_KEYS Fernet keys (apart from the database, like the
authenticator apps' secrets): a dump of the database alone signs nothing.
"""

import base64
import secrets

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings

PREFIX = "whsec_"


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in settings.MFA_SECRET_KEYS])


def secret_generate() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode("ascii")).decode("ascii")


def secret_decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode("ascii")).decode("ascii")
