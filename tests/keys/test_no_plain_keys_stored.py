"""A leaked database dump must not contain one redeemable key (design §1, Storage)."""

import base64
import contextlib
import re
from io import StringIO

import pytest
from django.core.management import call_command

from keys.codec import KeyFormatError, format_key, generate_key, validate_key
from tests.helpers import dump_database

pytestmark = pytest.mark.postgres


def test_a_dump_after_generate_and_import_holds_no_plain_key(transactional_db, products, tmp_path):
    generated_file = tmp_path / "generated.csv"
    call_command(
        "generate_keys",
        "--product",
        "BUS-STD",
        "--count",
        "50",
        "--output",
        str(generated_file),
        stdout=StringIO(),
    )
    generated = [validate_key(line) for line in generated_file.read_text().splitlines()[1:]]
    imported = [generate_key() for _ in range(50)]
    import_file = tmp_path / "import.txt"
    import_file.write_text("\n".join(format_key(k) for k in imported))
    call_command("import_keys", str(import_file), "--product", "BUS-PREM", stdout=StringIO())

    dump = dump_database()
    assert "keys_productkey" in dump  # the dump really holds the inventory
    for key in generated + imported:
        assert key not in dump
        assert format_key(key) not in dump
        assert key[:20] not in dump  # not even everything but the visible last five
    # And no string in the dump that happens to validate as a key at all.
    candidates = re.findall(r"[BCDFGHJKMPQRTVWXY2346789-]{25,29}", dump)
    valid = []
    for candidate in candidates:
        with contextlib.suppress(KeyFormatError):
            valid.append(validate_key(candidate))
    assert valid == []


def assert_no_key_in(dump: str, keys) -> None:
    for key in keys:
        assert key not in dump
        assert format_key(key) not in dump
        assert key[:20] not in dump


def test_a_dump_during_background_jobs_holds_no_plain_key(
    transactional_db, client, staff, products, settings, monkeypatch
):
    """A generation that finished but was not downloaded yet, and an import waiting for a
    worker: the database holds the sealed keys and the rows to insert, never a plain key, nor
    the browser's key that opens the sealed file."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from keys import tasks
    from keys.models import KeyJob, KeyJobFile

    settings.KEY_JOB_BACKGROUND_THRESHOLD = 20
    client.force_login(staff)
    form = client.get("/admin/keys/keybatch/generate/").context["form"]
    client.post(
        "/admin/keys/keybatch/generate/",
        {
            "product": products["BUS-STD"].pk,
            "seats_per_key": 1,
            "count": 60,
            "submission": form["submission"].value(),
        },
    )
    generation = KeyJob.objects.get()
    assert generation.state == "succeeded"  # run by the (eager) worker, not downloaded yet
    secret = client.cookies[f"keyjob{generation.pk}"].value

    monkeypatch.setattr(tasks.run_key_job, "delay", lambda job_id: None)  # a busy worker
    imported = [generate_key() for _ in range(40)]
    client.post(
        "/admin/keys/keybatch/import/",
        {
            "product": products["BUS-PREM"].pk,
            "seats_per_key": 1,
            "file": SimpleUploadedFile("order.txt", "\n".join(imported).encode()),
        },
    )
    assert KeyJob.objects.filter(kind="import", state="queued").exists()
    assert KeyJobFile.objects.count() == 2

    dump = dump_database()
    assert "keys_keyjobfile" in dump  # the dump really holds the jobs' files
    assert bytes(generation.recipient_key).hex() in dump  # binary columns show up in hex
    assert secret not in dump
    assert base64.urlsafe_b64decode(secret).hex() not in dump
    download = client.post(f"/admin/keys/keyjob/{generation.pk}/download/")
    generated = [validate_key(line) for line in download.content.decode().splitlines()[1:]]
    assert len(generated) == 60
    assert_no_key_in(dump, generated + imported)
    candidates = re.findall(r"[BCDFGHJKMPQRTVWXY2346789-]{25,29}", dump)
    valid = []
    for candidate in candidates:
        with contextlib.suppress(KeyFormatError):
            valid.append(validate_key(candidate))
    assert valid == []
