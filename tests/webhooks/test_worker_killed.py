"""A real Celery worker killed with `kill -9` while it sends a webhook loses nothing: the sweep
sends it again, with the same webhook-id, so the receiver can drop the copy."""

import datetime
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.celery import app as celery_app
from portal.models import WebhookDelivery
from portal.webhooks.delivery import webhook_deliveries_sweep
from portal.webhooks.services import webhook_event_emit
from tests.helpers import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo"]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def test_a_webhook_a_killed_worker_was_sending_is_sent_again(
    transactional_db, endpoint, receiver, northwind, tmp_path
):
    arrived, release = threading.Event(), threading.Event()

    def stall(handler):  # the first request hangs "in the middle of sending"
        arrived.set()
        release.wait(60)

    receiver.answers = [stall]
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    celery_app.control.purge()
    with log.open("w") as output:
        worker = subprocess.Popen(
            [*WORKER, "--without-gossip", "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    eager = celery_app.conf.task_always_eager
    try:
        celery_app.conf.task_always_eager = False
        event = webhook_event_emit(type="customer.created", partner=northwind, payload={})
        assert arrived.wait(60), log.read_text()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        celery_app.conf.task_always_eager = eager
        release.set()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.SENDING, 1)
    assert webhook_deliveries_sweep() == 0  # its claim is still young: maybe a slow worker
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6), tick=False):
        assert webhook_deliveries_sweep() == 1
    assert wait_for(lambda: len(receiver.received) == 2, 10)
    assert receiver.ids == [event.id, event.id]
    assert [r.verified_by for r in receiver.received] == [receiver.secrets] * 2
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.DELIVERED, 2)
