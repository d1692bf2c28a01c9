"""Settings for the Partner Key Portal: one module, driven by environment variables.

With nothing set the portal runs embedded (SQLite and a file-system Celery broker under var/,
e-mail written to the console and var/mail/). Production sets DEBUG off, which makes SECRET_KEY
and KEY_PEPPER required. Every variable is listed in README.md.
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from portal.env import env_bool, env_fernet_keys, env_int, env_list, env_str, env_url
from portal.logs import log_format, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)

if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-only-for-debug-mode-0123456789")
    # Only for a developer's machine: demo keys are peppered with a known value.
    KEY_PEPPER = env_str("KEY_PEPPER", "insecure-development-pepper")
else:
    SECRET_KEY = env_str("SECRET_KEY", required=True)
    KEY_PEPPER = env_str("KEY_PEPPER", required=True)
# Earlier signing keys, comma separated: sessions, activation and password-reset links signed
# with one of them still work while SECRET_KEY is rotated (docs/production.md). KEY_PEPPER has
# no fallback: it is no signing key but part of every stored key's digest.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The address links in e-mails point to (e-mails are sent by workers, which have no request).
PORTAL_BASE_URL = env_url(
    "PORTAL_BASE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}
).rstrip("/")
TENANT_DOMAIN_SUFFIX = env_str("TENANT_DOMAIN_SUFFIX", "cloudsuite.example")

INSTALLED_APPS = [
    "portal",
    "keys",
    "tenants",
    "renewals",
    # Django's admin on a site that asks for a verified second factor (portal.admin_site).
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_countries",
    "django_celery_beat",
    "post_office",  # the e-mail outbox (portal/emails.py writes it, portal/outbox.py delivers)
    "bootstrap",  # django-bootstrap-static: Bootstrap's CSS and JS, served by the portal itself
    # The second factor (mfa/): django-otp's framework and its recovery codes, passkeys through
    # django-otp-webauthn. The authenticator app's device is mfa.AuthenticatorApp (encrypted).
    "django_otp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "mfa",  # after django-otp's apps: its admin takes over theirs
    # The REST API (portal/api/, each app's api.py), its OpenAPI schema and the docs page's
    # files (Swagger UI from the sidecar wheel: no CDN).
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    # First: every later log line of the request carries its id, and the timing covers them all.
    "portal.logs.RequestIdMiddleware",
    "portal.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "portal.elision.FrenchElisionMiddleware",
    "portal.middleware.RefuseNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    "portal.page_language.PageLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A session that still owes its second factor reaches only the pages that settle it.
    "mfa.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.ClientAddressMiddleware",
    "portal.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
    {
        # Plain-text e-mails (templates/emails/*.txt): a text/plain body is not HTML, so
        # "Dupont & Co" must stay "Dupont & Co", not "Dupont &amp; Co". Only portal/emails.py
        # renders with this engine (`using="text"`); pages and HTML e-mails stay escaped.
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"autoescape": False},
    },
]

# Database
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
)
# Seconds a web or worker process keeps its database connection between requests (0: a new
# connection for each request). Through PgBouncer the connection is to PgBouncer: keeping it is
# cheap and harmless.
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 60, minimum=0)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=CONN_MAX_AGE)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded mode runs web, worker and beat on one file: wait for the lock instead of
    # failing, and take the write lock at BEGIN so two writers never deadlock.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction mode a cursor may not outlive its transaction, which
    # QuerySet.iterator()'s server-side cursors do: turn them off there (docs/production.md).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool(
        "DISABLE_SERVER_SIDE_CURSORS", False
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: Celery broker and the shared cache (guessing limits must agree across web processes).
REDIS_URL = env_url("REDIS_URL", None, schemes={"redis", "rediss"})
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", REDIS_URL, schemes={"redis", "rediss", "amqp", "filesystem", "memory"}
)
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL is None:
    # Embedded mode: a broker that needs no server (kombu's file-system transport).
    CELERY_BROKER_URL = "filesystem://"
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "store_processed": False,
        # Broadcast (worker control) messages go here, not into the current directory.
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "portal"),
        }
    }
elif DEBUG:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    # A per-process cache would give every web worker its own guessing counters.
    raise ImproperlyConfigured(
        "The environment variable REDIS_URL is required when DEBUG is off: the guessing limits "
        "need a cache that every web process shares."
    )
# The page layout's menus ({% cache … using="fragments" %} in templates/base.html): in each web
# process's memory, keyed by everything they show (person, language, role, tenant), so nothing
# has to be invalidated, and a deploy starts with none.
CACHES["fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "fragments",
    "TIMEOUT": 3600,
    "OPTIONS": {"MAX_ENTRIES": 5000},
}

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = None
# A task is acknowledged only once it finished, and a worker that dies mid-task gives it back,
# so a crash delays work instead of losing it. Tasks are written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# Users
AUTH_USER_MODEL = "portal.User"
# Django's backend, plus the lifecycle's rule: non-admin users of a tenant whose subscriptions
# are all disabled cannot sign in (renewals.auth).
AUTHENTICATION_BACKENDS = ["renewals.auth.LifecycleModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600, minimum=60)
# The customer admin's activation link (signed, single use) stays valid this long.
ACTIVATION_LINK_DAYS = env_int("ACTIVATION_LINK_DAYS", 7, minimum=1, maximum=60)

# The lifecycle after a subscription's end date (design §5), in days counted from the end date
# (the last day of service): expired from the day after it (still fully usable), disabled from
# day RENEWAL_DISABLED_AFTER_DAYS (only admins sign in), deleted on day RENEWAL_DELETED_AFTER_DAYS.
RENEWAL_DISABLED_AFTER_DAYS = env_int("RENEWAL_DISABLED_AFTER_DAYS", 30, minimum=1, maximum=365)
RENEWAL_DELETED_AFTER_DAYS = env_int("RENEWAL_DELETED_AFTER_DAYS", 120, minimum=2, maximum=3650)
if RENEWAL_DELETED_AFTER_DAYS <= RENEWAL_DISABLED_AFTER_DAYS:
    # A subscription is disabled before it is deleted: the other order would delete customers'
    # data on the day their admins were to be warned that sign-in stops.
    raise ImproperlyConfigured(
        "RENEWAL_DELETED_AFTER_DAYS must be greater than RENEWAL_DISABLED_AFTER_DAYS "
        f"({RENEWAL_DELETED_AFTER_DAYS} is not after {RENEWAL_DISABLED_AFTER_DAYS})."
    )

# Failed sign-ins allowed per account and per client address in the window, before the sign-in
# form refuses further tries until the window ends.
SIGNIN_LIMIT_PER_ACCOUNT = env_int("SIGNIN_LIMIT_PER_ACCOUNT", 10, minimum=1)
SIGNIN_LIMIT_PER_ADDRESS = env_int("SIGNIN_LIMIT_PER_ADDRESS", 50, minimum=1)
SIGNIN_WINDOW_MINUTES = env_int("SIGNIN_WINDOW_MINUTES", 15, minimum=1)

# The second factor (mfa/, README "Signing in"). Partner users, customer admins and staff must
# have one; accounts that existed before get this many days with a banner before it is enforced.
MFA_ENROLMENT_GRACE_DAYS = env_int("MFA_ENROLMENT_GRACE_DAYS", 0, minimum=0, maximum=365)
# The acts that grant power or cannot be undone ask for a new verification past this age.
MFA_STEP_UP_MINUTES = env_int("MFA_STEP_UP_MINUTES", 10, minimum=1, maximum=24 * 60)
# Wrong codes (authenticator app, recovery code) allowed per account and per client address in
# the window: a 6-digit code must not be guessable by many tries.
MFA_LIMIT_PER_ACCOUNT = env_int("MFA_LIMIT_PER_ACCOUNT", 5, minimum=1)
MFA_LIMIT_PER_ADDRESS = env_int("MFA_LIMIT_PER_ADDRESS", 30, minimum=1)
MFA_WINDOW_MINUTES = env_int("MFA_WINDOW_MINUTES", 15, minimum=1)
# Encrypts the authenticator apps' secrets at rest (a Fernet key: 32 bytes, URL-safe base64,
# e.g. from `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())"`).
# Kept apart from the database, so that a dump alone yields no secret. Several keys, comma
# separated, rotate: the first encrypts, all decrypt.
MFA_SECRET_KEYS = env_fernet_keys(
    "MFA_SECRET_KEYS",
    # Only for a developer's machine, like the pepper above.
    ["ZGV2ZWxvcG1lbnQtb25seS1tZmEta2V5LTAxMjM0NTY="] if DEBUG else None,
)
# Passkeys (WebAuthn): bound to a host name and to the origins pages are served from. Both follow
# PORTAL_BASE_URL unless set; an IP address is no host name to WebAuthn, so the development
# default (http://127.0.0.1:8000) gives "localhost" (open http://localhost:8000 to use passkeys).
_portal = urlsplit(PORTAL_BASE_URL)
_portal_host = _portal.hostname
if _portal_host and (_portal_host.replace(".", "").isdigit() or ":" in _portal_host):
    _portal_host = "localhost"
_portal_port = f":{_portal.port}" if _portal.port else ""
OTP_WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID", _portal_host)
OTP_WEBAUTHN_RP_NAME = "Partner Key Portal"
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_list(
    "WEBAUTHN_ORIGINS", [f"{_portal.scheme}://{_portal_host}{_portal_port}"]
)
# A passkey is a second factor here, after the password: never a sign-in on its own.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
# django-otp's admin pages show no key or token.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Wrong recovery codes are counted by the portal's own limits (MFA_LIMIT_*), per account and per
# address, not by django-otp's per-device delays.
OTP_STATIC_THROTTLE_FACTOR = 0

# Product keys
KEY_RESERVATION_HOURS = env_int("KEY_RESERVATION_HOURS", 24, minimum=1, maximum=24 * 30)
KEY_GUESS_LIMIT_PER_USER = env_int("KEY_GUESS_LIMIT_PER_USER", 10, minimum=1)
KEY_GUESS_LIMIT_PER_ADDRESS = env_int("KEY_GUESS_LIMIT_PER_ADDRESS", 30, minimum=1)
KEY_GUESS_WINDOW_MINUTES = env_int("KEY_GUESS_WINDOW_MINUTES", 15, minimum=1)
# Imports and generations of this many keys or more run in a Celery worker, with a progress bar
# (a million keys take longer than a web worker may hold a request); smaller ones in the request.
KEY_JOB_BACKGROUND_THRESHOLD = env_int("KEY_JOB_BACKGROUND_THRESHOLD", 100_000, minimum=1)
# How long generated keys wait, sealed, for their one download before the sweep deletes them.
KEY_JOB_DOWNLOAD_HOURS = env_int("KEY_JOB_DOWNLOAD_HOURS", 24, minimum=1, maximum=24 * 7)

# Internationalization
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
# locale/ is the portal's (make messages); locale_libraries/ the French of libraries that ship
# none (django-otp-webauthn's script and errors), kept by hand.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_libraries"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# Static files: Bootstrap comes from a pip package; whitenoise serves everything.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# E-mail
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Partner Key Portal <no-reply@portal.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "portal.mail.ConsoleAndFileBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
# The outbox (django-post-office's Email table). Delivery is the portal's own
# (portal.outbox.outbox_deliver, from a Celery task and the periodic pickup), not post_office's
# Celery hook nor its send_queued_mail command, whose lock is a file on one machine. No
# "BACKENDS" here: post_office then reads EMAIL_BACKEND itself, so there is one setting to change.
POST_OFFICE = {
    "CELERY_ENABLED": False,
    "MESSAGE_ID_ENABLED": True,
    "MESSAGE_ID_FQDN": urlsplit(PORTAL_BASE_URL).hostname,
    # Tries after the first failure; the waits double from 1 minute up to 1 hour (about 15 hours
    # in all with 20), then the e-mail is marked failed in the admin, where ops can requeue it.
    "MAX_RETRIES": env_int("EMAIL_MAX_RETRIES", 20, minimum=0, maximum=100),
}
# Sent e-mails stay in the outbox this long (for ops to look at), then the daily clean-up deletes
# them. Queued and failed ones stay until they are sent or ops deal with them.
OUTBOX_KEEP_SENT_DAYS = env_int("OUTBOX_KEEP_SENT_DAYS", 90, minimum=1)
# Webhooks (portal.webhooks): endpoints must be https URLs of hosts on the public internet. This
# lets a developer's machine and the tests use http://127.0.0.1 and http://localhost receivers
# too; never in production (a partner could make the portal call its own private network).
WEBHOOKS_ALLOW_LOOPBACK = env_bool("WEBHOOKS_ALLOW_LOOPBACK", DEBUG)
# Link e-mails (password reset, resending an activation) allowed per recipient account and per
# client address in the window: nobody can flood a mailbox, or our sender's reputation.
EMAIL_LINK_LIMIT_PER_ACCOUNT = env_int("EMAIL_LINK_LIMIT_PER_ACCOUNT", 5, minimum=1)
EMAIL_LINK_LIMIT_PER_ADDRESS = env_int("EMAIL_LINK_LIMIT_PER_ADDRESS", 20, minimum=1)
EMAIL_LINK_WINDOW_MINUTES = env_int("EMAIL_LINK_WINDOW_MINUTES", 60, minimum=1)

# Security
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe the health check over plain HTTP on the private network; a redirect
# to HTTPS would read as "down". It shows nothing but up/down.
# The same for the readiness check and for Prometheus, which scrapes each web node directly.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Number of proxies in front of the portal whose X-Forwarded-For entries are trusted when reading
# the client address (guessing limits, audit log). 0 means REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere (pages, admin): text that slipped through escaping still
# cannot run. Scripts read their data from <script type="application/json"> (json_script).
# The REST API (design, "API for partners' tools"). Keys are the only way in: no session, so no
# cookie and no CSRF.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["portal.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.ScopedSchema",
    "DEFAULT_THROTTLE_CLASSES": [],
    "EXCEPTION_HANDLER": "portal.api.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_FILTER_BACKENDS": [],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Partner Key Portal API",
    "DESCRIPTION": (
        "The partner's flows for scripts: customers created from product keys, key checks, "
        "licenses added and renewals (with a dry run), subscriptions and direct billing, "
        "delegated administration and its activity log. Send an API key as "
        "`Authorization: Bearer pkp_…`; each operation names the scope it needs. POSTs that "
        "create or apply something take an `Idempotency-Key`. Errors are "
        "`application/problem+json` (RFC 9457) with a stable `type`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # The webhooks' catalogue is documented as OpenAPI 3.1 `webhooks`: the import path of the
    # list (one per event), by name, as portal includes the apps' URLconfs.
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": "tenants.api_webhooks.WEBHOOKS",
    # One name per choice set shared by several endpoints.
    "ENUM_NAME_OVERRIDES": {
        "SubscriptionStateEnum": ["active", "expired", "disabled", "deleted"],
        "LaterStateEnum": ["expired", "disabled", "deleted"],
        "KeyFormatErrorCodeEnum": ["empty", "character", "length", "checksum"],
        "WebhookDeliveryStateEnum": "portal.models.WebhookDelivery.State",
    },
}
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 300, minimum=1)
API_IDEMPOTENCY_HOURS = env_int("API_IDEMPOTENCY_HOURS", 48, minimum=24, maximum=24 * 30)
# Without PostgreSQL: an idempotent request still "running" after this long died with its
# process, so its key is free (PostgreSQL knows at once: the request holds its key locked).
API_IDEMPOTENCY_STALE_SECONDS = env_int("API_IDEMPOTENCY_STALE_SECONDS", 300, minimum=30)
# A key's "last used" is written at most this often (and whenever the address changes).
API_KEY_TOUCH_SECONDS = env_int("API_KEY_TOUCH_SECONDS", 60, minimum=0)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Prometheus metrics at /metrics (portal.metrics), for a scraper sending
# `Authorization: Bearer <METRICS_TOKEN>`. Unset: /metrics answers 404.
METRICS_TOKEN = env_str("METRICS_TOKEN", None)
if METRICS_TOKEN is not None and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "The environment variable METRICS_TOKEN must be at least 32 characters long "
        "(for example from `openssl rand -hex 32`)."
    )

# JSON lines in production, readable ones in DEBUG (LOG_FORMAT=json|plain overrides), each with
# the request id (portal.logs).
try:
    LOG_FORMAT = log_format(DEBUG)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
LOGGING = logging_config(fmt=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"), debug=DEBUG)
