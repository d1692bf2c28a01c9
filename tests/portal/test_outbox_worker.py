"""A real Celery worker killed with `kill -9` while it sends an e-mail loses nothing."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from post_office.models import STATUS, Email

from portal import emails
from portal.celery import app as celery_app
from portal.emails import email_queue
from portal.outbox import outbox_deliver
from portal.tasks import deliver_outbox
from tests.helpers import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo"]


def _database_url() -> str:
    """The test database (not the one named in DATABASE_URL), for the worker's process."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def test_it_sends_again_what_a_killed_worker_was_sending(transactional_db, tmp_path, monkeypatch):
    monkeypatch.setattr(emails, "outbox_kick", lambda: None)  # the worker below is kicked by hand
    email = email_queue(
        template="password_reset",
        to=["megan@contoso.example"],
        language="en",
        context={"url": "http://127.0.0.1:8000/x/"},
    )
    marker = tmp_path / "sending"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        # Writes the marker, then hangs "in the middle of sending".
        "TEST_EMAIL_BACKEND": "tests.mail_backends.StallingBackend",
        "TEST_EMAIL_MARKER": str(marker),
    }
    celery_app.control.purge()  # nothing left over from another run
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
        # Through Redis, as after a commit in production.
        celery_app.conf.task_always_eager = False
        deliver_outbox.delay()
        assert wait_for(marker.exists, 60), log.read_text()
        assert wait_for(lambda: marker.read_text(), 5)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        celery_app.conf.task_always_eager = eager
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert marker.read_text() == email.message_id  # it was sending this one when it died

    # Not lost, not marked as anything: its transaction died with the worker.
    email.refresh_from_db()
    assert (email.status, email.number_of_retries) == (STATUS.queued, None)
    # The next run (the periodic pickup) sends it as soon as PostgreSQL has seen the dead
    # connection go and released its row lock, not an hour later.
    assert wait_for(lambda: outbox_deliver() == 1, 10)
    assert outbox_deliver() == 0
    assert [m.message()["Message-ID"] for m in mail.outbox] == [email.message_id]
    assert Email.objects.get().status == STATUS.sent
