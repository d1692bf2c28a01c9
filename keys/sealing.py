"""Sealing a file of new keys for one browser: what lets a background job hand keys back once.

A generation that runs in a worker must keep the plain keys somewhere until the ops user who
asked downloads them, and that somewhere is the database (workers may run on other machines).
A leaked dump must still not contain one redeemable key (DESIGN.md §1), so the file is sealed
to a key pair whose private half never reaches the database, the broker or the worker:

1. The request that starts the job makes an X25519 key pair. The public half goes into the job
   row; the private half goes to the ops user's browser only, in an HttpOnly, SameSite=Strict
   cookie scoped to the job's download address (not the session: sessions live in the database).
2. The worker seals the CSV to the public half (ECIES: an ephemeral X25519 agreement, HKDF-SHA256
   bound to the job's id, then Fernet, which authenticates as well as encrypts). It cannot open
   what it sealed, and neither can anyone holding the database or the broker's messages.
3. The download POSTs the cookie back; the file is opened, deleted and answered in one request.
   The periodic sweep deletes files nobody downloaded in time.
"""

import base64
import zlib

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.views.decorators.debug import sensitive_variables

_RAW = {"encoding": serialization.Encoding.Raw, "format": serialization.PublicFormat.Raw}
_KEY_BYTES = 32


class SealBroken(Exception):
    """The secret does not open this file (another browser's cookie, or a damaged file)."""


def recipient_keys() -> tuple[bytes, str]:
    """A new key pair: (public half for the database, private half for the browser's cookie)."""
    secret = X25519PrivateKey.generate()
    public = secret.public_key().public_bytes(**_RAW)
    private = secret.private_bytes(
        encoding=serialization.Encoding.Raw,
        format=serialization.PrivateFormat.Raw,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return public, base64.urlsafe_b64encode(private).decode("ascii")


def _fernet(shared: bytes, context: bytes) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context).derive(shared)
    return Fernet(base64.urlsafe_b64encode(key))


@sensitive_variables("data")
def seal(data: bytes, *, recipient: bytes, context: bytes) -> bytes:
    """Encrypt `data` so that only the holder of the recipient's private half can read it.

    `context` (the job's identity) is bound into the key: a file copied into another job's row
    does not open there."""
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(bytes(recipient)))
    token = _fernet(shared, context).encrypt(zlib.compress(data, 6))
    return ephemeral.public_key().public_bytes(**_RAW) + token


@sensitive_variables("secret", "private", "shared")
def unseal(sealed: bytes, *, secret: str, context: bytes) -> bytes:
    sealed = bytes(sealed)
    try:
        private = X25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(secret.encode()))
        ephemeral = X25519PublicKey.from_public_bytes(sealed[:_KEY_BYTES])
        shared = private.exchange(ephemeral)
        return zlib.decompress(_fernet(shared, context).decrypt(sealed[_KEY_BYTES:]))
    except (InvalidToken, ValueError, zlib.error) as error:
        raise SealBroken from error
