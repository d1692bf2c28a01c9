"""The daily clean-up: sent e-mails go after OUTBOX_KEEP_SENT_DAYS; work still to do stays."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from post_office.models import STATUS, Email

from portal.emails import email_queue
from portal.models import AuditEvent
from portal.outbox import outbox_clean

LONG_AGO = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
NOW = datetime.datetime(2026, 11, 27, 3, 17, tzinfo=datetime.UTC)


def queued(status, when, to="megan@contoso.example"):
    with time_machine.travel(when, tick=False):
        email = email_queue(
            template="password_reset", to=[to], language="en", context={"url": "http://x/"}
        )
        Email.objects.filter(pk=email.pk).update(status=status, last_updated=when)
    return email


@pytest.fixture
def outbox(db, django_capture_on_commit_callbacks):
    # The kick after commit is not run (nothing captured is executed): rows stay as written.
    with django_capture_on_commit_callbacks(execute=False):
        return {
            "old sent": queued(STATUS.sent, LONG_AGO),
            "old failed": queued(STATUS.failed, LONG_AGO),
            "old queued": queued(STATUS.queued, LONG_AGO),
            "recent sent": queued(STATUS.sent, NOW - datetime.timedelta(days=89)),
        }


def test_it_deletes_only_the_emails_sent_before_the_cutoff(outbox):
    assert outbox_clean(now=NOW) == 1
    left = set(Email.objects.values_list("pk", flat=True))
    assert left == {outbox[name].pk for name in ["old failed", "old queued", "recent sent"]}
    event = AuditEvent.objects.get(action="outbox.cleaned")
    assert event.details == {"deleted": 1, "sent_before": "2026-08-29"}


def test_the_cutoff_is_a_setting(outbox, settings):
    settings.OUTBOX_KEEP_SENT_DAYS = 30
    assert outbox_clean(now=NOW) == 2


def test_it_works_in_batches_and_audits_nothing_when_there_is_nothing(outbox):
    assert outbox_clean(now=NOW, batch_size=1) == 1
    assert outbox_clean(now=NOW, batch_size=1) == 0
    assert AuditEvent.objects.filter(action="outbox.cleaned").count() == 1


def test_the_command_replays_a_day(outbox, capsys):
    call_command("clean_outbox", "--date", "2026-04-01")  # 86 days after LONG_AGO: kept
    assert "0 sent e-mail(s) deleted." in capsys.readouterr().out
    call_command("clean_outbox", "--date", "2026-04-10")
    assert "1 sent e-mail(s) deleted." in capsys.readouterr().out
