"""Benchmarks, run on demand (`make bench`), never in `make test`.

1. Import 1,000,000 keys into PostgreSQL through keys.services.batch_import (the code behind
   `import_keys` and the admin upload), then COPY the very same rows into a table with the same
   indexes and constraints, in the same run: keys per second and the ratio between the two.
2. Checking another file of as many keys against that inventory (keys_import_rows): what the
   request does before it hands a large import to a worker, so it must fit in one request.
3. validate_key calls per second.

Uses BENCH_DATABASE_URL, else a scratch database `portal_bench` on the local PostgreSQL
(created and dropped here). Prints the figures; bench/README.md keeps them with the machine.
"""

import io
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAMP = "2026-11-25 00:00:00+00"
COUNT = int(os.environ.get("BENCH_KEYS", "1000000"))
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench")


def recreate_database() -> None:
    import psycopg2

    name = BENCH_URL.rsplit("/", 1)[1]
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def make_keys(count: int, seed: int = 2026) -> list[str]:
    from keys.codec import ALPHABET, check_character

    rng = random.Random(seed)
    keys = set()
    while len(keys) < count:
        payload = "".join(rng.choices(ALPHABET, k=24))
        keys.add(payload + check_character(payload))
    return list(keys)


def main() -> None:
    os.environ["DATABASE_URL"] = BENCH_URL
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from keys.codec import format_key, validate_key
    from keys.models import Product
    from keys.services import batch_import, key_digest, keys_import_rows

    call_command("migrate", verbosity=0)
    product = Product.objects.create(sku="BENCH", name="Benchmark", term_months=12)
    keys = make_keys(COUNT)
    data = ("key\n" + "\n".join(format_key(k) for k in keys) + "\n").encode()
    print(f"file: {COUNT} keys, {len(data) / 1e6:.1f} MB")

    started = time.perf_counter()
    batch = batch_import(data=data, product=product, actor=None, note="bench")
    import_seconds = time.perf_counter() - started
    assert batch.key_count == COUNT

    others = make_keys(COUNT, seed=2027)
    data = ("key\n" + "\n".join(format_key(k) for k in others) + "\n").encode()
    started = time.perf_counter()
    assert len(keys_import_rows(data)) == COUNT
    check_seconds = time.perf_counter() - started

    # The floor: COPY the same rows into a table with the same indexes and constraints.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_copy (LIKE keys_productkey INCLUDING ALL)")
    started = time.perf_counter()
    rows = io.StringIO()
    for key in keys:
        digest = key_digest(key).hex()
        rows.write(f"{batch.pk}\t\\\\x{digest}\t{key[-5:]}\tavailable\t{STAMP}\n")
    rows.seek(0)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            "COPY bench_copy (batch_id, digest, last5, state, created_at) FROM STDIN", rows
        )
    connection.commit() if not connection.get_autocommit() else None
    copy_seconds = time.perf_counter() - started

    sample = [format_key(k) for k in keys[:200_000]]
    started = time.perf_counter()
    for raw in sample:
        validate_key(raw)
    validate_seconds = time.perf_counter() - started

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        print(f"PostgreSQL {cursor.fetchone()[0]}")
    print(f"import_keys service: {import_seconds:.1f} s, {COUNT / import_seconds:,.0f} keys/s")
    print(
        f"plain COPY (digest computed in the same loop): {copy_seconds:.1f} s, "
        f"{COUNT / copy_seconds:,.0f} keys/s"
    )
    print(f"ratio import / COPY: {import_seconds / copy_seconds:.2f}")
    print(f"checking another file against the inventory (request part): {check_seconds:.1f} s")
    print(f"validate_key: {len(sample) / validate_seconds:,.0f} calls/s")
    connection.close()


if __name__ == "__main__":
    main()
