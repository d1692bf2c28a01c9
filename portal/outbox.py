"""Delivering the outbox: the e-mails that portal.emails.email_queue wrote, one row at a time.

Called by the Celery task kicked when an e-mail is queued, by the periodic pickup every minute
and by `manage.py send_outbox`; any number of them may run at once, on any machine.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from post_office.models import STATUS, Email, Log
from post_office.settings import get_backend, get_default_mailer, get_log_level, get_max_retries

from portal.celery import task_send
from portal.services import audit_log

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)
# Longer than any honest send (EMAIL_TIMEOUT per step, the task's time limit) can keep a claim.
CLAIM_TIMEOUT = "5min"


def retry_delay(failures: int) -> timedelta:
    """The wait after the n-th failed try: 1, 2, 4 … minutes, at most an hour."""
    return min(FIRST_RETRY * 2 ** min(failures - 1, 10), LAST_RETRY)


def outbox_kick() -> None:
    """Ask a worker to deliver now. Best effort: when the broker is down the e-mail is already
    committed, and the periodic pickup (every minute) sends it once the broker is back."""
    try:
        task_send("portal.tasks.deliver_outbox")
    except Exception:  # the broker is down (or, in eager mode, the delivery failed)
        # The page that queued must not fail: its change and its e-mail are committed.
        logger.warning(
            "Could not start delivering the outbox now; the periodic pickup will send it.",
            exc_info=True,
        )


def outbox_due(now: datetime):
    """E-mails waiting to be sent at `now`, in the order they go out."""
    return Email.objects.filter(
        Q(scheduled_time__lte=now) | Q(scheduled_time__isnull=True),
        Q(expires_at__gt=now) | Q(expires_at__isnull=True),
        status__in=[STATUS.queued, STATUS.requeued],
    ).order_by(F("priority").desc(nulls_last=True), "pk")


# E-mails one delivery run sends at most (a kicked task's, the periodic pickup's).
DELIVER_LIMIT = 100


def outbox_deliver(*, now: datetime | None = None, limit: int = DELIVER_LIMIT) -> int:
    """Send up to `limit` due e-mails; return how many were sent.

    A failed try ends the run: when the mail server is down, every other row would wait for the
    same connection timeout, and the task would outlive its time limit. The failed row waits for
    its next try (see `retry_delay`); the next run goes on with the others.
    """
    now = now or timezone.now()
    sent = 0
    for _ in range(limit):
        # None: nothing left that is due and not being sent by someone else; False: a failure.
        if not _deliver_one(now):
            break
        sent += 1
    return sent


def _deliver_one(now: datetime) -> bool | None:
    """Claim one due e-mail, send it, record the outcome; None when there is nothing to claim."""
    with transaction.atomic():
        # The row lock is the claim: two workers never send the same row at once, and skip_locked
        # makes a second worker take the next row instead of waiting for this one.
        # The lock lasts until the outcome is committed. A worker killed mid-send (kill -9, OOM)
        # dies with its transaction: PostgreSQL rolls it back and the row is simply still queued
        # for the next run, which sends it again. That copy carries the same Message-ID (fixed
        # when the row was written), so mail systems can drop it.
        if connection.vendor == "postgresql":
            # A worker whose machine vanished never closes its connection: PostgreSQL would hold
            # its lock until TCP keepalives give up (hours). This ends such a claim sooner.
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{CLAIM_TIMEOUT}'")
        email = outbox_due(now).select_for_update(skip_locked=True).first()
        if email is None:
            return None
        try:
            message = email.prepare_email_message()
            if message.recipients():
                # A connection of its own, closed after this message: one that broke on a
                # failure is never reused for the next row.
                backend = get_backend(email.backend_alias or get_default_mailer())
                mailer = get_connection(backend)
                mailer.send_messages([message])  # raises on failure (fail_silently is off)
        except Exception as error:  # whatever the backend raises, the row waits for a retry
            _record_failure(email, error, now)
            return False
        Email.objects.filter(pk=email.pk).update(status=STATUS.sent, last_updated=timezone.now())
        if get_log_level() >= 2:
            Log.objects.create(email=email, status=STATUS.sent, message="")
        return True


def _record_failure(email: Email, error: Exception, now: datetime) -> None:
    failures = (email.number_of_retries or 0) + 1
    if failures <= get_max_retries():
        status, scheduled_time = STATUS.requeued, now + retry_delay(failures)
    else:
        # Out of tries: ops see it as failed in the admin and can requeue it.
        status, scheduled_time = STATUS.failed, email.scheduled_time
    Email.objects.filter(pk=email.pk).update(
        status=status,
        number_of_retries=failures,
        scheduled_time=scheduled_time,
        last_updated=timezone.now(),
    )
    if get_log_level() >= 1:
        Log.objects.create(
            email=email,
            status=STATUS.failed,
            message=str(error)[:2000],
            exception_type=type(error).__name__,
        )
    logger.warning(
        "E-mail %s not sent (try %s, %s): %s",
        email.pk,
        failures,
        "will retry" if status == STATUS.requeued else "gave up",
        error,
    )


def outbox_clean(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Delete the e-mails sent more than OUTBOX_KEEP_SENT_DAYS ago; return how many.

    Only sent ones: a queued, requeued or failed e-mail is work still to do (or for ops to look
    at), whatever its age. post_office's own clean-up deletes every e-mail before a date, sent
    or not, so it is not used. Deleted in batches, each its own short transaction.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.OUTBOX_KEEP_SENT_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                Email.objects.filter(status=STATUS.sent, last_updated__lt=cutoff)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            Log.objects.filter(email_id__in=batch).delete()
            deleted += (
                Email.objects.filter(pk__in=batch, status=STATUS.sent)
                .delete()[1]
                .get("post_office.Email", 0)
            )
    if deleted:
        audit_log(
            action="outbox.cleaned",
            details={"deleted": deleted, "sent_before": cutoff.date().isoformat()},
        )
    return deleted


def outbox_requeue(*, emails, actor) -> int:
    """Ops send e-mails again (the admin's "Requeue" action and "Resend" button): back in the
    queue with a fresh series of tries, delivered by the same one-sender-at-a-time path as any
    other, never sent directly from the admin page. Each one is an audit event.

    A sent e-mail sent again keeps its Message-ID, so a mail system that already delivered it
    may drop the copy: it is for a recipient who says it never arrived.
    """
    with transaction.atomic():
        requeued = list(emails.select_for_update(of=("self",)).order_by("pk"))
        for email in requeued:
            audit_log(
                action="outbox.requeued",
                actor=actor,
                target=email,
                details={
                    "status_was": STATUS._fields[email.status] if email.status is not None else ""
                },
            )
        Email.objects.filter(pk__in=[email.pk for email in requeued]).update(
            status=STATUS.requeued, number_of_retries=0, scheduled_time=None
        )
        if requeued:
            transaction.on_commit(outbox_kick, robust=True)
    return len(requeued)
