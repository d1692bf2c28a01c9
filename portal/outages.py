"""A service the portal needs is away for a moment: PostgreSQL restarting, Redis stopped.

A request that meets such an outage gets a clear 503 with Retry-After — a page in the reader's
language, or problem+json under /api/ — instead of the generic 500, whichever code met it (a
view, a middleware reading the session, a service in the middle of a transaction). The 500
handler (`portal.views.server_error`) asks `outage_of` about the exception it is handling, so no
view needs to know: the fault drills (`make drills`) restart PostgreSQL and stop Redis under
traffic and count every 5xx that is not one of these.

- **database** (`django.db.OperationalError`, `InterfaceError`): every multi-step write is one
  transaction, so what the request asked for was done completely or not at all. The web process
  needs no restart: Django checks a kept connection before reusing it (`CONN_HEALTH_CHECKS`) and
  connects again on the next request.
- **limits** (Redis unreachable, loading, read-only or full): the guessing limits (key
  look-ups, sign-ins, second-factor codes, e-mail links) and the API's rate limits live there.
  They fail closed: nothing is looked up unlimited, the person is told why. Pages that count
  nothing keep working meanwhile.
"""

import redis.exceptions
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from portal.api.errors import is_api_request, plain_problem
from portal.api.views import accepted_language

DATABASE = "database"
LIMITS = "limits"
# A PostgreSQL restart takes seconds, a Redis restart or failover about as long.
RETRY_AFTER_SECONDS = 30

_DATABASE_ERRORS = (OperationalError, InterfaceError)
# A full Redis (`maxmemory-policy noeviction`) and a replica left read-only by a failover refuse
# the counters' writes: the limits cannot be counted either way.
_LIMITS_ERRORS = (
    redis.exceptions.ConnectionError,  # BusyLoadingError (loading its file after a restart) too
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
)


def outage_of(error: BaseException | None) -> str | None:
    """DATABASE or LIMITS when `error`, or an error it was raised while handling, says that
    service is away; None for anything else (a bug stays a 500).

    The chain matters: a service that catches the database's error to clean up, and meets the
    same dead connection again (or a broken transaction), raises a second error whose context
    is the first."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, _DATABASE_ERRORS):
            return DATABASE
        if isinstance(error, _LIMITS_ERRORS):
            return LIMITS
        error = error.__cause__ or error.__context__
    return None


def _api_detail(outage: str) -> str:
    if outage == LIMITS:
        return _(
            "The limits on guessing and on requests cannot be checked right now, so this "
            "request was refused and nothing was changed. Try again in a minute."
        )
    return _(
        "The database is not answering for a moment (it may be restarting). The request was "
        "done completely or not at all: try it again in a minute, with the same "
        "Idempotency-Key to be safe."
    )


def outage_response(request, outage: str) -> HttpResponse:
    """The 503 for `outage`. Renders without the request's context processors and reads
    nothing from the database: it may be the service that is away."""
    if is_api_request(request):
        with translation.override(accepted_language(request)):
            response = plain_problem("unavailable", 503, _api_detail(outage))
    else:
        language = getattr(request, "LANGUAGE_CODE", None)
        with translation.override(language or translation.get_language_from_request(request)):
            body = render_to_string("503.html", {"outage": outage})
        response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response
