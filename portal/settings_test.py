"""Settings for the test suite: the real settings, plus the services found on this machine.

DATABASE_URL and REDIS_URL are used when set. Otherwise the PostgreSQL and Redis answering on
localhost's standard ports are used (as on the team's machines and CI). Only where neither exists
do the tests fall back to SQLite and local memory; tests/conftest.py then skips the PostgreSQL,
Redis and browser tests and says why, except under CI=true where a missing service is an error.
"""

import os
import socket
import tempfile


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


MISSING_SERVICES: list[str] = []

if not os.environ.get("DATABASE_URL"):
    if _answers("127.0.0.1", 5432):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/portal"
    else:
        MISSING_SERVICES.append("PostgreSQL (no DATABASE_URL and nothing on 127.0.0.1:5432)")
if not os.environ.get("REDIS_URL"):
    if _answers("127.0.0.1", 6379):
        # Database 15 keeps the tests away from a developer's running portal (database 0).
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    else:
        MISSING_SERVICES.append("Redis (no REDIS_URL and nothing on 127.0.0.1:6379)")
        # Production settings refuse to start without a shared cache; the development mode
        # allows local memory (and the test runner turns DEBUG off again anyway).
        os.environ["DEBUG"] = "1"

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghij")
os.environ.setdefault("KEY_PEPPER", "test-pepper")
os.environ.setdefault("MFA_SECRET_KEYS", "dGVzdC1vbmx5LW1mYS1rZXktMDEyMzQ1Njc4OWFiY2Q=")
os.environ.setdefault("CACHE_KEY_PREFIX", "portal-test")
os.environ.setdefault("VAR_DIR", os.path.join(tempfile.gettempdir(), "portal-test-var"))
# The test client speaks plain HTTP.
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ["SESSION_COOKIE_SECURE"] = "0"
os.environ["CSRF_COOKIE_SECURE"] = "0"
# The tests' webhook receivers listen on 127.0.0.1.
os.environ.setdefault("WEBHOOKS_ALLOW_LOOPBACK", "1")

from portal.settings import *  # noqa: E402,F403

ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
# TEST_EMAIL_BACKEND is only for a worker that a test starts in a subprocess (a backend from
# tests/ that stalls, so the test can kill the worker mid-send); the suite itself uses locmem.
EMAIL_BACKEND = os.environ.get(
    "TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
)
# Tasks run in the process that queues them: e-mails land in the locmem outbox.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
