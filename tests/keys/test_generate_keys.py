import csv
import stat
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keys.codec import validate_key
from keys.models import KeyBatch, ProductKey
from keys.services import key_digest
from tests.helpers import stored_digests


def test_it_writes_the_keys_once_to_a_private_file(products, northwind, tmp_path):
    out = tmp_path / "keys.csv"
    call_command(
        "generate_keys",
        "--product",
        "BUS-BASIC",
        "--count",
        "25",
        "--seats",
        "4",
        "--partner",
        "1000001",
        "--output",
        str(out),
        stdout=StringIO(),
    )
    rows = list(csv.DictReader(out.open()))
    keys = [validate_key(row["key"]) for row in rows]
    assert len(set(keys)) == 25
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    batch = KeyBatch.objects.get()
    assert (batch.product.sku, batch.seats_per_key, batch.partner) == ("BUS-BASIC", 4, northwind)
    assert stored_digests() == {key_digest(k) for k in keys}


def test_it_never_overwrites_an_existing_file(products, tmp_path):
    out = tmp_path / "keys.csv"
    out.write_text("earlier keys")
    with pytest.raises(CommandError) as caught:
        call_command("generate_keys", "--product", "BUS-STD", "--count", "2", "--output", str(out))
    assert caught.value.returncode == 1
    assert out.read_text() == "earlier keys"
    assert ProductKey.objects.count() == 0


def test_it_refuses_unknown_product_and_partner_and_leaves_no_file(products, tmp_path):
    out = tmp_path / "keys.csv"
    with pytest.raises(CommandError) as caught:
        call_command(
            "generate_keys",
            "--product",
            "NOPE",
            "--count",
            "2",
            "--partner",
            "1234567",
            "--output",
            str(out),
        )
    assert "Unknown product SKU: NOPE" in str(caught.value)
    assert "Unknown partner ID: 1234567" in str(caught.value)
    assert not out.exists()


def test_it_refuses_a_count_out_of_range(products, tmp_path):
    with pytest.raises(CommandError, match="--count"):
        call_command(
            "generate_keys", "--product", "BUS-STD", "--count", "0", "--output", str(tmp_path / "k")
        )


def test_ops_revoke_keys_from_a_file_and_look_one_up(products, make_keys, tmp_path, monkeypatch):
    import io

    from keys.codec import format_key, generate_key
    from keys.services import key_digest

    keys = make_keys(3)
    listing = tmp_path / "lost.txt"
    listing.write_text(f"{format_key(keys[0])}\n{keys[1]}\n")
    out = StringIO()
    call_command("revoke_keys", str(listing), "--reason", "box lost", stdout=out)
    assert "2 key(s) revoked" in out.getvalue()
    states = {k: ProductKey.objects.get(digest=key_digest(k)).state for k in keys}
    assert [states[k] for k in keys] == ["revoked", "revoked", "available"]

    bad = tmp_path / "bad.txt"
    bad.write_text(f"{keys[2]}\n{generate_key()}\n")
    with pytest.raises(CommandError):
        call_command("revoke_keys", str(bad), stdout=StringIO(), stderr=StringIO())
    assert ProductKey.objects.get(digest=key_digest(keys[2])).state == "available"

    monkeypatch.setattr("sys.stdin", io.StringIO(keys[2].lower() + "\n"))
    found = StringIO()
    call_command("lookup_key", stdout=found)
    assert "state available" in found.getvalue()
    assert keys[2] not in found.getvalue()
    assert format_key(keys[2]) not in found.getvalue()
    assert keys[2][-5:] in found.getvalue()  # shown masked: only the last five
