"""Prometheus metrics: what a request costs, and how far behind the background work is.

Two kinds. Request latency and responses per view are counted by `RequestMetricsMiddleware` in
each process; under gunicorn's several workers, prometheus_client's multiprocess mode (the
environment variable PROMETHEUS_MULTIPROC_DIR, a directory emptied when gunicorn starts: see
deploy/gunicorn.conf.py) adds up every worker's counts whichever worker answers the scrape.
The backlogs (outbox, webhooks, renewal notices, key jobs) are read from the database when
Prometheus scrapes (`DatabaseCollector`): the same figures from every node, always current.

Apps add their own figures with `@metric_source` (renewals/metrics.py, keys/metrics.py, loaded
by their AppConfig.ready): the portal imports no app.
"""

import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from post_office.models import STATUS, Email
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from portal.models import WebhookDelivery

logger = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUEST_DURATION = Histogram(
    "portal_request_duration_seconds",
    "Time from the request's arrival in Django to its answer, per view.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RESPONSES = Counter(
    "portal_responses", "Answers given, per view and status code.", ["view", "method", "status"]
)
# Any other method is counted as "other": a client cannot grow the label set.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# A request refused before URL resolution (unknown path, bad host, HTTPS redirect).
UNRESOLVED = "<unresolved>"

MetricSource = Callable[[datetime], Iterable[Metric]]
_SOURCES: list[MetricSource] = []


def metric_source(source: MetricSource) -> MetricSource:
    """Register `source(now)`, which reads the database and yields metric families."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def age_seconds(now: datetime, since: datetime | None) -> float:
    """How long ago `since` was (0 when there is nothing waiting)."""
    return max((now - since).total_seconds(), 0.0) if since else 0.0


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.route) if match else UNRESOLVED
        method = request.method if request.method in METHODS else "other"
        REQUEST_DURATION.labels(view, method).observe(seconds)
        RESPONSES.labels(view, method, str(response.status_code)).inc()
        return response


class DatabaseCollector:
    """Runs every registered source at scrape time. A database that does not answer gives
    `portal_metrics_database_up 0` and no backlog figures, instead of a failed scrape."""

    def collect(self) -> Iterable[Metric]:
        now = timezone.now()
        families: list[Metric] = []
        try:
            for source in _SOURCES:
                families.extend(source(now))
            up = 1
        except DatabaseError:
            logger.warning("metrics: the database did not answer", exc_info=True)
            families, up = [], 0
        yield gauge("portal_metrics_database_up", "Whether the backlog figures could be read.", up)
        yield from families


def exposition() -> bytes:
    """The text Prometheus reads: this node's request figures and the database's backlogs."""
    backlogs = CollectorRegistry()
    backlogs.register(DatabaseCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every gunicorn worker's counts, read from the files they write.
        MultiProcessCollector(backlogs)
        return generate_latest(backlogs)
    return generate_latest(REGISTRY) + generate_latest(backlogs)


@metric_source
def outbox_metrics(now: datetime) -> Iterable[Metric]:
    waiting = [STATUS.queued, STATUS.requeued]
    # Through the status index: only unsent rows are read, not the 90 days of sent ones.
    row = Email.objects.filter(status__in=[*waiting, STATUS.failed]).aggregate(
        queued=Count("pk", filter=Q(status__in=waiting)),
        oldest=Min("created", filter=Q(status__in=waiting)),
        failed=Count("pk", filter=Q(status=STATUS.failed)),
    )
    yield gauge("portal_outbox_queued_emails", "E-mails in the outbox not sent yet.", row["queued"])
    yield gauge(
        "portal_outbox_oldest_queued_seconds",
        "Age of the oldest e-mail not sent yet (0 when none waits).",
        age_seconds(now, row["oldest"]),
    )
    yield gauge(
        "portal_outbox_failed_emails",
        "E-mails that ran out of tries (the admin's outbox can requeue them).",
        row["failed"],
    )


@metric_source
def webhook_metrics(now: datetime) -> Iterable[Metric]:
    State = WebhookDelivery.State
    # Through webhook_delivery_due (state, next_attempt_at): delivered rows are not read.
    row = WebhookDelivery.objects.filter(
        state__in=[State.QUEUED, State.SENDING, State.FAILED]
    ).aggregate(
        queued=Count("pk", filter=Q(state=State.QUEUED)),
        sending=Count("pk", filter=Q(state=State.SENDING)),
        failed=Count("pk", filter=Q(state=State.FAILED)),
        oldest_due=Min("next_attempt_at", filter=Q(state=State.QUEUED, next_attempt_at__lte=now)),
    )
    deliveries = GaugeMetricFamily(
        "portal_webhook_deliveries",
        "Webhook deliveries not delivered, by state (queued includes those waiting to retry).",
        labels=["state"],
    )
    for state in ("queued", "sending", "failed"):
        deliveries.add_metric([state], row[state])
    yield deliveries
    yield gauge(
        "portal_webhook_oldest_due_seconds",
        "How long the most overdue queued delivery has been due (0 when none is).",
        age_seconds(now, row["oldest_due"]),
    )


@metric_source
def periodic_task_metrics(now: datetime) -> Iterable[Metric]:
    # Beat records when it last sent each entry of its schedule (every few minutes, not at
    # once): a value older than the entry's period says beat is down, or that nobody runs it.
    last_runs: dict[str, float] = {}
    for task, last_run_at in PeriodicTask.objects.filter(enabled=True).values_list(
        "task", "last_run_at"
    ):
        stamp = last_run_at.timestamp() if last_run_at else 0.0
        last_runs[task] = max(stamp, last_runs.get(task, 0.0))
    family = GaugeMetricFamily(
        "portal_periodic_task_last_run_timestamp_seconds",
        "When beat last sent each periodic task, in Unix time (0: never).",
        labels=["task"],
    )
    for task, stamp in sorted(last_runs.items()):
        family.add_metric([task], stamp)
    yield family
