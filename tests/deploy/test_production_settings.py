"""The settings docs/production.md relies on, read from the environment in a fresh interpreter
as a production process reads them."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "new-secret-key-" + "n" * 40,
    "KEY_PEPPER": "pepper",
    "MFA_SECRET_KEYS": "dGVzdC1vbmx5LW1mYS1rZXktMDEyMzQ1Njc4OWFiY2Q=",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgres://portal@db.internal:5432/portal",
    "DJANGO_SETTINGS_MODULE": "portal.settings",
}
CLEARED = {"SECRET_KEY_FALLBACKS", "CONN_MAX_AGE", "DISABLE_SERVER_SIDE_CURSORS", "METRICS_TOKEN"}


def _run(code: str, stdin: str = "", **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env={**base, **PRODUCTION, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


# An offer link, as tenants.tokens.offer_token signs it.
SIGN = (
    "from django.core import signing; from tenants.tokens import OFFER_TOKEN_SALT; "
    "print(signing.dumps({'offer': 7}, salt=OFFER_TOKEN_SALT, compress=False))"
)
OPEN = (
    "import sys; from tenants.tokens import offer_from_token; "
    "print(offer_from_token(sys.stdin.readline().strip()))"
)


def test_a_link_signed_with_the_old_key_opens_while_it_is_a_fallback():
    old = "old-secret-key-" + "o" * 40
    token = _run(SIGN, SECRET_KEY=old).stdout.strip()
    assert token

    def opened(**env) -> str:
        result = _run(OPEN, stdin=token + "\n", **env)
        return result.stdout.strip() or result.stderr

    assert opened(SECRET_KEY_FALLBACKS=f"other-{'x' * 40},{old}") == "7"
    assert opened() == "None"  # without the fallback: a tampered link, as far as it knows


def test_pgbouncer_s_settings_reach_the_database_settings():
    show = (
        "from django.db import connection; d = connection.settings_dict; "
        "print(d['CONN_MAX_AGE'], d['DISABLE_SERVER_SIDE_CURSORS'], d['CONN_HEALTH_CHECKS'])"
    )
    assert _run(show).stdout.split() == ["60", "False", "True"]
    tuned = _run(show, CONN_MAX_AGE="0", DISABLE_SERVER_SIDE_CURSORS="1")
    assert tuned.stdout.split() == ["0", "True", "True"], tuned.stderr


def test_a_short_metrics_token_stops_start_up():
    result = _run("", METRICS_TOKEN="short")
    assert result.returncode != 0
    assert "METRICS_TOKEN must be at least 32 characters" in result.stderr
    assert _run("", METRICS_TOKEN="t" * 32).returncode == 0


def test_deletion_before_disabling_stops_start_up():
    result = _run("", RENEWAL_DISABLED_AFTER_DAYS="60", RENEWAL_DELETED_AFTER_DAYS="60")
    assert result.returncode != 0
    assert "RENEWAL_DELETED_AFTER_DAYS must be greater than RENEWAL_DISABLED_AFTER_DAYS" in (
        result.stderr
    )
    later = _run("", RENEWAL_DISABLED_AFTER_DAYS="60", RENEWAL_DELETED_AFTER_DAYS="61")
    assert later.returncode == 0, later.stderr
