"""Drill 3: a worker killed with kill -9 in the middle of a renewal-notice sweep, a delegation
sweep, an e-mail batch and a key job.

Both beats send each sweep every 10 s (the drill's schedule, set as ops set it in the admin), so
two sweeps start together and share the work; when one is half done, the worker running it is
killed with its whole process group (kill -9: no clean-up of any kind), then started again as
systemd's Restart= would. Its transaction dies with its connection; the next run finishes."""

import datetime
import time
import uuid

from django.utils import timezone

from drills import checks, world
from drills.report import Report
from drills.stack import Stack, kill_mid, periodic_every, wait_until
from drills.traffic import Browser, Nodes, Reader, Tally, run_clients, stop_clients

TITLE = "a worker killed with kill -9 mid-sweep, mid-batch and mid-job"
RENEWALS, RELATIONSHIPS, BATCH, KEYS = 1000, 300, 300, 150_000
PAGES = ["/partner/", "/partner/customers/", "/partner/renewals/", "/partner/delegated-admin/"]
SWEEPS = {
    "renewal": "renewals.tasks.send_renewal_notices",
    "delegation": "tenants.tasks.delegation_sweep",
}


def run(stack: Stack, report: Report) -> None:
    from django_celery_beat.models import PeriodicTask

    built = world.build()
    world.due_subscriptions(built, RENEWALS)
    world.ending_relationships(built, RELATIONSHIPS)
    for entry in PeriodicTask.objects.exclude(task="celery.backend_cleanup"):
        periodic_every(entry.task, None)  # each phase turns on what it drills
    periodic_every("portal.tasks.deliver_outbox", 5)
    stack.cluster_up()
    browser = Browser(stack.ports[0])
    browser.sign_in(built.admin, world.PASSWORD)
    tally = Tally()
    reader = run_clients([Reader("pages", Nodes(stack.ports), tally, browser, PAGES, pause=0.5)])
    report.did(
        f"{RENEWALS} subscriptions due for a renewal notice (2 recipients each), "
        f"{RELATIONSHIPS} delegated-admin relationships ending in 7 days (2 sides each); both "
        "beats send each sweep every 10 s and the outbox pickup every 5 s; a partner admin "
        "reads pages throughout"
    )
    _renewal_sweep(stack, report)
    _delegation_sweep(stack, report)
    _email_batch(stack, report)
    _key_job(stack, report, built)
    _every_notice_delivered(stack, report)
    stop_clients(reader)
    report.found(f"pages read meanwhile: {tally.summary()}")
    report.other_5xx += tally.other_5xx()
    report.expect(tally.bad_503() + tally.no_answer() == 0, "no page failed")


def _killed(report: Report, what: str, caught, total: int) -> None:
    if caught is None:
        report.expect(False, f"{what}: no worker could be caught in its middle (it ended first)")
        return
    worker, at = caught
    report.found(f"{what}: {worker} killed with kill -9 at {at} of {total}, then started again")


def _renewal_sweep(stack: Stack, report: Report) -> None:
    from renewals.models import RenewalNotice

    expected = 2 * RENEWALS
    periodic_every(SWEEPS["renewal"], 10)
    caught = kill_mid(stack, SWEEPS["renewal"], RenewalNotice.objects.count, expected)
    _killed(report, "renewal-notice sweep", caught, expected)
    stack.cluster("revive")
    finished = wait_until(lambda: _renewals_done(expected), 240, pause=1)
    emails = RenewalNotice.objects.exclude(email_id=None).values_list("email_id", flat=True)
    report.expect(
        finished and len(set(emails)) == expected,
        f"renewal notices: {RenewalNotice.objects.count()} in the ledger for {expected} due, "
        f"each with its own e-mail ({len(set(emails))}), none due any more",
    )
    report.lost += max(0, expected - RenewalNotice.objects.count())
    report.doubled += len(emails) - len(set(emails))


def _renewals_done(expected: int) -> bool:
    from renewals.models import RenewalNotice
    from tenants.models import Subscription

    due = Subscription.objects.filter(renewal_notice_on__lte=timezone.localdate()).exists()
    return not due and RenewalNotice.objects.count() >= expected


def _delegation_sweep(stack: Stack, report: Report) -> None:
    from post_office.models import Email

    from tenants.models import DelegationNotice

    expected = 2 * RELATIONSHIPS
    periodic_every(SWEEPS["delegation"], 10)
    caught = kill_mid(stack, SWEEPS["delegation"], DelegationNotice.objects.count, expected)
    _killed(report, "delegation sweep", caught, expected)
    stack.cluster("revive")
    wait_until(lambda: DelegationNotice.objects.count() >= expected, 240, pause=1)
    time.sleep(12)  # another run or two of both beats' sweeps: they must add nothing
    notices = DelegationNotice.objects.count()
    mails = list(
        Email.objects.filter(subject__startswith="Delegated administration of").values_list(
            "to", "subject"
        )
    )
    distinct = {(tuple(to), subject) for to, subject in mails}
    report.expect(
        notices == expected and len(distinct) == len(mails) == expected,
        f"delegation notices: {notices} in the ledger for {expected} due, {len(mails)} e-mails "
        f"({len(distinct)} different recipient and subject)",
    )
    report.lost += max(0, expected - notices)
    report.doubled += len(mails) - len(distinct)


def _email_batch(stack: Stack, report: Report) -> None:
    from post_office.models import STATUS, Email

    from portal.celery import app

    drained = wait_until(lambda: not _unsent().exists(), 300, pause=1)
    report.expect(drained, "the notices' e-mails were all delivered before the batch")
    stack.smtp.delay = 0.02  # a slow mail server: the batch takes a few seconds
    ids = world.outbox_batch(BATCH)
    app.send_task("portal.tasks.deliver_outbox")  # what the commit's kick does
    received = lambda: len(ids & {m.message_id for m in stack.smtp.messages()})  # noqa: E731
    caught = kill_mid(stack, "portal.tasks.deliver_outbox", received, BATCH)
    _killed(report, "e-mail batch", caught, BATCH)
    stack.cluster("revive")
    wait_until(lambda: received() == BATCH, 180, pause=0.5)
    stack.smtp.delay = 0
    got = [m.message_id for m in stack.smtp.messages() if m.message_id in ids]
    copies = len(got) - len(set(got))
    sent = Email.objects.filter(message_id__in=ids, status=STATUS.sent).count()
    report.expect(
        len(set(got)) == BATCH == sent and copies <= 1,
        f"e-mail batch: {len(set(got))} of {BATCH} received and marked sent; sent twice: "
        f"{copies} (at most the one in flight when its worker died, with its Message-ID "
        "unchanged so that mail systems drop the copy)",
    )
    report.lost += BATCH - len(set(got))
    report.doubled += max(0, copies - 1)


def _unsent():
    from post_office.models import STATUS, Email

    return Email.objects.filter(status__in=[STATUS.queued, STATUS.requeued])


def _key_job(stack: Stack, report: Report, built) -> None:
    from django.conf import settings

    from keys.models import KeyBatch, KeyJob, KeyJobFile, ProductKey
    from keys.sealing import recipient_keys
    from keys.services import key_job_generate_start, key_jobs_sweep

    ops = world.person("ops@portal.example", staff=True)
    keys_before, batches_before = ProductKey.objects.count(), KeyBatch.objects.count()
    public, _secret = recipient_keys()
    job, _created = key_job_generate_start(
        product=built.product,
        count=KEYS,
        actor=ops,
        submission=uuid.uuid4(),
        recipient_key=public,
    )
    done = lambda: KeyJob.objects.get(pk=job.pk).done  # noqa: E731
    caught = kill_mid(stack, "keys.tasks.run_key_job", done, KEYS)
    _killed(report, "key job (a generation of 150,000 keys)", caught, KEYS)
    stack.cluster("revive")
    # The job sweep fails a job whose worker died once CELERY_TASK_TIME_LIMIT + 60 s have
    # passed since it started: the drill runs it with the clock that far ahead.
    later = timezone.now() + datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 61)
    swept = key_jobs_sweep(now=later)
    job.refresh_from_db()
    clean = (
        ProductKey.objects.count() == keys_before
        and KeyBatch.objects.count() == batches_before
        and not KeyJobFile.objects.filter(job=job).exists()
    )
    finished = job.state == KeyJob.State.SUCCEEDED and KeyBatch.objects.filter(pk=job.batch_id)
    report.expect(
        (job.state == KeyJob.State.FAILED and job.error == KeyJob.Error.WORKER_LOST and clean)
        or bool(finished),
        f"key job: {job.state} ({job.error or 'no error'}) after the sweep ({swept}); keys "
        f"kept from it: {ProductKey.objects.count() - keys_before}, batches "
        f"{KeyBatch.objects.count() - batches_before}, sealed files left "
        f"{KeyJobFile.objects.filter(job=job).count()}",
    )


def _every_notice_delivered(stack: Stack, report: Report) -> None:
    from post_office.models import STATUS, Email

    from renewals.models import RenewalNotice

    wait_until(lambda: not _unsent().exists(), 300, pause=1)
    checks.fresh_connection()
    notice_ids = set(
        Email.objects.filter(pk__in=RenewalNotice.objects.values("email_id")).values_list(
            "message_id", flat=True
        )
    ) | set(
        Email.objects.filter(subject__startswith="Delegated administration of").values_list(
            "message_id", flat=True
        )
    )
    received = {m.message_id for m in stack.smtp.messages()}
    missing = notice_ids - received
    failed = Email.objects.filter(status=STATUS.failed).count()
    report.expect(
        not missing and not failed,
        f"every notice's e-mail reached the mail server: {len(notice_ids - missing)} of "
        f"{len(notice_ids)} (failed: {failed})",
    )
    report.lost += len(missing)
    for name, task in SWEEPS.items():
        sent = stack.beat_sent(task)
        report.expect(
            all(sent.values()),
            f"both beats sent the {name} sweep ({sent}): the extra runs added nothing",
        )
