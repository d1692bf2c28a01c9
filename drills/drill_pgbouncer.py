"""Drill 6: every process of the portal through a real PgBouncer in transaction pooling mode.

docs/production.md ("PgBouncer in transaction mode"): DATABASE_URL points at PgBouncer, whose
pool (drills/services.py BOUNCER_SETTINGS) has 3 server connections for some ten client
processes, DISABLE_SERVER_SIDE_CURSORS=1, CONN_MAX_AGE 60, the role's time zone set, migrate run
straight against PostgreSQL (drills/stack.py). The drill's own process goes through it too.

Under API clients creating and renewing customers and a person reading pages (the activity
log's CSV export among them: QuerySet.iterator()), both beats send the renewal-notice and
delegation sweeps (ledgers, SELECT … FOR UPDATE SKIP LOCKED), the outbox sends a batch (a row
lock per e-mail, SET LOCAL), a worker runs a key job (its progress written through a second
connection while its own transaction holds the first) and the admin's import check runs (a
temporary table and COPY). Then PgBouncer is paused and resumed (the traffic waits), and
restarted (the requests it cuts get the 503 outage answer). PostgreSQL logs every statement the
portal sends: none may leave state on a server connection for the next transaction, which may
be another process's."""

import contextlib
import re
import threading
import time
import uuid

import psycopg2

from drills import checks, world
from drills.report import Report
from drills.services import BOUNCER_SETTINGS
from drills.stack import Stack, periodic_every, wait_until
from drills.traffic import (
    Browser,
    Nodes,
    Tally,
    api_and_page_traffic,
    stop_clients,
)

TITLE = "every process through PgBouncer in transaction pooling mode"
STACK = {"bouncer": True}
RENEWALS, RELATIONSHIPS, ENTRIES, BATCH, KEYS, IMPORTED = 300, 100, 12, 200, 150_000, 20_000
PAGES = [
    "/partner/",
    "/partner/customers/",
    "/partner/renewals/",
    "/partner/delegated-admin/",
    "/partner/activity/",
    "/partner/activity/export/",
]
SWEEPS = {
    "renewal": "renewals.tasks.send_renewal_notices",
    "delegation": "tenants.tasks.delegation_sweep",
}
POOL = int(BOUNCER_SETTINGS["default_pool_size"])


def run(stack: Stack, report: Report) -> None:
    from django_celery_beat.models import PeriodicTask

    from tenants.models import Subscription

    built = world.build(keys=1500, customers=20)
    world.due_subscriptions(built, RENEWALS)
    entries = world.activity(built, world.ending_relationships(built, RELATIONSHIPS), ENTRIES)
    for entry in PeriodicTask.objects.exclude(task="celery.backend_cleanup"):
        periodic_every(entry.task, None)  # the sweeps start once the traffic runs
    periodic_every("portal.tasks.deliver_outbox", 5)
    ends_before = dict(
        Subscription.objects.filter(tenant_id__in=built.customers).values_list(
            "tenant_id", "end_date"
        )
    )
    stack.cluster_up()
    watch = PoolWatch(stack)
    watch.start()
    browser = Browser(stack.ports[0])
    browser.sign_in(built.admin, world.PASSWORD)
    web_before = stack.group("web-1") | stack.group("web-2")
    nodes, tally = Nodes(stack.ports), Tally()
    clients = api_and_page_traffic(nodes, tally, built, browser, PAGES, reader_pause=0.2)
    report.did(
        f"PgBouncer in front of PostgreSQL ({_settings()}) for every process: 4 gunicorn "
        "workers, 2 Celery workers, 2 beats and the drill's own; 2 API clients creating "
        f"customers, 2 renewing 20, a partner admin reading {len(PAGES)} pages (the activity "
        f"log's CSV export of {entries} entries among them), over both nodes"
    )
    _sweeps(stack, report)
    _jobs(report, built)
    xacts = _pause_and_resume(stack, report, tally)
    _restart(stack, report, tally)
    stop_clients(clients)
    watch.halt.set()
    checks.fresh_connection()
    _answers(report, tally)
    checks.api_outcomes(report, clients, ends_before)
    _export(report, browser, entries)
    _mail(report, stack)
    _pool(report, watch, xacts + _transactions(stack))
    _statements(report, stack)
    checks.web_nodes_recovered(
        report, stack, web_before, "each reconnected to PgBouncer on its next request"
    )


def _settings() -> str:
    return ", ".join(f"{name} = {value}" for name, value in BOUNCER_SETTINGS.items())


class PoolWatch(threading.Thread):
    """Twice a second: PostgreSQL's connections to the portal's database (each one of
    PgBouncer's server connections) and PgBouncer's clients (the portal's connections)."""

    def __init__(self, stack: Stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.halt = threading.Event()
        self.servers = self.clients = 0
        self.maxwait = 0.0

    def run(self) -> None:
        while not self.halt.wait(0.5):
            with contextlib.suppress(psycopg2.Error):
                self.servers = max(self.servers, self._servers())
            with contextlib.suppress(psycopg2.Error):
                for pool in self.stack.bouncer.admin("SHOW POOLS"):
                    if pool["database"] == "portal":
                        self.clients = max(self.clients, pool["cl_active"] + pool["cl_waiting"])
                        wait = pool["maxwait"] + pool["maxwait_us"] / 1e6
                        self.maxwait = max(self.maxwait, wait)

    def _servers(self) -> int:
        connection = psycopg2.connect(self.stack.pg.url("postgres"), connect_timeout=5)
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = 'portal' AND backend_type = 'client backend'"
                )
                return cursor.fetchone()[0]
        finally:
            connection.close()


def _transactions(stack: Stack) -> int:
    """Transactions PgBouncer passed to the portal's database since it started."""
    stats = stack.bouncer.admin("SHOW STATS")
    return sum(int(row["total_xact_count"]) for row in stats if row["database"] == "portal")


# --- The sweeps, the outbox, the jobs ----------------------------------------------------------


def _sweeps(stack: Stack, report: Report) -> None:
    """Both beats send each sweep every 10 s: two runs claim the same rows at once."""
    from post_office.models import Email

    from renewals.models import RenewalNotice
    from tenants.models import DelegationNotice

    for task in SWEEPS.values():
        periodic_every(task, 10)
    batch = world.outbox_batch(BATCH)
    done = wait_until(
        lambda: (
            RenewalNotice.objects.count() >= 2 * RENEWALS
            and DelegationNotice.objects.count() >= 2 * RELATIONSHIPS
        ),
        240,
        pause=1,
    )
    time.sleep(12)  # another run of each sweep from both beats: it must add nothing
    renewal_mails = list(
        RenewalNotice.objects.exclude(email_id=None).values_list("email_id", flat=True)
    )
    delegation_mails = list(
        Email.objects.filter(subject__startswith="Delegated administration of").values_list(
            "to", "subject"
        )
    )
    notices = (RenewalNotice.objects.count(), DelegationNotice.objects.count())
    report.expect(
        done
        and notices == (2 * RENEWALS, 2 * RELATIONSHIPS)
        and len(set(renewal_mails)) == len(renewal_mails) == 2 * RENEWALS
        and len({(tuple(to), s) for to, s in delegation_mails}) == 2 * RELATIONSHIPS,
        f"sweeps through the pool: {notices[0]} renewal notices in the ledger for "
        f"{2 * RENEWALS} due, each with its own e-mail; {notices[1]} delegation notices for "
        f"{2 * RELATIONSHIPS}, {len(delegation_mails)} e-mails; a batch of {len(batch)} e-mails "
        "queued meanwhile",
    )
    report.lost += max(0, 2 * RENEWALS - notices[0]) + max(0, 2 * RELATIONSHIPS - notices[1])
    report.doubled += max(0, notices[0] - 2 * RENEWALS) + max(0, notices[1] - 2 * RELATIONSHIPS)
    for name, task in SWEEPS.items():
        sent = stack.beat_sent(task)
        report.expect(
            all(sent.values()),
            f"both beats sent the {name} sweep ({sent}): the second claims found nothing left",
        )


def _jobs(report: Report, built) -> None:
    ops = world.person("ops@portal.example", staff=True)
    _key_job(report, built, ops)
    _import_check(report, built, ops)


def _key_job(report: Report, built, ops) -> None:
    """A generation in a worker: one transaction holds a server connection throughout, while
    the same process writes the job's progress through a second connection (portal.progress)."""
    from keys.models import KeyJob, ProductKey
    from keys.sealing import recipient_keys
    from keys.services import key_job_generate_start

    job, _created = key_job_generate_start(
        product=built.product,
        count=KEYS,
        actor=ops,
        submission=uuid.uuid4(),
        recipient_key=recipient_keys()[0],
    )
    seen = set()

    def ended() -> bool:
        state, done = KeyJob.objects.values_list("state", "done").get(pk=job.pk)
        if state == KeyJob.State.RUNNING and 0 < done < KEYS:
            seen.add(done)
        return state in {KeyJob.State.SUCCEEDED, KeyJob.State.FAILED}

    wait_until(ended, 240, pause=0.1)
    job.refresh_from_db()
    keys = ProductKey.objects.filter(batch_id=job.batch_id).count() if job.batch_id else 0
    report.expect(
        job.state == KeyJob.State.SUCCEEDED and keys == KEYS and bool(seen),
        f"key job, a generation of {KEYS} keys in one transaction: {job.state}, {keys} keys in "
        f"its batch; its progress, written meanwhile through the worker's second connection, "
        f"read at {sorted(seen) or 'never'}",
    )


def _import_check(report: Report, built, ops) -> None:
    """The admin's import of a file of keys, from this process through PgBouncer: a temporary
    table filled with COPY and joined with the inventory, in one transaction. The same file
    imported again must find every key already there."""
    from keys.codec import format_key, generate_key
    from keys.services import KeyImportError, key_job_import_start

    data = "\n".join(format_key(generate_key()) for _ in range(IMPORTED)).encode()
    batch = key_job_import_start(
        data=data, product=built.product, actor=ops, submission=uuid.uuid4()
    )
    try:
        key_job_import_start(data=data, product=built.product, actor=ops, submission=uuid.uuid4())
        refused = 0
    except KeyImportError as error:
        refused = len(error.bad_lines)
    imported = batch.keys.count()
    report.expect(
        imported == IMPORTED and refused == IMPORTED,
        f"a file of {IMPORTED} keys imported (checked against the inventory through a temporary "
        f"table): {imported} keys; the same file again: {refused} lines refused as already in "
        "the inventory",
    )


# --- PgBouncer paused, then restarted ----------------------------------------------------------


def _pause_and_resume(stack: Stack, report: Report, tally: Tally) -> int:
    """PAUSE waits for the transactions in flight, then holds every query until RESUME."""
    before = (tally.total(status=503), tally.no_answer(), tally.total())
    started = time.monotonic()
    stack.bouncer.admin("PAUSE portal")
    took = time.monotonic() - started
    time.sleep(3)
    stack.bouncer.admin("RESUME portal")
    time.sleep(3)
    after = (tally.total(status=503), tally.no_answer(), tally.total())
    report.did(
        f"PAUSE portal on PgBouncer's console ({took:.1f} s until the transactions in flight "
        "had finished), RESUME portal 3 s later"
    )
    report.expect(
        after[:2] == before[:2],
        f"while paused the requests waited instead of failing: {after[2] - before[2]} answers "
        f"in those 6 s, 503: {after[0] - before[0]}, no answer: {after[1] - before[1]}",
    )
    return _transactions(stack)  # its figures start again with the restart below


def _restart(stack: Stack, report: Report, tally: Tally) -> None:
    """SIGTERM (PgBouncer's immediate shutdown, what `systemctl restart` sends), then start."""
    before = tally.total(status=503)
    started = time.monotonic()
    stack.bouncer.stop()
    time.sleep(1)
    stack.bouncer.start()
    away = time.monotonic() - started
    time.sleep(8)
    report.did(
        f"PgBouncer restarted under the traffic: SIGTERM (every connection closed at once), "
        f"started again {away:.1f} s later; traffic for 8 s more"
    )
    report.found(f"{tally.total(status=503) - before} requests got a 503 while it was away")


# --- What the drill finds ----------------------------------------------------------------------


def _answers(report: Report, tally: Tally) -> None:
    report.found(tally.summary())
    report.expect(
        tally.bad_503() == 0,
        "every 503 was the outage answer (the page in the reader's language, or the API's "
        "problem+json), none a traceback or the generic 500",
    )
    report.expect(tally.no_answer() == 0, f"requests with no answer: {tally.no_answer()}")
    for line in tally.failures[:5]:
        report.found(line)
    report.other_5xx += tally.other_5xx()


def _export(report: Report, browser: Browser, entries: int) -> None:
    """QuerySet.iterator() without server-side cursors (DISABLE_SERVER_SIDE_CURSORS=1)."""
    answer = browser.send("/partner/activity/export/")
    rows = len(answer.body.decode("utf-8-sig").strip().splitlines()) - 1
    report.expect(
        answer.status == 200 and rows == entries,
        f"the activity log's CSV export (QuerySet.iterator(), chunks of 500): {answer.status}, "
        f"{rows} rows for {entries} entries",
    )


def _mail(report: Report, stack: Stack) -> None:
    from post_office.models import STATUS, Email

    unsent = Email.objects.exclude(status__in=[STATUS.sent, STATUS.failed])
    wait_until(lambda: not unsent.exists(), 180, pause=1)
    ids = set(Email.objects.values_list("message_id", flat=True))
    got = [m.message_id for m in stack.smtp.messages()]
    missing, copies = ids - set(got), len(got) - len(set(got))
    failed = Email.objects.filter(status=STATUS.failed).count()
    report.expect(
        not missing and not failed and copies <= 2,
        f"every e-mail (the notices', the batch's, the new customers') reached the mail server: "
        f"{len(ids - missing)} of {len(ids)}, failed {failed}; sent twice: {copies} (at most one "
        "per worker, the e-mail whose transaction the restart cut after it was sent, under the "
        "same Message-ID)",
    )
    report.lost += len(missing)
    report.doubled += max(0, copies - 2)


def _pool(report: Report, watch: PoolWatch, transactions: int) -> None:
    report.expect(
        0 < watch.servers <= POOL < watch.clients,
        f"connections shared: {transactions} transactions from up to {watch.clients} client "
        f"connections over at most {watch.servers} server connections to PostgreSQL "
        f"(default_pool_size = {POOL}); the longest a client waited for one: "
        f"{watch.maxwait:.1f} s",
    )


# What would leave state on a server connection for the next transaction (another process's):
# a SET outside SET LOCAL/TRANSACTION/CONSTRAINTS, session advisory locks, LISTEN, a cursor WITH
# HOLD, a prepared statement. The parameters PgBouncer itself carries per client are allowed.
SESSION_STATE = re.compile(
    r"^\s*(SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b|SESSION\s+CHARACTERISTICS\b)|RESET\b|"
    r"DISCARD\b|LISTEN\b|UNLISTEN\b|PREPARE\b|DECLARE\b.*\bWITH\s+HOLD\b|"
    r".*\bpg_(try_)?advisory_lock(_shared)?\s*\(|.*\bset_config\s*\(.*,\s*false\s*\))",
    re.IGNORECASE | re.DOTALL,
)
CARRIED = re.compile(
    r"^\s*SET\s+(SESSION\s+)?(client_encoding|datestyle|timezone|time\s+zone|"
    r"standard_conforming_strings|application_name)\b",
    re.IGNORECASE,
)
POOLING_ERRORS = re.compile(
    r"cursor .* does not exist|prepared statement .* does not exist|import_digest|"
    r"advisory|temporary",
    re.IGNORECASE,
)


LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[(\d+)\] (\w+):  (.*)$")


def _log(stack: Stack) -> list[tuple[int, str, str]]:
    """PostgreSQL's log as (backend pid, level, message), a statement's further lines joined."""
    entries = []
    for line in stack.pg.log.read_text(errors="replace").splitlines():
        if match := LINE.match(line):
            entries.append((int(match[1]), match[2], match[3]))
        elif entries:
            pid, level, message = entries[-1]
            entries[-1] = (pid, level, f"{message}\n{line}")
    return entries


def _temporary_tables(entries) -> tuple[int, int]:
    """Temporary tables created, and of those dropped before their transaction ended (its
    server connection, under transaction pooling, then goes to another client)."""
    created, dropped, open_tables = 0, 0, {}
    for pid, _level, message in entries:
        statement = message.removeprefix("statement: ").strip()
        if re.match(r"CREATE TEMP", statement, re.IGNORECASE):
            created += 1
            open_tables[pid] = statement.split("(")[0].split()[-1]
        elif pid in open_tables and statement.upper() == f"DROP TABLE {open_tables[pid]}".upper():
            dropped += 1
            del open_tables[pid]
        elif pid in open_tables and statement.upper() in {"COMMIT", "ROLLBACK"}:
            del open_tables[pid]
    return created, dropped


def _statements(report: Report, stack: Stack) -> None:
    """Every statement PostgreSQL logged (log_statement = all on the portal's database)."""
    entries = _log(stack)
    statements = [
        m.removeprefix("statement: ") for _p, _l, m in entries if m.startswith("statement: ")
    ]
    prepared = sum(1 for _p, _l, m in entries if m.startswith("execute ") and "<unnamed>" not in m)
    errors = [message for _pid, level, message in entries if level == "ERROR"]
    state = [s for s in statements if SESSION_STATE.match(s) and not CARRIED.match(s)]
    carried = sum(1 for s in statements if CARRIED.match(s))
    created, dropped = _temporary_tables(entries)
    report.expect(
        bool(statements) and not state and not prepared and created == dropped,
        f"statements that would leave state on a pooled server connection: {len(state)} of "
        f"{len(statements)} logged (a session SET, a session advisory lock, LISTEN, a cursor "
        f"WITH HOLD; prepared statements: {prepared}); SET of a parameter PgBouncer carries "
        f"per client: {carried}; temporary tables (the import checks'): {created}, {dropped} "
        "dropped in the transaction that made them" + (f"; e.g. {state[:3]}" if state else ""),
    )
    pooling = [e for e in errors if POOLING_ERRORS.search(e)]
    others = sorted(set(errors) - set(pooling))
    report.expect(
        not pooling,
        f"errors in PostgreSQL's log that pooling causes (a cursor, a prepared statement or a "
        f"temporary table missing): {len(pooling)}"
        + (f", e.g. {pooling[:3]}" if pooling else "")
        + f"; other errors: {len(errors) - len(pooling)}"
        + (f", e.g. {others[:3]}" if others else ""),
    )
