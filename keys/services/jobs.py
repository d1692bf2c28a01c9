"""Key jobs: imports and generations of KEY_JOB_BACKGROUND_THRESHOLD keys or more, run by a
Celery worker with a progress count the admin shows; smaller generations run the same code in
the request. Every state change of a job is an audit event.

How the secrets are kept (DESIGN.md §1: a leaked dump holds no redeemable key):
- An import's file holds plain keys, so it is never stored: the request reads and checks it
  (parsing and digesting a million keys fits in a request; inserting them does not) and hands
  the worker only digests and last five characters, what the inventory itself keeps.
- A generation's new keys must wait for their one download. The worker seals them to a public
  key whose private half only the requester's browser holds (keys/sealing.py); the sealed file
  is deleted when downloaded, or by the sweep after KEY_JOB_DOWNLOAD_HOURS.
"""

import csv
import io
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables
from kombu.exceptions import OperationalError as BrokerUnavailable

from keys.codec import format_key
from keys.models import KeyBatch, KeyJob, KeyJobFile, Product
from keys.sealing import SealBroken, seal, unseal
from keys.services.inventory import (
    KeyImportError,
    KeyRow,
    Progress,
    batch_generate,
    batch_import_rows,
    keys_import_rows,
)
from portal.celery import task_send
from portal.models import Partner, User
from portal.progress import progress_reporter
from portal.services import audit_log

logger = logging.getLogger(__name__)

_DIGEST_BYTES = 32
_ROW_BYTES = _DIGEST_BYTES + 5
# A queued job whose message the broker may have lost is queued again after this long; the
# claim in key_job_run makes a second message harmless.
REQUEUE_AFTER = timedelta(minutes=10)


class KeyJobDownloadRefused(Exception):
    """The keys cannot be handed back: `message` says why, for the person asking."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def _rows_pack(rows: Sequence[KeyRow]) -> bytes:
    return b"".join(digest + last5.encode("ascii") for digest, last5 in rows)


def _rows_unpack(content: bytes) -> list[KeyRow]:
    content = bytes(content)
    return [
        (content[i : i + _DIGEST_BYTES], content[i + _DIGEST_BYTES : i + _ROW_BYTES].decode())
        for i in range(0, len(content), _ROW_BYTES)
    ]


def _seal_context(job: KeyJob) -> bytes:
    return f"portal key job {job.pk}".encode()


def _job_create(
    *,
    kind: str,
    product: Product,
    seats_per_key: int,
    partner: Partner | None,
    note: str,
    actor: User,
    submission: uuid.UUID,
    total: int,
    recipient_key: bytes | None = None,
    content: bytes | None = None,
) -> tuple[KeyJob, bool]:
    """The job of this form: created now (True), or by an earlier post of the same form."""
    existing = KeyJob.objects.filter(submission=submission, requested_by=actor).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            job = KeyJob.objects.create(
                kind=kind,
                product=product,
                seats_per_key=seats_per_key,
                partner=partner,
                note=note,
                requested_by=actor,
                submission=submission,
                total=total,
                recipient_key=recipient_key,
            )
            if content is not None:
                KeyJobFile.objects.create(job=job, content=content)
            audit_log(
                action="key_job.queued",
                actor=actor,
                target=job,
                partner=partner,
                details={"kind": kind, "product": product.sku, "count": total},
            )
    except IntegrityError:
        # The same form posted twice at once: the other request created the job.
        existing = KeyJob.objects.filter(submission=submission, requested_by=actor).first()
        if existing is None:
            raise
        return existing, False
    return job, True


def _in_background(total: int) -> bool:
    return total >= settings.KEY_JOB_BACKGROUND_THRESHOLD


def _enqueue(job_id: int) -> None:
    try:
        task_send("keys.tasks.run_key_job", job_id)
    except BrokerUnavailable:
        # The job is saved; the periodic sweep queues it again (REQUEUE_AFTER).
        logger.exception("Key job %s could not be queued; the sweep will try again.", job_id)


def _dispatch(job: KeyJob) -> KeyJob:
    if _in_background(job.total):
        transaction.on_commit(lambda: _enqueue(job.pk))
        return job
    return key_job_run(job_id=job.pk) or job


def key_job_generate_start(
    *,
    product: Product,
    count: int,
    seats_per_key: int = 1,
    partner: Partner | None = None,
    note: str = "",
    actor: User,
    submission: uuid.UUID,
    recipient_key: bytes,
) -> tuple[KeyJob, bool]:
    """Generate `count` keys, sealed for the browser holding `recipient_key`'s private half.

    Below KEY_JOB_BACKGROUND_THRESHOLD the job runs in this call; from it on, a worker runs it.
    Returns the job and whether this call created it: False when the same form (`submission`)
    was posted before, in which case nothing new is generated.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    job, created = _job_create(
        kind=KeyJob.Kind.GENERATE,
        product=product,
        seats_per_key=seats_per_key,
        partner=partner,
        note=note,
        actor=actor,
        submission=submission,
        total=count,
        recipient_key=recipient_key,
    )
    if created:
        job = _dispatch(job)
    return job, created


def key_job_import_start(
    *,
    data: bytes,
    product: Product,
    seats_per_key: int = 1,
    partner: Partner | None = None,
    note: str = "",
    actor: User,
    submission: uuid.UUID,
) -> KeyBatch | KeyJob:
    """Import a file: now (returns the batch) below KEY_JOB_BACKGROUND_THRESHOLD keys, else as a
    job (returns it). Every line is checked here, so bad lines are reported at once either way.
    Raises KeyImportError."""
    existing = KeyJob.objects.filter(submission=submission, requested_by=actor).first()
    if existing is not None:
        return existing  # the same form posted twice: its job already has the keys
    rows = keys_import_rows(data)
    options = {"product": product, "seats_per_key": seats_per_key, "partner": partner, "note": note}
    if not _in_background(len(rows)):
        return batch_import_rows(rows=rows, actor=actor, **options)
    job, created = _job_create(
        kind=KeyJob.Kind.IMPORT,
        actor=actor,
        submission=submission,
        total=len(rows),
        content=_rows_pack(rows),
        **options,
    )
    if created:
        job = _dispatch(job)
    return job


def _claim(job_id: int, now: datetime) -> KeyJob | None:
    """Take a queued job. A second message for the same job, or a second worker, gets None."""
    with transaction.atomic():
        claimed = KeyJob.objects.filter(pk=job_id, state=KeyJob.State.QUEUED).update(
            state=KeyJob.State.RUNNING, started_at=now
        )
        if not claimed:
            return None
        job = KeyJob.objects.select_related("product", "partner", "requested_by").get(pk=job_id)
        audit_log(action="key_job.started", target=job, partner=job.partner)
        return job


@sensitive_variables("keys", "out")  # the plain keys: never in an error report
def _generate(job: KeyJob, progress: Progress) -> KeyBatch:
    batch, keys = batch_generate(
        product=job.product,
        count=job.total,
        seats_per_key=job.seats_per_key,
        partner=job.partner,
        note=job.note,
        actor=job.requested_by,
        progress=progress,
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key"])
    writer.writerows([format_key(key)] for key in keys)
    sealed = seal(out.getvalue().encode(), recipient=job.recipient_key, context=_seal_context(job))
    KeyJobFile.objects.create(job=job, content=sealed)
    return batch


def _import(job: KeyJob, progress: Progress) -> KeyBatch:
    rows = _rows_unpack(KeyJobFile.objects.get(job=job).content)
    batch = batch_import_rows(
        rows=rows,
        product=job.product,
        seats_per_key=job.seats_per_key,
        partner=job.partner,
        note=job.note,
        actor=job.requested_by,
        progress=progress,
    )
    KeyJobFile.objects.filter(job=job).delete()  # the batch holds the rows now
    return batch


def key_job_run(*, job_id: int) -> KeyJob | None:
    """Run a queued job to its end: succeeded with its batch, or failed with nothing kept.

    What the Celery task calls, and the request for a small generation. Returns the job, or None
    when it was not queued (another worker has it, or it already ended)."""
    job = _claim(job_id, timezone.now())
    if job is None:
        return None
    try:
        with (
            progress_reporter(KeyJob, job.pk, KeyJob.State.RUNNING) as progress,
            transaction.atomic(),
        ):
            if job.kind == KeyJob.Kind.GENERATE:
                batch = _generate(job, progress)
            else:
                batch = _import(job, progress)
            job.state, job.batch, job.done = KeyJob.State.SUCCEEDED, batch, job.total
            job.finished_at = timezone.now()
            job.save(update_fields=["state", "batch", "done", "finished_at"])
            audit_log(
                action="key_job.succeeded",
                target=job,
                partner=job.partner,
                details={"batch": batch.pk, "count": job.total},
            )
    except KeyImportError as error:
        # The only way an import of checked rows fails: a key imported by someone else since.
        _fail(job, KeyJob.Error.DUPLICATE if error.code == "duplicate" else KeyJob.Error.UNEXPECTED)
    except SoftTimeLimitExceeded:
        _fail(job, KeyJob.Error.TIMEOUT)
    except Exception:
        logger.exception("Key job %s failed.", job.pk)
        _fail(job, KeyJob.Error.UNEXPECTED)
    job.refresh_from_db()
    return job


def _fail(job: KeyJob, error: str, now: datetime | None = None) -> bool:
    """End a running job as failed. Its transaction was rolled back: no batch, no key."""
    with transaction.atomic():
        failed = KeyJob.objects.filter(pk=job.pk, state=KeyJob.State.RUNNING).update(
            state=KeyJob.State.FAILED, error=error, finished_at=now or timezone.now()
        )
        KeyJobFile.objects.filter(job_id=job.pk).delete()
        if failed:
            audit_log(
                action="key_job.failed", target=job, partner=job.partner, details={"error": error}
            )
    return bool(failed)


@sensitive_variables("secret", "data")
@transaction.atomic
def key_job_download(*, job: KeyJob, actor: User, secret: str) -> bytes:
    """A generation's keys as CSV, once: opened with the browser's secret, then deleted.

    Raises KeyJobDownloadRefused (another person or browser, already downloaded, expired)."""
    job = KeyJob.objects.select_for_update().get(pk=job.pk)  # two clicks: one download
    if (
        job.kind != KeyJob.Kind.GENERATE
        or job.state != KeyJob.State.SUCCEEDED
        or job.requested_by_id != actor.pk
    ):
        raise KeyJobDownloadRefused(
            _("Only the person who generated these keys can download them.")
        )
    sealed = KeyJobFile.objects.filter(job=job).first()
    if sealed is None:
        if job.downloaded_at is not None:
            raise KeyJobDownloadRefused(
                _(
                    "These keys were already downloaded, on %(date)s UTC. They are handed out "
                    "once: the portal no longer has them."
                )
                % {"date": job.downloaded_at.strftime("%Y-%m-%d %H:%M")}
            )
        raise KeyJobDownloadRefused(
            ngettext(
                "These keys were not downloaded within %(hours)d hour and were deleted. Revoke "
                "the batch and generate new keys.",
                "These keys were not downloaded within %(hours)d hours and were deleted. Revoke "
                "the batch and generate new keys.",
                settings.KEY_JOB_DOWNLOAD_HOURS,
            )
            % {"hours": settings.KEY_JOB_DOWNLOAD_HOURS}
        )
    try:
        data = unseal(sealed.content, secret=secret, context=_seal_context(job))
    except SealBroken:
        raise KeyJobDownloadRefused(
            _(
                "Only the browser that asked for these keys can download them, and this one "
                "does not hold their key (another browser, or its cookies were cleared)."
            )
        ) from None
    sealed.delete()
    job.downloaded_at = timezone.now()
    job.save(update_fields=["downloaded_at"])
    audit_log(action="key_job.downloaded", actor=actor, target=job, partner=job.partner)
    return data


def key_jobs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic clean-up: sealed keys nobody downloaded in time are deleted, jobs whose
    worker died are failed, and queued jobs the broker may have lost are queued again."""
    now = now or timezone.now()
    expired = 0
    cutoff = now - timedelta(hours=settings.KEY_JOB_DOWNLOAD_HOURS)
    while True:
        with transaction.atomic():
            # skip_locked: a file being downloaded right now is left to that download.
            files = list(
                KeyJobFile.objects.filter(
                    job__kind=KeyJob.Kind.GENERATE,
                    job__state=KeyJob.State.SUCCEEDED,
                    job__finished_at__lt=cutoff,
                )
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("job", "job__partner")[:100]
            )
            for sealed in files:
                job = sealed.job
                sealed.delete()
                audit_log(action="key_job.download_expired", target=job, partner=job.partner)
        expired += len(files)
        if len(files) < 100:
            break
    # Celery kills a task at CELERY_TASK_TIME_LIMIT: a job running longer has no worker left,
    # and its transaction was rolled back with the worker's connection.
    dead_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    lost = sum(
        _fail(job, KeyJob.Error.WORKER_LOST, now)
        for job in KeyJob.objects.filter(state=KeyJob.State.RUNNING, started_at__lt=dead_before)
    )
    waiting = list(
        KeyJob.objects.filter(
            state=KeyJob.State.QUEUED, created_at__lt=now - REQUEUE_AFTER
        ).values_list("pk", flat=True)
    )
    for job_id in waiting:
        _enqueue(job_id)
    return {"expired": expired, "lost": lost, "requeued": len(waiting)}
