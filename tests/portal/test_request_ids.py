"""A request id from the proxy (or a new one) in the answer, in every log line of the request,
and in the log lines of the Celery tasks it queued; JSON or plain lines (LOG_FORMAT)."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from portal.logs import (
    PortalJsonFormatter,
    PortalPlainFormatter,
    RequestContextFilter,
    logging_config,
)
from tests.helpers import real_worker_running, wait_for

ROOT = Path(__file__).resolve().parents[2]
NEW_ID = re.compile(r"[0-9a-f]{32}")


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestContextFilter())  # as the console handler has it

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def collect():
    """The log records of the test (from every thread), with the fields the console handler's
    filter adds."""
    root = logging.getLogger()
    handler, level = Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def records(collect):
    return collect.records


def test_it_keeps_the_proxy_s_id(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="7f3a-b2.c_9")
    assert response["X-Request-ID"] == "7f3a-b2.c_9"


@pytest.mark.parametrize(
    "sent", [None, "", "has space", "a" * 65, "forged\nline", 'quote"d', "ünïcode", "a/b"]
)
def test_it_makes_a_new_id_for_a_missing_or_unsafe_one(client, db, sent):
    headers = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
    first = client.get("/healthz", **headers)["X-Request-ID"]
    second = client.get("/healthz", **headers)["X-Request-ID"]
    assert NEW_ID.fullmatch(first)
    assert first != second


def test_every_line_of_the_request_names_it(client, db, records):
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")
    lines = {(r.name, r.request_id) for r in records}
    assert ("django.request", "req-404") in lines  # Django's "Not Found", after the middleware
    assert ("portal.access", "req-404") in lines
    client.get("/healthz")
    assert records[-1].request_id != "req-404"


def test_the_access_line_masks_the_token_of_a_link(client, db, records):
    token = "cxw9k2-0123456789abcdef0123456789abcdef"
    client.get(f"/customer/activate/MTI/{token}/", HTTP_X_REQUEST_ID="req-link")
    access = [r for r in records if r.name == "portal.access"]
    assert [r.path for r in access] == ["/customer/activate/MTI/<token>/"]
    assert all(token not in r.getMessage() for r in records)


def _smtp_down(settings):
    # Django's SMTP backend at a port where nothing listens: the delivery task logs a warning.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2


def _task_lines(records, task="portal.tasks.deliver_outbox"):
    return [r for r in records if getattr(r, "task", None) == task and r.name == "portal.outbox"]


def test_a_task_the_request_queued_logs_the_request_s_id(
    client, transactional_db, partner_admin, settings, records
):
    _smtp_down(settings)
    response = client.post(
        "/accounts/password_reset/",
        {"email": "partner@northwind.example"},
        HTTP_X_REQUEST_ID="req-reset-1",
    )
    assert response.status_code == 302
    lines = _task_lines(records)
    assert lines, "the delivery task logged its failed try"
    assert {r.request_id for r in lines} == {"req-reset-1"}
    assert all(r.task_id for r in lines)


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_logs_the_id_of_the_request_that_queued_the_task(
    client, transactional_db, partner_admin, settings, collect
):
    _smtp_down(settings)
    records = collect.records
    with real_worker_running():
        # The worker's start set Django's LOGGING up again, handlers and all.
        logging.getLogger().addHandler(collect)
        response = client.post(
            "/accounts/password_reset/",
            {"email": "partner@northwind.example"},
            HTTP_X_REQUEST_ID="req-reset-2",
        )
        assert response.status_code == 302
        assert wait_for(lambda: _task_lines(records), 30)
    lines = _task_lines(records)
    assert {r.request_id for r in lines} == {"req-reset-2"}
    assert {r.threadName for r in lines} != {
        r.threadName for r in records if r.name == "portal.access"
    }


def test_a_json_line_holds_the_fields_and_not_the_request_object():
    config = logging_config(fmt="json", level="INFO", debug=False)["formatters"]["json"]
    formatter = PortalJsonFormatter(**{k: v for k, v in config.items() if k != "()"})
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/x",), None
    )
    record.request = object()  # Django's: its repr would hold the query string
    record.status_code = 404
    RequestContextFilter().filter(record)
    line = json.loads(formatter.format(record))
    assert line["message"] == "Not Found: /x"
    assert (line["level"], line["logger"], line["status_code"]) == (
        "WARNING",
        "django.request",
        404,
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", line["time"])
    assert "request" not in line
    assert "request_id" not in line  # none outside a request


def _log_format(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.LOG_FORMAT)",
        ],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "0"}, "json"),
        ({"DEBUG": "1"}, "plain"),
        ({"DEBUG": "0", "LOG_FORMAT": "plain"}, "plain"),
        ({"DEBUG": "1", "LOG_FORMAT": "JSON"}, "json"),
    ],
)
def test_it_logs_json_in_production_and_plain_in_debug(env, expected):
    result = _log_format(**env)
    assert result.stdout.strip() == expected, result.stderr


def test_it_stops_on_an_unknown_log_format():
    result = _log_format(DEBUG="1", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or plain" in result.stderr


def test_a_plain_line_names_the_request_only_when_there_is_one():
    config = logging_config(fmt="plain", level="INFO", debug=True)["formatters"]["plain"]
    formatter = PortalPlainFormatter(config["fmt"])

    def line(request_id):
        record = logging.LogRecord("portal.x", logging.INFO, __file__, 1, "hello", (), None)
        record.request_id = request_id
        return formatter.format(record).split(" ", 2)[2]

    assert line("req-9") == "INFO portal.x [req-9]: hello"
    assert line(None) == "INFO portal.x: hello"
