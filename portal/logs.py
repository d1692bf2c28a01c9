"""Log lines one can follow across processes: JSON (or plain) with a request id.

A request takes its id from the proxy's `X-Request-ID` when it is a short token, or gets a new
one (`RequestIdMiddleware`); the id goes back in the answer's `X-Request-ID`, into every log
line written while the request is served, and, through the task's headers, into the log lines
of the Celery tasks the request queued (`portal.celery`). Ops grep one id and see the page, its
e-mails and its webhooks.

This module needs neither Django's settings nor an app: gunicorn's configuration
(deploy/gunicorn.conf.py) uses it before Django starts.
"""

import contextvars
import logging
import os
import re
import time
import uuid

from pythonjsonlogger.json import JsonFormatter

# The id of the request being served, or of the request that queued the running task. None in
# a sweep started by beat, a management command, or a request from nowhere.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_request_id", default=None
)
# The Celery task running in this thread (name and id), for the task's own log lines.
current_task: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "current_task", default=None
)

# What a proxy may hand us: a UUID, a hex string, nginx's $request_id, AWS's or Heroku's ids.
# Anything else (too long, spaces, quotes, newlines that would forge a log line) is replaced.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
REQUEST_ID_HEADER = "X-Request-ID"
# Message header of a Celery task that carries the id of the request which queued it.
TASK_HEADER = "portal_request_id"

access_logger = logging.getLogger("portal.access")
# URL parts that are secrets (activation, password-reset and offer links): never in a log line.
SECRET_URL_KWARGS = ("token",)


def request_id_from(value: str | None) -> str:
    """The proxy's id when it is a short token of letters, digits and `.-_`; else a new one."""
    if value and REQUEST_ID_PATTERN.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestContextFilter(logging.Filter):
    """Adds `request_id`, `task` and `task_id` to each record the handler writes (None when
    there is none), so that both formats can name them. A filter rather than a record factory:
    a library logging with extra={"task_id": …} must not collide with these names."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task.get() or (None, None)
        record.__dict__.setdefault("request_id", current_request_id.get())
        record.__dict__.setdefault("task", task[0])
        record.__dict__.setdefault("task_id", task[1])
        return True


class PortalJsonFormatter(JsonFormatter):
    """One JSON object a line. Django's request logger puts the request object on its records:
    its repr holds the whole query string, so it is left out (the message names the path)."""

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("request", None)
        log_data.pop("request_tag", None)
        for name in ("request_id", "task", "task_id"):
            if log_data.get(name) is None:
                log_data.pop(name, None)


class PortalPlainFormatter(logging.Formatter):
    """`time level logger [request id]: message`, the brackets only when there is an id."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return super().format(record)


JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s %(task)s %(task_id)s"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"


def log_format(debug: bool) -> str:
    """LOG_FORMAT when set (json or plain), else JSON in production and plain in DEBUG."""
    value = (os.environ.get("LOG_FORMAT") or ("plain" if debug else "json")).strip().lower()
    if value not in {"json", "plain"}:
        # Not ImproperlyConfigured: this module must not need Django (gunicorn reads it first).
        raise ValueError(
            f"The environment variable LOG_FORMAT must be json or plain, not {value!r}."
        )
    return value


def logging_config(*, fmt: str, level: str, debug: bool) -> dict:
    """The LOGGING dictionary: Django's settings and gunicorn's configuration both use it, so
    the web server's own lines look like the portal's."""
    formatters = {
        "json": {
            "()": "portal.logs.PortalJsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"levelname": "level", "name": "logger"},
            # ISO 8601 in UTC: "2026-01-31T09:15:02.123456+00:00".
            "timestamp": "time",
        },
        "plain": {"()": "portal.logs.PortalPlainFormatter", "fmt": PLAIN_FORMAT},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "portal.logs.RequestContextFilter"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console handler (DEBUG only) would print each of its lines twice.
            "django": {"handlers": [], "level": "INFO"},
            "django.db.backends": {"level": "INFO"},
            # One line per request (the access log); runserver writes its own in DEBUG.
            "portal.access": {"level": "WARNING" if debug else "INFO"},
        },
    }


def loggable_path(request) -> str:
    """The path, without its query string and with the secret parts of a link masked."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name in SECRET_URL_KWARGS:
        value = match.kwargs.get(name) if match else None
        if value:
            path = path.replace(str(value), f"<{name}>")
    return path


def request_id_start(sender, environ, **kwargs) -> None:
    """On Django's request_started: the id is in place before anything of the request logs,
    and stays until request_finished, after Django's own log line about an error answer."""
    current_request_id.set(request_id_from(environ.get("HTTP_X_REQUEST_ID")))


def request_id_end(sender, **kwargs) -> None:
    current_request_id.set(None)


class RequestIdMiddleware:
    """First in MIDDLEWARE: the answer carries the request's id, and the access line (method,
    path without the query string, status, duration) closes the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = current_request_id.get()
        if request_id is None:  # a request made without Django's handler (RequestFactory)
            request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
            current_request_id.set(request_id)
        request.request_id = request_id
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        path = loggable_path(request)
        access_logger.info(
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response
