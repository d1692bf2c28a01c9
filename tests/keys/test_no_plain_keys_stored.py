"""A leaked database dump must not contain one redeemable key (design §1, Storage)."""

import contextlib
import re
import shutil
import subprocess
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from keys.codec import KeyFormatError, format_key, generate_key, validate_key

pytestmark = pytest.mark.postgres


def dump_database() -> str:
    db = settings.DATABASES["default"]
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to read the database as a thief would"
    result = subprocess.run(
        [
            pg_dump,
            "-h",
            db["HOST"],
            "-p",
            str(db["PORT"]),
            "-U",
            db["USER"],
            "--no-owner",
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


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
