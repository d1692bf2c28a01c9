"""Large imports and generations run as background jobs, with a progress bar (issue 8, item 5)."""

import csv
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from keys import tasks
from keys.codec import format_key, generate_key, validate_key
from keys.models import KeyBatch, KeyJob, KeyJobFile, ProductKey
from keys.services import batch_import, key_digest, key_jobs_sweep
from keys.services import inventory as inventory_service
from portal.models import AuditEvent
from tests.helpers import generate_form, stored_digests
from tests.second_factor import session_verify

GENERATE = "/admin/keys/keybatch/generate/"
IMPORT = "/admin/keys/keybatch/import/"


def job_url(job, what="change"):
    return f"/admin/keys/keyjob/{job.pk}/{what}/"


def key_file(keys) -> SimpleUploadedFile:
    return SimpleUploadedFile("order.csv", ("key\n" + "\n".join(map(format_key, keys))).encode())


@pytest.fixture
def held_jobs(monkeypatch):
    """Jobs queued by the admin wait here instead of running at once, as with a busy worker."""
    queued = []
    monkeypatch.setattr(tasks.run_key_job, "delay", queued.append)
    return queued


@pytest.fixture
def low_threshold(settings):
    settings.KEY_JOB_BACKGROUND_THRESHOLD = 5
    return settings


def keys_of(download) -> list[str]:
    return [validate_key(row["key"]) for row in csv.DictReader(io.StringIO(download.decode()))]


@pytest.mark.postgres
def test_it_generates_120000_keys_in_a_worker_with_progress_that_survives_a_reload(
    transactional_db, client, staff, products, held_jobs, monkeypatch
):
    """The default threshold (100,000), a real worker's task, progress read between chunks."""
    monkeypatch.setattr(inventory_service, "PROGRESS_CHUNK", 40_000)
    client.force_login(staff)
    posted = generate_form(client, product=products["BUS-STD"].pk, count=120_000)
    response = client.post(GENERATE, posted)
    job = KeyJob.objects.get()
    assert response["Location"] == job_url(job)
    assert held_jobs == [job.pk]
    assert KeyBatch.objects.count() == 0

    # Queued: the page (and a reload of it) shows the bar at zero and follows the job.
    for _reload in range(2):
        page = client.get(job_url(job)).content.decode()
        assert "Waiting for a worker: 0 of 120,000 keys (0%)." in page
        assert 'role="progressbar"' in page
        assert 'aria-valuenow="0"' in page and 'aria-valuemax="120000"' in page
        assert "keys/key_job.js" in page
        assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
        # The Content Security Policy forbids inline scripts and styles.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
        assert "style=" not in page

    # The worker runs it; between chunks, the progress address says how far it got.
    seen = []
    real_insert = inventory_service._keys_insert

    def insert_and_look(batch, rows, now):
        seen.append(client.get(job_url(job, "progress")).json())
        real_insert(batch, rows, now)

    monkeypatch.setattr(inventory_service, "_keys_insert", insert_and_look)
    tasks.run_key_job.apply(args=[job.pk])
    assert [(s["state"], s["done"], s["percent"]) for s in seen] == [
        ("running", 0, 0),
        ("running", 40_000, 33),
        ("running", 80_000, 66),
    ]
    assert seen[1]["text"] == "Running: 40,000 of 120,000 keys (33%)."
    assert seen[1]["finished"] is False

    job.refresh_from_db()
    batch = KeyBatch.objects.get()
    assert (job.state, job.done, job.batch, batch.key_count) == (
        "succeeded",
        120_000,
        batch,
        120_000,
    )
    assert client.get(job_url(job, "progress")).json()["finished"] is True
    page = client.get(job_url(job)).content.decode()
    assert f"Generated 120,000 keys in batch #{batch.pk}." in page
    assert 'aria-valuenow="120000"' in page
    assert "key_job.js" not in page  # nothing left to follow
    keys = keys_of(client.post(job_url(job, "download")).content)
    assert len(set(keys)) == 120_000
    assert stored_digests() == {key_digest(k) for k in keys}
    assert not KeyJobFile.objects.exists()
    assert list(
        AuditEvent.objects.filter(target_type="keys.KeyJob").values_list("action", flat=True)
    ) == ["key_job.downloaded", "key_job.succeeded", "key_job.started", "key_job.queued"]


def test_a_generation_below_the_threshold_runs_in_the_request(client, staff, products, settings):
    settings.KEY_JOB_BACKGROUND_THRESHOLD = 10
    client.force_login(staff)
    client.post(GENERATE, generate_form(client, product=products["BUS-STD"].pk, count=9))
    assert KeyJob.objects.get().state == "succeeded"
    assert ProductKey.objects.count() == 9


def test_a_large_import_is_checked_in_the_request_and_inserted_by_a_worker(
    client, staff, products, northwind, low_threshold, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    keys = [generate_key() for _ in range(8)]
    form = client.get(IMPORT).context["form"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            IMPORT,
            {
                "product": products["BUS-PREM"].pk,
                "seats_per_key": 3,
                "partner": northwind.pk,
                "file": key_file(keys),
                "submission": form["submission"].value(),
            },
        )
    job = KeyJob.objects.get()
    batch = KeyBatch.objects.get()
    assert response["Location"] == job_url(job)
    assert (job.kind, job.state, job.total, job.batch) == ("import", "succeeded", 8, batch)
    assert (batch.seats_per_key, batch.partner, batch.note) == (3, northwind, "order.csv")
    assert stored_digests() == {key_digest(k) for k in keys}
    assert not KeyJobFile.objects.exists()  # the worker's copy of the rows is gone
    page = client.get(job_url(job)).content.decode()
    assert f"Imported 8 keys into batch #{batch.pk}." in page
    assert "Download" not in page


def test_a_large_import_with_bad_lines_is_refused_at_once(client, staff, products, low_threshold):
    client.force_login(staff)
    lines = [format_key(generate_key()) for _ in range(8)] + ["BCDFG"]
    response = client.post(
        IMPORT,
        {
            "product": products["BUS-STD"].pk,
            "seats_per_key": 1,
            "file": SimpleUploadedFile("k.txt", "\n".join(lines).encode()),
        },
    )
    assert [line.number for line in response.context["bad_lines"]] == [9]
    assert not KeyJob.objects.exists()


def test_an_import_job_that_meets_a_key_imported_meanwhile_fails_and_keeps_nothing(
    client, staff, products, low_threshold, held_jobs, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    keys = [generate_key() for _ in range(6)]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            IMPORT, {"product": products["BUS-STD"].pk, "seats_per_key": 1, "file": key_file(keys)}
        )
    job = KeyJob.objects.get()
    assert job.state == "queued"
    # While the job waits, someone imports one of its keys.
    batch_import(data=keys[3].encode(), product=products["BUS-BASIC"], actor=None)

    tasks.run_key_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert (job.state, job.error, job.batch) == ("failed", "duplicate", None)
    assert KeyBatch.objects.count() == 1  # only the other import's
    assert stored_digests() == {key_digest(keys[3])}
    assert not KeyJobFile.objects.exists()
    assert AuditEvent.objects.filter(action="key_job.failed", target_id=str(job.pk)).exists()
    message = "Some of these keys were imported by someone else meanwhile. Nothing was imported"
    assert message in client.get(job_url(job)).content.decode()
    listing = client.get("/admin/keys/keyjob/").content.decode()
    assert "Failed" in listing and message in listing
    # Running it again (a redelivered message) does nothing.
    tasks.run_key_job.apply(args=[job.pk])
    assert KeyJob.objects.get().state == "failed"
    assert AuditEvent.objects.filter(action="key_job.started").count() == 1


def test_the_job_list_shows_how_each_job_ended(client, staff, products):
    client.force_login(staff)
    for count in (3, 6, 7):
        client.post(GENERATE, generate_form(client, product=products["BUS-STD"].pk, count=count))
    jobs = list(KeyJob.objects.order_by("pk"))
    client.post(job_url(jobs[1], "download"))
    listing = client.get("/admin/keys/keyjob/").content.decode()
    assert "keys downloaded" in listing
    assert listing.count("keys waiting for their download") == 2
    for job in jobs:
        assert f"Batch #{job.batch_id}" in listing


def test_only_the_requesting_browser_can_download(client, staff, products, django_user_model):
    client.force_login(staff)
    client.post(GENERATE, generate_form(client, product=products["BUS-STD"].pk, count=2))
    job = KeyJob.objects.get()
    cookie = client.cookies[f"keyjob{job.pk}"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == job_url(job, "download")

    colleague = django_user_model.objects.create_superuser("ops2@example.com", "portal-demo")
    client.force_login(colleague)  # the cookie is still in this client: another person
    refused = client.post(job_url(job, "download"), follow=True)
    assert "Only the person who generated these keys can download them." in refused.content.decode()

    client.force_login(staff)
    secret = cookie.value
    del client.cookies[f"keyjob{job.pk}"]  # the same person, another browser
    refused = client.post(job_url(job, "download"), follow=True)
    assert (
        "Only the browser that asked for these keys can download them" in refused.content.decode()
    )
    assert KeyJobFile.objects.filter(job=job).exists()  # a refusal deletes nothing

    client.cookies[f"keyjob{job.pk}"] = secret
    download = client.post(job_url(job, "download"))
    assert len(keys_of(download.content)) == 2
    assert download.cookies[f"keyjob{job.pk}"].value == ""  # the browser forgets the key
    assert client.get(job_url(job, "download")).status_code == 405  # never on a GET


def test_the_sweep_deletes_keys_nobody_downloaded_in_time(client, staff, products, settings):
    settings.KEY_JOB_DOWNLOAD_HOURS = 24
    client.force_login(staff)
    client.post(GENERATE, generate_form(client, product=products["BUS-STD"].pk, count=2))
    job = KeyJob.objects.get()
    assert key_jobs_sweep(now=timezone.now() + timedelta(hours=23))["expired"] == 0
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        call_command("sweep_key_jobs", stdout=io.StringIO())
        # A day later the sign-in's verification is too old for the download (a step-up act):
        # verify again, as the person would, to reach the answer about the deleted keys.
        session_verify(client, staff)
        refused = client.post(job_url(job, "download"), follow=True).content.decode()
    assert not KeyJobFile.objects.exists()
    assert "not downloaded within 24 hours and were deleted" in refused
    assert AuditEvent.objects.filter(action="key_job.download_expired").count() == 1
    assert "keys deleted, never downloaded" in client.get("/admin/keys/keyjob/").content.decode()


def test_the_sweep_fails_a_job_whose_worker_died_and_requeues_a_lost_one(
    client, staff, products, low_threshold, held_jobs, settings, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        for count in (6, 7):
            client.post(
                GENERATE, generate_form(client, product=products["BUS-STD"].pk, count=count)
            )
    dead, lost = KeyJob.objects.order_by("pk")
    KeyJob.objects.filter(pk=dead.pk).update(state="running", started_at=timezone.now())
    # Past the worker's time limit for the running one, past REQUEUE_AFTER for the queued one.
    later = timezone.now() + timedelta(seconds=max(settings.CELERY_TASK_TIME_LIMIT + 61, 601))
    assert key_jobs_sweep(now=later) == {"expired": 0, "lost": 1, "requeued": 1}
    dead.refresh_from_db()
    assert (dead.state, dead.error) == ("failed", "worker_lost")
    assert held_jobs == [dead.pk, lost.pk, lost.pk]
    assert (
        "The worker stopped before the job finished." in client.get(job_url(dead)).content.decode()
    )


def test_following_a_job_needs_the_permission_to_add_batches(client, staff, products, db):
    from django.contrib.auth.models import Permission

    from portal.models import User

    client.force_login(staff)
    client.post(GENERATE, generate_form(client, product=products["BUS-STD"].pk, count=1))
    job = KeyJob.objects.get()
    clerk = User.objects.create_user("clerk@example.com", "portal-demo", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_keybatch"))
    client.force_login(clerk)
    for url in (job_url(job), job_url(job, "progress"), "/admin/keys/keyjob/"):
        assert client.get(url).status_code == 403, url
    assert client.post(job_url(job, "download")).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="add_keybatch"))
    assert client.get(job_url(job)).status_code == 200
    assert client.get("/admin/keys/keyjob/").status_code == 200
    assert client.get("/admin/keys/keyjob/add/").status_code == 403
