"""The outbox: every e-mail is a row written in its cause's transaction, sent from there once."""

import datetime
import threading

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from post_office.models import STATUS, Email, Log

from portal import emails
from portal.emails import email_queue
from portal.outbox import outbox_deliver, retry_delay
from portal.tasks import deliver_outbox
from tests.mail_backends import ClaimTimeoutBackend

DOWN = "tests.mail_backends.DownBackend"
START = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=datetime.UTC)


def queue(to="megan@contoso.example", url="http://127.0.0.1:8000/x/"):
    return email_queue(template="password_reset", to=[to], language="en", context={"url": url})


def test_it_writes_the_email_as_a_queued_row_and_sends_nothing_itself(db):
    email = queue()
    email.refresh_from_db()
    assert (email.status, email.to) == (STATUS.queued, ["megan@contoso.example"])
    assert "http://127.0.0.1:8000/x/" in email.message
    assert mail.outbox == []


def test_it_leaves_no_row_when_the_transaction_rolls_back(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue()
        raise RuntimeError("the change failed after its e-mail was queued")
    assert not Email.objects.exists()


def test_it_asks_a_worker_to_deliver_once_the_transaction_commits(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        queue()
        assert mail.outbox == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [["megan@contoso.example"]]  # tests run tasks eagerly
    assert Email.objects.get().status == STATUS.sent


def test_it_sends_each_due_email_once(db):
    for n in range(3):
        queue(to=f"user{n}@example.com")
    assert outbox_deliver() == 3
    assert outbox_deliver() == 0
    assert sorted(m.to[0] for m in mail.outbox) == [f"user{n}@example.com" for n in range(3)]
    assert set(Email.objects.values_list("status", flat=True)) == {STATUS.sent}
    assert Log.objects.filter(status=STATUS.sent).count() == 3


def test_it_sends_at_most_limit_emails_per_run(db):
    for n in range(3):
        queue(to=f"user{n}@example.com")
    assert outbox_deliver(limit=2) == 2
    assert Email.objects.filter(status=STATUS.queued).count() == 1


def test_it_gives_each_email_a_message_id_kept_when_sent_again(db):
    first, second = queue(), queue()
    outbox_deliver()
    ids = [m.message()["Message-ID"] for m in mail.outbox]
    assert ids == [first.message_id, second.message_id]
    assert ids[0] != ids[1]
    assert ids[0].startswith("<") and ids[0].endswith("@127.0.0.1>")  # the portal's host
    # Ops requeue it in the admin (or a worker died after the server took it): same id again.
    Email.objects.filter(pk=first.pk).update(status=STATUS.queued)
    outbox_deliver()
    assert mail.outbox[-1].message()["Message-ID"] == ids[0]


def test_it_doubles_the_wait_from_one_minute_up_to_an_hour():
    waits = [retry_delay(n) for n in range(1, 10)]
    assert [w.total_seconds() / 60 for w in waits] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_delay(1000) == datetime.timedelta(hours=1)


def test_it_retries_a_failed_send_later_with_backoff(db, settings):
    settings.EMAIL_BACKEND = DOWN
    with time_machine.travel(START, tick=False):
        email = queue()
        assert outbox_deliver() == 0
    email.refresh_from_db()
    assert (email.status, email.number_of_retries) == (STATUS.requeued, 1)
    assert email.scheduled_time == START + datetime.timedelta(minutes=1)
    log = Log.objects.get(email=email)
    assert (log.status, log.exception_type) == (STATUS.failed, "SMTPServerDisconnected")
    # Not due yet: not tried again.
    with time_machine.travel(START + datetime.timedelta(seconds=59), tick=False):
        outbox_deliver()
    email.refresh_from_db()
    assert email.number_of_retries == 1
    with time_machine.travel(START + datetime.timedelta(minutes=1), tick=False):
        outbox_deliver()
    email.refresh_from_db()
    assert email.number_of_retries == 2
    assert email.scheduled_time == START + datetime.timedelta(minutes=1 + 2)


def test_it_sends_exactly_once_when_the_mail_server_is_back(db, settings):
    settings.EMAIL_BACKEND = DOWN
    with time_machine.travel(START, tick=False):
        queue()
        outbox_deliver()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(START + datetime.timedelta(minutes=1), tick=False):
        assert outbox_deliver() == 1
        assert outbox_deliver() == 0
    assert len(mail.outbox) == 1
    assert Email.objects.get().status == STATUS.sent


def test_it_gives_up_after_the_last_retry_and_ops_can_requeue(db, settings):
    settings.EMAIL_BACKEND = DOWN
    settings.POST_OFFICE = {**settings.POST_OFFICE, "MAX_RETRIES": 2}
    email = queue()
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(3):
            outbox_deliver()
            clock.shift(datetime.timedelta(hours=1))
        email.refresh_from_db()
        assert (email.status, email.number_of_retries) == (STATUS.failed, 3)
        assert outbox_deliver() == 0  # failed rows wait for a person
        Email.objects.filter(pk=email.pk).update(status=STATUS.queued)  # the admin's "requeue"
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert outbox_deliver() == 1


def test_it_ends_the_run_at_the_first_failure(db, settings):
    # With the mail server down, each try would wait for its timeout: one per run is enough.
    settings.EMAIL_BACKEND = DOWN
    for n in range(3):
        queue(to=f"user{n}@example.com")
    outbox_deliver()
    assert list(Email.objects.order_by("pk").values_list("number_of_retries", flat=True)) == [
        1,
        None,
        None,
    ]


def test_it_delivers_from_the_task_and_the_command(db):
    queue()
    assert deliver_outbox.delay().get() == 1
    queue()
    call_command("send_outbox")
    assert len(mail.outbox) == 2


def test_it_leaves_expired_and_future_emails_alone(db):
    future, expired = queue(), queue()
    Email.objects.filter(pk=future.pk).update(scheduled_time=START + datetime.timedelta(hours=1))
    Email.objects.filter(pk=expired.pk).update(expires_at=START - datetime.timedelta(hours=1))
    with time_machine.travel(START, tick=False):
        assert outbox_deliver() == 0


@pytest.mark.postgres
def test_it_sends_each_email_once_when_workers_race(transactional_db, settings, monkeypatch):
    settings.EMAIL_BACKEND = "tests.mail_backends.SlowBackend"
    monkeypatch.setattr(emails, "outbox_kick", lambda: None)  # only the threads below send
    for n in range(30):
        queue(to=f"user{n}@example.com")
    barrier = threading.Barrier(4)
    sent = []

    def worker():
        try:
            barrier.wait()
            sent.append(outbox_deliver())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(sent) == 30
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"user{n}@example.com" for n in range(30))
    assert len({m.message()["Message-ID"] for m in mail.outbox}) == 30
    assert all(count > 0 for count in sent)  # they really shared the work
    assert set(Email.objects.values_list("status", flat=True)) == {STATUS.sent}


@pytest.mark.postgres
def test_it_bounds_how_long_a_vanished_worker_keeps_its_claim(transactional_db, settings):
    settings.EMAIL_BACKEND = "tests.mail_backends.ClaimTimeoutBackend"
    ClaimTimeoutBackend.seen.clear()
    queue()  # committed at once (no test transaction here), and delivered by the kick
    assert Email.objects.get().status == STATUS.sent
    assert ClaimTimeoutBackend.seen == ["5min"]
    with connection.cursor() as cursor:  # only for the claim's transaction
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchone()[0] == "0"
