"""Drill 5: a backup taken under load and restored into a fresh database.

While API clients create and renew customers and a person reads pages, the drill opens a
snapshot of the database, counts the rows of every table in it, and runs docs/production.md's
`pg_dump --format=custom` on that very snapshot (`--snapshot`), so that the dump and the counts
describe the same moment. The dump is restored with `pg_restore --exit-on-error` into a new
database; `migrate --check` must pass, a web node started on it (scripts/cluster.sh) must be
ready and serve the partner's pages to the session that was signed in before the backup, and
every table must hold the counted rows."""

import subprocess
import time

import psycopg2

from drills import checks, world
from drills.report import Report
from drills.services import free_ports
from drills.stack import PYTHON, ROOT, Stack, readyz
from drills.traffic import (
    Browser,
    Nodes,
    Tally,
    api_and_page_traffic,
    stop_clients,
)

TITLE = "a backup taken under load, restored into a fresh database"
PAGES = ["/partner/", "/partner/customers/", "/partner/renewals/"]


INVENTORY = 200_000  # keys in stock besides the traffic's: a dump that takes a while


def run(stack: Stack, report: Report) -> None:
    from keys.services import batch_generate

    built = world.build(keys=1500, customers=20)
    batch_generate(product=built.product, count=INVENTORY, partner=built.partner, actor=None)
    stack.cluster_up()
    browser = Browser(stack.ports[0])
    browser.sign_in(built.admin, world.PASSWORD)
    nodes, tally = Nodes(stack.ports), Tally()
    clients = api_and_page_traffic(nodes, tally, built, browser, PAGES)
    time.sleep(4)
    dump = stack.tmp / "portal.dump"
    counted, seconds = _dump_at_a_snapshot(stack, dump)
    meanwhile = sum(_counts(stack.pg.url()).values()) - sum(counted.values())
    time.sleep(2)
    stop_clients(clients)
    report.did(
        f"pg_dump --format=custom of a snapshot taken while 2 API clients created customers, "
        f"2 renewed and a person read pages: {dump.stat().st_size / 1e6:.1f} MB in "
        f"{seconds:.1f} s; {sum(counted.values())} rows in {len(counted)} tables at that moment, "
        f"{meanwhile} more written by the traffic while the dump ran"
    )
    report.found(tally.summary())
    report.other_5xx += tally.other_5xx()
    report.expect(
        tally.total(status=503) + tally.no_answer() == 0, "no request failed during the dump"
    )
    stack.pg.createdb("portal_restored")
    restored = stack.pg.url("portal_restored")
    stack.pg.tool(
        "pg_restore",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--jobs=2",
        f"--dbname={restored}",
        str(dump),
    )
    _compare(report, counted, _counts(restored))
    _portal_on(report, stack, restored, browser, built.api_key)
    checks.fresh_connection()
    outcomes = [o for client in clients for o in client.outcomes]
    created = checks.creations_check([o for o in outcomes if o.what == "create"])
    report.lost += created.lost
    report.doubled += created.doubled


def _tables(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    return [name for (name,) in cursor.fetchall()]


def _count_all(cursor) -> dict[str, int]:
    counts = {}
    for table in _tables(cursor):
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
    return counts


def _counts(url: str) -> dict[str, int]:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            return _count_all(cursor)
    finally:
        connection.close()


def _dump_at_a_snapshot(stack: Stack, dump) -> tuple[dict[str, int], float]:
    """Every table's count, and a dump, of one snapshot taken under the traffic."""
    connection = psycopg2.connect(stack.pg.url())
    connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
            counted = _count_all(cursor)
            started = time.monotonic()
            stack.pg.tool(
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={dump}",
                f"--dbname={stack.pg.url()}",
            )
            return counted, time.monotonic() - started
    finally:
        connection.close()


def _compare(report: Report, counted: dict[str, int], restored: dict[str, int]) -> None:
    differ = {
        table: (counted.get(table), restored.get(table))
        for table in set(counted) | set(restored)
        if counted.get(table) != restored.get(table)
    }
    busy = sorted(counted, key=counted.get, reverse=True)[:4]
    report.expect(
        not differ,
        f"restored with pg_restore --exit-on-error: every one of the {len(counted)} tables holds "
        f"the rows counted in the snapshot (the largest: "
        f"{', '.join(f'{t} {counted[t]}' for t in busy)})"
        + (f"; differ: {differ}" if differ else ""),
    )


def _portal_on(report: Report, stack: Stack, url: str, browser: Browser, api_key: str) -> None:
    """migrate --check, then a web node on the restored database: ready, and the session
    signed in before the backup reads the partner's pages (same SECRET_KEY)."""
    env = {**stack.env, "DATABASE_URL": url}
    check = subprocess.run(
        [str(PYTHON), "manage.py", "migrate", "--check"], cwd=ROOT, env=env, capture_output=True
    )
    report.expect(check.returncode == 0, "migrate --check on the restored database: exit 0")
    port = free_ports(1)
    extra = {
        "DATABASE_URL": url,
        "REDIS_URL": stack.redis.url.rsplit("/", 1)[0] + "/1",  # a queue of its own
        "CACHE_KEY_PREFIX": "drill-restored",
        "CLUSTER_DIR": str(stack.tmp / "restored"),
        "CLUSTER_PORT": str(port),
        "CLUSTER_WEB": "1",
        "CLUSTER_WORKERS": "0",
        "CLUSTER_BEAT": "0",
    }
    try:
        stack.cluster("start", **extra)
        ready = readyz(port)
        pages = [browser.send(path, port=port).status for path in PAGES]
        api = Nodes([port]).send(
            "GET", "/api/v1/customers/", headers={"Authorization": f"Bearer {api_key}"}
        )
        report.expect(
            ready.status == 200 and pages == [200] * len(PAGES) and api.status == 200,
            f"a web node started on the restored database: /readyz {ready.status}, the partner's "
            f"pages {pages} to the session signed in before the backup, the API {api.status}",
        )
    finally:
        stack.cluster("stop", **extra)
