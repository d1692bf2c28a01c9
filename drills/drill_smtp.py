"""Drill 4: the mail server down for an hour of simulated time.

The SMTP sink is stopped; partners create customers through the API (an activation e-mail and a
confirmation each), and the workers' tries fail. An hour cannot pass in a drill, so the drill
moves the outbox's own clock: once every waiting e-mail has been tried, each one's next-try
time (`scheduled_time`, 1, 2, 4 … minutes after a failure) is brought to now, and the time
skipped is added to the outage. Past an hour the sink starts again."""

import datetime

from django.db.models import F
from django.utils import timezone

from drills import world
from drills.report import Report
from drills.stack import Stack, periodic_every, wait_until
from drills.traffic import Browser, Creator, Nodes, Reader, Tally, run_clients, stop_clients

TITLE = "the mail server down for an hour (simulated)"
CUSTOMERS = 8
PAGES = ["/partner/", "/partner/customers/", "/partner/renewals/"]
OUTAGE = datetime.timedelta(hours=1)


def run(stack: Stack, report: Report) -> None:
    from post_office.models import Email

    built = world.build(keys=CUSTOMERS + 2)
    periodic_every("portal.tasks.deliver_outbox", 5)
    stack.cluster_up()
    report.did(
        f"mail server stopped; {CUSTOMERS} customers created through the API (an activation "
        "e-mail and a partner's confirmation each); the workers' tries failed, and after each "
        "round the outbox's clock was moved to the next try, until an hour had passed; mail "
        "server started again"
    )
    stack.smtp.stop()
    nodes, tally = Nodes(stack.ports), Tally()
    browser = Browser(stack.ports[1])
    browser.sign_in(built.admin, world.PASSWORD)
    reader = run_clients([Reader("pages", nodes, tally, browser, PAGES, pause=0.5)])
    creator = Creator("create", nodes, tally, built.api_key, built)
    before = Email.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for _ in range(CUSTOMERS):
        creator.step()
    created = [o.status for o in creator.outcomes]
    report.expect(
        created == [201] * CUSTOMERS,
        f"with the mail server down, {CUSTOMERS} customers created through the API: {created}",
    )
    waiting = Email.objects.filter(id__gt=before)
    ids = set(waiting.values_list("message_id", flat=True))
    tries, skipped = _outage(waiting, report)
    stack.smtp.start()
    skipped += _make_due(waiting)
    _pickups(waiting.count())
    delivered = wait_until(lambda: ids <= {m.message_id for m in stack.smtp.messages()}, 120)
    _after(report, stack, waiting, ids, tries, skipped, delivered)
    stop_clients(reader)
    report.found(f"the API calls and the pages read meanwhile: {tally.summary()}")
    report.other_5xx += tally.other_5xx()


def _outage(waiting, report: Report) -> tuple[int, datetime.timedelta]:
    """Rounds of tries until an hour has been skipped: (tries of each e-mail, time skipped)."""
    from post_office.models import STATUS

    skipped, round_ = datetime.timedelta(0), 0
    while skipped < OUTAGE:
        round_ += 1
        _pickups(waiting.count())
        tried = wait_until(
            lambda n=round_: not waiting.filter(number_of_retries__lt=n).exists(), 120, pause=0.5
        )
        if not tried or waiting.exclude(status=STATUS.requeued).exists():
            report.expect(False, f"round {round_}: every e-mail tried and waiting for a retry")
            break
        skipped += _make_due(waiting)
    tries = sorted(set(waiting.values_list("number_of_retries", flat=True)))
    report.found(
        f"{waiting.count()} e-mails waited through {', '.join(map(str, tries))} failed tries "
        f"each while {skipped.total_seconds() / 60:.0f} minutes passed on the outbox's clock"
    )
    return max(tries), skipped


def _make_due(waiting) -> datetime.timedelta:
    """Bring the latest next try to now, every e-mail by the same amount: the time skipped."""
    latest = max(waiting.values_list("scheduled_time", flat=True))
    skip = max(latest - timezone.now(), datetime.timedelta(0)) + datetime.timedelta(seconds=1)
    waiting.update(scheduled_time=F("scheduled_time") - skip)
    return skip


def _pickups(count: int) -> None:
    """What the pickup every minute does over the minutes an outage lasts, at once: a run per
    waiting e-mail (a failed try ends a run, so that one dead server is not waited for again
    and again)."""
    from portal.celery import app

    for _ in range(count):
        app.send_task("portal.tasks.deliver_outbox")


def _after(report, stack, waiting, ids, tries, skipped, delivered) -> None:
    from post_office.models import STATUS

    got = [m.message_id for m in stack.smtp.messages() if m.message_id in ids]
    sent = waiting.filter(status=STATUS.sent).count()
    failed = waiting.filter(status=STATUS.failed).count()
    report.expect(
        delivered and len(set(got)) == len(ids) == sent == 2 * CUSTOMERS and not failed,
        f"once the mail server was back, all {len(ids)} e-mails went out at their next try, "
        f"each once (received {len(got)}, marked sent {sent}, given up {failed}): delayed by "
        f"{skipped.total_seconds() / 60:.0f} minutes and {tries} failed tries, none lost",
    )
    report.lost += len(ids - set(got)) + (2 * CUSTOMERS - len(ids))
    report.doubled += len(got) - len(set(got))
