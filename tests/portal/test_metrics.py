"""/metrics: Prometheus's scrape, behind METRICS_TOKEN, with request latency per view and the
backlogs read from the database at scrape time."""

import datetime
import uuid

import pytest
import time_machine
from django.db import OperationalError, connection
from post_office.models import STATUS, Email
from prometheus_client.parser import text_string_to_metric_families

from keys.models import KeyJob
from portal.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.factories import SubscriptionFactory

TOKEN = "metrics-token-0123456789abcdef-0123456789"
NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def test_it_is_not_there_without_a_token_set(client, db, settings):
    settings.METRICS_TOKEN = None
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer é"],
)
def test_it_refuses_a_scraper_without_the_token(client, db, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"portal_" not in response.content


def test_it_counts_each_view_s_requests_and_their_latency(client, db, scrape):
    key = ("portal_request_duration_seconds_count", (("method", "GET"), ("view", "healthz")))
    before = scrape().get(key, 0)
    for _ in range(3):
        client.get("/healthz")
    client.get("/no-such-page/")
    after = scrape()
    assert after[key] == before + 3
    assert (
        "portal_responses_total",
        (("method", "GET"), ("status", "404"), ("view", "<unresolved>")),
    ) in after
    bucket = (
        "portal_request_duration_seconds_bucket",
        (("le", "+Inf"), ("method", "GET"), ("view", "healthz")),
    )
    assert after[bucket] == after[key]


def _email(status, created):
    email = Email.objects.create(
        from_email="p@example.com", to=["a@example.com"], subject="s", message="m", status=status
    )
    Email.objects.filter(pk=email.pk).update(created=created)


def _delivery(event, endpoint_url, partner, state, next_attempt_at):
    endpoint = WebhookEndpoint.objects.create(
        partner=partner, url=endpoint_url, secret_encrypted="x", created_by_label="test"
    )
    return WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, state=state, next_attempt_at=next_attempt_at
    )


@pytest.fixture
def backlogs(northwind, products):
    minutes = datetime.timedelta(minutes=1)
    _email(STATUS.queued, NOW - 10 * minutes)
    _email(STATUS.requeued, NOW - 25 * minutes)  # waiting for its next try
    _email(STATUS.sent, NOW - 600 * minutes)  # not counted, however old
    _email(STATUS.failed, NOW - 60 * minutes)
    event = WebhookEvent.objects.create(type="customer.created", partner=northwind)
    State = WebhookDelivery.State
    _delivery(event, "https://a.example/", northwind, State.QUEUED, NOW - 7 * minutes)
    _delivery(event, "https://b.example/", northwind, State.QUEUED, NOW + 30 * minutes)  # retry
    _delivery(event, "https://c.example/", northwind, State.SENDING, NOW - 1 * minutes)
    _delivery(event, "https://d.example/", northwind, State.DELIVERED, NOW - 90 * minutes)
    today = NOW.date()
    # Due since 2 days and today (counted), in 5 days and never (not counted).
    for notice_on in (-2, 0, 5, None):
        SubscriptionFactory(
            tenant__created_by_partner=northwind,
            renewal_notice_on=None if notice_on is None else today + datetime.timedelta(notice_on),
        )
    jobs = [("running", 250, 1000, {}), ("queued", 0, 500, {})]
    jobs.append(("failed", 9, 90, {"finished_at": NOW, "error": "worker_lost"}))  # not counted
    for state, done, total, extra in jobs:
        KeyJob.objects.create(
            kind=KeyJob.Kind.IMPORT,
            state=state,
            product=products["BUS-STD"],
            submission=uuid.uuid4(),
            total=total,
            done=done,
            created_at=NOW - 5 * minutes,
            **extra,
        )


def test_it_reads_the_backlogs_from_the_database_at_scrape_time(
    db, backlogs, scrape, django_assert_num_queries
):
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(6):
        metrics = scrape()
    expected = {
        "portal_metrics_database_up": 1,
        "portal_outbox_queued_emails": 2,
        "portal_outbox_oldest_queued_seconds": 25 * 60,
        "portal_outbox_failed_emails": 1,
        "portal_webhook_oldest_due_seconds": 7 * 60,
        "portal_renewal_notices_due_subscriptions": 2,
        "portal_renewal_notices_overdue_days": 2,
        "portal_key_job_keys_left": 750 + 500,
        "portal_key_job_oldest_unfinished_seconds": 5 * 60,
    }
    assert {name: metrics[(name, ())] for name in expected} == expected
    assert metrics[("portal_webhook_deliveries", (("state", "queued"),))] == 2
    assert metrics[("portal_webhook_deliveries", (("state", "sending"),))] == 1
    assert metrics[("portal_webhook_deliveries", (("state", "failed"),))] == 0
    assert metrics[("portal_key_jobs", (("state", "queued"),))] == 1
    assert metrics[("portal_key_jobs", (("state", "running"),))] == 1
    running = KeyJob.objects.get(state="running")
    assert metrics[("portal_key_job_progress_ratio", (("job", str(running.pk)),))] == 0.25
    beat = "portal_periodic_task_last_run_timestamp_seconds"
    sweep = (beat, (("task", "renewals.tasks.send_renewal_notices"),))
    assert sweep in metrics


def test_it_says_zero_when_nothing_waits(db, scrape):
    with time_machine.travel(NOW, tick=False):
        metrics = scrape()
    for name in (
        "portal_outbox_queued_emails",
        "portal_outbox_oldest_queued_seconds",
        "portal_webhook_oldest_due_seconds",
        "portal_renewal_notices_overdue_days",
        "portal_key_job_keys_left",
    ):
        assert metrics[(name, ())] == 0, name


def test_the_periodic_tasks_show_when_beat_last_sent_them(db, scrape):
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(task="renewals.tasks.send_renewal_notices").update(last_run_at=NOW)
    metrics = scrape()
    sweep = (
        "portal_periodic_task_last_run_timestamp_seconds",
        (("task", "renewals.tasks.send_renewal_notices"),),
    )
    assert metrics[sweep] == NOW.timestamp()


def test_it_still_answers_when_the_database_is_down(client, db, settings, monkeypatch):
    settings.METRICS_TOKEN = TOKEN

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "portal_metrics_database_up 0.0" in text
    assert "portal_outbox_queued_emails" not in text
    assert "portal_request_duration_seconds" in text
