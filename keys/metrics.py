"""Key jobs' progress, for /metrics (portal.metrics)."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, F, Min, Q, Sum
from prometheus_client.core import GaugeMetricFamily, Metric

from keys.models import KeyJob
from portal.metrics import age_seconds, gauge, metric_source

State = KeyJob.State


@metric_source
def key_job_metrics(now: datetime) -> Iterable[Metric]:
    unfinished = KeyJob.objects.filter(state__in=[State.QUEUED, State.RUNNING])
    row = unfinished.aggregate(
        queued=Count("pk", filter=Q(state=State.QUEUED)),
        running=Count("pk", filter=Q(state=State.RUNNING)),
        left=Sum(F("total") - F("done")),
        oldest=Min("created_at"),
    )
    jobs = GaugeMetricFamily(
        "portal_key_jobs", "Key jobs not finished, by state.", labels=["state"]
    )
    for state in ("queued", "running"):
        jobs.add_metric([state], row[state])
    yield jobs
    yield gauge(
        "portal_key_job_keys_left", "Keys the unfinished jobs have yet to do.", row["left"] or 0
    )
    yield gauge(
        "portal_key_job_oldest_unfinished_seconds",
        "Age of the oldest key job not finished (0 when none is).",
        age_seconds(now, row["oldest"]),
    )
    progress = GaugeMetricFamily(
        "portal_key_job_progress_ratio", "Share of its keys a running job has done.", labels=["job"]
    )
    running = unfinished.filter(state=State.RUNNING).values_list("pk", "done", "total")
    for pk, done, total in running:
        progress.add_metric([str(pk)], done / total if total else 0.0)
    yield progress
