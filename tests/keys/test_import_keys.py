import os
import random
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from keys.codec import format_key, generate_key
from keys.models import KeyBatch, ProductKey
from keys.services import key_digest
from tests.helpers import stored_digests, xlsx_bytes

ROOT = Path(__file__).resolve().parents[2]


def run_import(path, *args):
    out, err = StringIO(), StringIO()
    try:
        call_command("import_keys", str(path), *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def keyfile(tmp_path):
    def write(content: bytes | str, name="keys.csv"):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return write


def test_it_imports_one_key_a_line_with_bom_blank_lines_and_crlf(products, keyfile):
    keys = [generate_key() for _ in range(4)]
    data = b"\xef\xbb\xbf" + "\r\n\r\n".join(format_key(k) for k in keys).encode() + b"\r\n\r\n"
    code, out, _err = run_import(keyfile(data), "--product", "BUS-STD", "--seats", "3")
    assert code == 0
    assert "Imported 4 keys" in out
    batch = KeyBatch.objects.get()
    assert (batch.seats_per_key, batch.partner, batch.key_count) == (3, None, 4)
    assert stored_digests() == {key_digest(k) for k in keys}


def test_it_imports_a_csv_with_a_key_column_among_others(products, northwind, keyfile):
    keys = [generate_key() for _ in range(3)]
    rows = ["card,Key,note"] + [f"{i},{format_key(k)},box 7" for i, k in enumerate(keys)]
    code, _out, _err = run_import(
        keyfile("\n".join(rows)), "--product", "BUS-PREM", "--partner", "1000001"
    )
    assert code == 0
    assert KeyBatch.objects.get().partner == northwind
    assert ProductKey.objects.count() == 3


def test_it_reports_every_bad_line_and_imports_nothing(products, make_keys, keyfile):
    known = make_keys(1)[0]
    good = [generate_key() for _ in range(3)]
    typo = good[0][:24] + ("B" if good[0][24] != "B" else "C")
    lines = [
        format_key(good[0]),  # 1
        "BCDFG-HJKMP-QRTVW-XY234-6789O",  # 2 character
        format_key(good[1]),  # 3
        good[0].lower(),  # 4 duplicate of line 1
        "",  # 5 blank: fine
        format_key(known),  # 6 already known
        typo,  # 7 checksum
        "BCDFG",  # 8 length
        format_key(good[2]),  # 9
    ]
    before = ProductKey.objects.count()
    code, _out, err = run_import(keyfile("\n".join(lines)), "--product", "BUS-STD")
    assert code == 1
    assert "line 2: Character 'O' (position 25) is never used in product keys." in err
    assert "line 4: This key appears earlier in the file, on line 1." in err
    assert "line 6: This key is already in the inventory." in err
    assert "line 7: This key contains a typing mistake" in err
    assert "line 8: This key has 5 characters; a product key has 25." in err
    assert "5 bad line(s)" in err
    for line in ("line 1:", "line 3:", "line 5:", "line 9:"):
        assert line not in err
    assert ProductKey.objects.count() == before
    assert KeyBatch.objects.count() == 1  # only make_keys' batch


def test_it_never_prints_a_whole_key_in_its_report(products, make_keys, keyfile):
    known = make_keys(1)[0]
    _code, out, err = run_import(keyfile(format_key(known)), "--product", "BUS-STD")
    assert known not in out + err
    assert format_key(known) not in out + err


def test_it_refuses_an_unknown_product(products, keyfile):
    code, _out, err = run_import(keyfile(generate_key()), "--product", "NOPE")
    assert code == 1
    assert "Unknown product SKU: NOPE" in err
    assert ProductKey.objects.count() == 0


def test_it_refuses_an_unknown_partner(products, keyfile):
    code, _out, err = run_import(
        keyfile(generate_key()), "--product", "BUS-STD", "--partner", "9999999"
    )
    assert code == 1
    assert "Unknown partner ID: 9999999" in err
    assert ProductKey.objects.count() == 0


def test_it_refuses_an_empty_file(products, keyfile):
    for content in (b"", b"\r\n\n  \n", b"key\n", b"\xef\xbb\xbf"):
        code, _out, err = run_import(keyfile(content), "--product", "BUS-STD")
        assert code == 1
        assert "The file holds no product keys." in err
    assert KeyBatch.objects.count() == 0


NOT_TEXT = "This is not a text or CSV file."


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda: xlsx_bytes([generate_key() for _ in range(50)]), id="xlsx"),
        pytest.param(lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000), id="xls"),
        pytest.param(lambda: b"%PDF-1.7\n" + b"stream\n" * 50, id="pdf"),
        # Excel's "Unicode text": UTF-16, a NUL byte after every ASCII character.
        pytest.param(lambda: format_key(generate_key()).encode("utf-16"), id="utf-16"),
        pytest.param(lambda: random.Random(7).randbytes(1024 * 1024), id="a megabyte of junk"),
    ],
)
def test_it_refuses_a_file_that_is_not_text_in_one_message(products, keyfile, content):
    code, _out, err = run_import(keyfile(content()), "--product", "BUS-STD")
    assert code == 1
    assert NOT_TEXT in err
    assert not [line for line in err.splitlines() if line.startswith("line ")]
    assert ProductKey.objects.count() == 0


def test_it_still_lists_the_few_lines_of_a_text_file_that_are_not_utf8(products, keyfile):
    good = [format_key(generate_key()) for _ in range(3)]
    data = "\n".join(good).encode() + b"\nCl\xe9 de test\n"  # a Latin-1 line among keys
    code, _out, err = run_import(keyfile(data), "--product", "BUS-STD")
    assert code == 1
    assert "line 4: The line is not UTF-8 text." in err
    assert NOT_TEXT not in err


def test_it_refuses_a_missing_file(products, tmp_path):
    code, _out, err = run_import(tmp_path / "missing.csv", "--product", "BUS-STD")
    assert code == 1
    assert "Cannot read" in err


def test_it_reports_a_csv_line_without_a_key(products, keyfile):
    code, _out, err = run_import(
        keyfile(f"note,key\nbox,{format_key(generate_key())}\nonly-note\n"), "--product", "BUS-STD"
    )
    assert code == 1
    assert "line 3: The line has no value in the key column." in err


@pytest.mark.postgres
def test_the_command_exits_with_status_1_on_a_bad_file(transactional_db, products, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("BCDFG-OOOOO\n")
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "import_keys", str(path), "--product", "BUS-STD"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "line 1: Character 'O' (position 6)" in result.stderr
