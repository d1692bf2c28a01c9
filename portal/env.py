"""Strict readers for environment variables.

Each helper refuses a bad value with ImproperlyConfigured naming the variable, so a typo in a
deployment stops start-up instead of running with a silently different setting.
"""

import base64
import binascii
import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"The environment variable {name} must be a boolean (1/0, true/false, yes/no, on/off), "
        f"not {value!r}."
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(
            f"The environment variable {name} must be a whole number, not {value!r}."
        ) from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"The environment variable {name} must be at least {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"The environment variable {name} must be at most {maximum}.")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items) and value.strip() != "":
        raise ImproperlyConfigured(
            f"The environment variable {name} must be a comma-separated list without empty items."
        )
    return [item for item in items if item]


def env_url(name: str, default: str | None = None, *, schemes: set[str]) -> str | None:
    value = env_str(name, default)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(
            f"The environment variable {name} must be a URL starting with one of: {allowed}."
        )
    if parts.scheme not in {"sqlite", "filesystem", "memory"} and not parts.hostname:
        raise ImproperlyConfigured(f"The environment variable {name} must name a host.")
    return value


def env_fernet_keys(name: str, default: list[str] | None) -> list[str]:
    """A comma-separated list of Fernet keys (32 bytes in URL-safe base64), the first one used to
    encrypt. Required when there is no default."""
    keys = env_list(name, default)
    if not keys:
        raise ImproperlyConfigured(f"The environment variable {name} is required.")
    for key in keys:
        try:
            valid = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (binascii.Error, UnicodeEncodeError, ValueError):
            valid = False
        if not valid:
            raise ImproperlyConfigured(
                f"The environment variable {name} must list Fernet keys: 32 bytes each, in "
                "URL-safe base64 (44 characters)."
            )
    return keys
