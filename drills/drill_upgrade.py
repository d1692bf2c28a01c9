"""Drill 7: an upgrade of a running cluster under traffic, by docs/production.md's steps.

The cluster runs this checkout: the release before. The next release is this checkout's HEAD
(`git archive`) in the drill's directory, plus one migration the guide's first rule allows (a
nullable column on tenants_tenant, the table the API clients write throughout, which the code
before it neither reads nor writes) and one visible change: every answer of the new code says
`X-Portal-Release: next`, so the drill can tell which code answered. Then the guide's steps 2 to 5,
with API clients creating and renewing customers and a person reading pages over both nodes
all along, and a prober asking each node's /readyz four times a second:

2. the new code installed beside the old (its own checkout and .venv — a link to the same
   packages — the previous release's staticfiles/ copied in, then collectstatic);
3. its migrations, once, while the old code serves;
4. the web nodes one at a time: the load balancer drains the node, `scripts/cluster.sh restart
   web-N` of the new checkout stops its gunicorn (requests in flight finish) and starts the new
   code, ready, back in the balancer, then the next node;
5. the workers (warm shutdown: the key job and the e-mails they run finish first), then beat.

Planned work: no 503, no 5xx, no request unanswered."""

import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from drills import checks, world
from drills.report import Report
from drills.stack import ROOT, Stack, periodic_every, readyz, wait_until
from drills.traffic import (
    Balancer,
    Browser,
    Nodes,
    Tally,
    api_and_page_traffic,
    stop_clients,
)

TITLE = "an upgrade of a running cluster under traffic"
PAGES = ["/partner/", "/partner/customers/", "/partner/renewals/"]
RELEASE_HEADER = "X-Portal-Release"
KEYS, BATCH = 150_000, 300
COLUMN = "release_note"
# A worker's warm shutdown waits for the task it runs (the units give it TimeoutStopSec=320).
STOP_TIMEOUT = "180"


PHASES = ("before", "migrated", "rolling", "after")


class Releases(Tally):
    """The tally, and which release gave each answer (and each 201) in each phase: before the
    migration, after it, while the web nodes restart, after the last one."""

    def __init__(self):
        super().__init__()
        self.phase = "before"
        self.releases: Counter = Counter()
        self.created: Counter = Counter()

    def record(self, label, answer):
        super().record(label, answer)
        if answer.status:
            release = answer.headers.get(RELEASE_HEADER, "before")
            with self._lock:
                self.releases[(self.phase, release)] += 1
                self.created[(self.phase, release)] += answer.status == 201
        return answer


@dataclass
class Upgrade:
    """What the steps leave for the checks."""

    release: Path
    job: int = 0  # the key job running when the workers restarted
    job_state: str = ""  # its state just before
    first: str = ""  # the worker running it, restarted first
    batch: set[str] = field(default_factory=set)  # the e-mails being sent then
    beat_logs: dict[str, int] = field(default_factory=dict)  # their sizes before the restart


class ReadyProbe(threading.Thread):
    """Each node's /readyz, four times a second: a round fails when neither node is ready."""

    def __init__(self, ports: list[int]):
        super().__init__(daemon=True)
        self.nodes = [Nodes([port]) for port in ports]
        self.halt = threading.Event()
        self.rounds: list[tuple[int, ...]] = []

    def run(self) -> None:
        while not self.halt.wait(0.25):
            self.rounds.append(
                tuple(n.send("GET", "/readyz", timeout=5).status for n in self.nodes)
            )


def run(stack: Stack, report: Report) -> None:
    from tenants.models import Subscription

    built = world.build(keys=3000, customers=20)
    ops = world.person("ops@portal.example", staff=True)
    periodic_every("portal.tasks.deliver_outbox", 5)
    ends_before = dict(
        Subscription.objects.filter(tenant_id__in=built.customers).values_list(
            "tenant_id", "end_date"
        )
    )
    stack.cluster_up()
    nodes, tally, probe = Balancer(stack.ports), Releases(), ReadyProbe(stack.ports)
    browser = Browser(stack.ports[0])
    browser.sign_in(built.admin, world.PASSWORD)
    probe.start()
    clients = api_and_page_traffic(nodes, tally, built, browser, PAGES, creator_pause=0.2)
    report.did(
        "2 API clients creating customers, 2 renewing 20, a partner admin reading 3 pages, "
        "over both nodes behind a load balancer, throughout; /readyz of each node asked 4 "
        "times a second"
    )
    time.sleep(3)
    upgrade = Upgrade(_install(stack, report))
    _migrate(stack, report, upgrade, tally)
    _web_nodes(stack, report, upgrade, nodes, tally)
    _workers_and_beats(stack, report, upgrade, built, ops)
    time.sleep(4)
    stop_clients(clients)
    probe.halt.set()
    probe.join()
    checks.fresh_connection()
    _answers(report, tally, probe)
    checks.api_outcomes(report, clients, ends_before)
    _tasks(report, stack, upgrade)
    _on_the_new_code(report, stack, upgrade)


# --- The steps ---------------------------------------------------------------------------------


def _install(stack: Stack, report: Report) -> Path:
    """Step 2: the next release beside the running one."""
    from django.db.migrations.loader import MigrationLoader

    release = stack.tmp / "next"
    release.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(release)], input=archive.stdout, check=True)
    (release / ".venv").symlink_to((ROOT / ".venv").resolve())
    (leaf,) = MigrationLoader(None).graph.leaf_nodes("tenants")
    number = int(leaf[1].split("_")[0]) + 1
    (release / "tenants" / "migrations" / f"{number:04d}_drill_next.py").write_text(
        MIGRATION.format(leaf=leaf[1], column=COLUMN)
    )
    (release / "portal" / "drill_release.py").write_text(MIDDLEWARE)
    with open(release / "portal" / "settings.py", "a") as settings:
        settings.write(SETTINGS)
    shutil.copytree(ROOT / "staticfiles", release / "staticfiles")
    _manage(stack, release, "collectstatic", "--noinput")
    report.did(
        f"the next release installed beside the running one: HEAD (git archive) in {release}, "
        f"its .venv a link to the same packages, plus migration tenants {number:04d}_drill_next "
        f"(a nullable column tenants_tenant.{COLUMN}) and the header {RELEASE_HEADER}: next on "
        "every answer; the running release's staticfiles/ copied in, then collectstatic"
    )
    return release


MIGRATION = '''"""The fault drills' next release (drills/drill_upgrade.py): a nullable column,
which the release before neither reads nor writes (docs/production.md, "expand, then
contract")."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tenants", "{leaf}")]
    operations = [
        migrations.RunSQL(
            "ALTER TABLE tenants_tenant ADD COLUMN {column} text NULL",
            reverse_sql="ALTER TABLE tenants_tenant DROP COLUMN {column}",
        )
    ]
'''
MIDDLEWARE = '''"""The fault drills' next release (drills/drill_upgrade.py): every answer
says so."""


def middleware(get_response):
    def answer(request):
        response = get_response(request)
        response["X-Portal-Release"] = "next"
        return response

    return answer
'''
SETTINGS = """
# The fault drills' next release (drills/drill_upgrade.py): every answer says which code gave it.
MIDDLEWARE = ["portal.drill_release.middleware", *MIDDLEWARE]
"""


def _manage(stack: Stack, release: Path, *command: str) -> str:
    done = subprocess.run(
        [str(release / ".venv" / "bin" / "python"), "manage.py", *command],
        cwd=release,
        env=stack.env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _migrate(stack: Stack, report: Report, upgrade: Upgrade, tally: Releases) -> None:
    """Step 3: the new code's migrations, once, while the old code serves."""
    _manage(stack, upgrade.release, "migrate", "--noinput")
    tally.phase = "migrated"
    time.sleep(3)  # the old code on the migrated database for a moment
    report.did("migrate run once with the new code while the old served; 3 s more of traffic")
    ready = [readyz(port).status for port in stack.ports]
    report.expect(
        ready == [200, 200],
        f"the old code stays ready after it: /readyz {ready} (it ignores a migration it does "
        "not know)",
    )


def _web_nodes(stack: Stack, report: Report, upgrade: Upgrade, nodes: Balancer, tally) -> None:
    """Step 4: one node at a time, drained first, back in the balancer once ready."""
    tally.phase = "rolling"
    took = []
    for n, port in enumerate(stack.ports, start=1):
        nodes.drain(port)
        time.sleep(1)  # what the balancer had sent it before the drain reaches it
        started = time.monotonic()
        stack.cluster(
            "restart", f"web-{n}", root=upgrade.release, CLUSTER_STOP_TIMEOUT=STOP_TIMEOUT
        )
        took.append(time.monotonic() - started)
        nodes.restore(port)
    tally.phase = "after"
    report.did(
        "web nodes restarted one at a time, each drained in the balancer first, then "
        "`scripts/cluster.sh restart web-N` of the new checkout (gunicorn finishes its requests "
        "in flight, the new code starts and answers /readyz 200), then back in the balancer: "
        + ", ".join(f"web-{n} {seconds:.1f} s" for n, seconds in enumerate(took, start=1))
    )


def _workers_and_beats(stack: Stack, report: Report, upgrade: Upgrade, built, ops) -> None:
    """Step 5: a key job and an e-mail batch running, the workers restarted (the one running
    the job first), then the beats."""
    from keys.models import KeyJob
    from keys.sealing import recipient_keys
    from keys.services import key_job_generate_start
    from portal.celery import app

    job, _created = key_job_generate_start(
        product=built.product, count=KEYS, actor=ops, submission=uuid.uuid4(),
        recipient_key=recipient_keys()[0],
    )  # fmt: skip
    stack.smtp.delay = 0.02  # a slow mail server: the batch takes a few seconds
    upgrade.job, upgrade.batch = job.pk, world.outbox_batch(BATCH)
    app.send_task("portal.tasks.deliver_outbox")
    wait_until(lambda: stack.running_task("keys.tasks.run_key_job") is not None, 60, pause=0.1)
    first = stack.running_task("keys.tasks.run_key_job") or "worker-1"
    order = [first, *sorted({"worker-1", "worker-2"} - {first})]
    upgrade.job_state, upgrade.first = KeyJob.objects.get(pk=job.pk).state, first
    sent = len(upgrade.batch & {message.message_id for message in stack.smtp.messages()})
    started = time.monotonic()
    stack.cluster("restart", *order, root=upgrade.release, CLUSTER_STOP_TIMEOUT=STOP_TIMEOUT)
    workers = time.monotonic() - started
    upgrade.beat_logs = {name: _log_size(stack, name) for name in ("beat-1", "beat-2")}
    stack.cluster("restart", "beat-1", "beat-2", root=upgrade.release)
    report.did(
        f"a key job of {KEYS} keys {upgrade.job_state} on {first} and a batch of {BATCH} "
        f"e-mails being sent ({sent} sent so far: a slow mail server): workers restarted with "
        "the new code, "
        f"{' then '.join(order)} (TERM, a warm shutdown: {workers:.0f} s for both), then the "
        "two beats"
    )


def _log_size(stack: Stack, name: str) -> int:
    return len(_log(stack, name))


# --- What the drill finds ----------------------------------------------------------------------


def _answers(report: Report, tally: Releases, probe: ReadyProbe) -> None:
    report.found(tally.summary())
    report.expect(
        tally.total(status=503) == 0 and tally.no_answer() == 0,
        f"planned work: 503: {tally.total(status=503)}, no answer: {tally.no_answer()}",
    )
    for line in tally.failures[:5]:
        report.found(line)
    report.other_5xx += tally.other_5xx()
    by_phase = {
        phase: dict(sorted((r, n) for (p, r), n in tally.releases.items() if p == phase))
        for phase in PHASES
    }
    report.expect(
        set(by_phase["before"]) | set(by_phase["migrated"]) == {"before"}
        and set(by_phase["after"]) == {"next"},
        f"which code answered ({RELEASE_HEADER}): before the migration {by_phase['before']}, "
        f"after it {by_phase['migrated']}, while the nodes restarted {by_phase['rolling']}, "
        f"after the last {by_phase['after']}: every answer after the switch from the new code",
    )
    old, new = tally.created[("migrated", "before")], tally.created[("after", "next")]
    report.expect(
        old > 0 and new > 0,
        f"the table with the new column written by both releases: {old} customers created by "
        f"the old code after the migration, {new} by the new code after the switch",
    )
    lonely = sum(1 for statuses in probe.rounds if 200 not in statuses)
    down = [sum(1 for r in probe.rounds if r[i] != 200) for i in range(len(probe.nodes))]
    report.expect(
        probe.rounds and lonely == 0,
        f"/readyz 200 on at least one node in every one of {len(probe.rounds)} rounds "
        f"(rounds where a node was not ready, while it restarted: {down})",
    )


def _tasks(report: Report, stack: Stack, upgrade: Upgrade) -> None:
    from post_office.models import STATUS, Email

    from keys.models import KeyJob, ProductKey

    wait_until(lambda: KeyJob.objects.get(pk=upgrade.job).state == KeyJob.State.SUCCEEDED, 120)
    job = KeyJob.objects.get(pk=upgrade.job)
    keys = ProductKey.objects.filter(batch_id=job.batch_id).count() if job.batch_id else 0
    logs = {name: _log(stack, name) for name in ("worker-1", "worker-2")}
    received = sum(
        1
        for log in logs.values()
        for line in log.splitlines()
        if "keys.tasks.run_key_job[" in line and " received" in line
    )
    lines = logs[upgrade.first].splitlines()
    done = next((i for i, line in enumerate(lines) if "run_key_job[" in line
                 and " succeeded in " in line), -1)  # fmt: skip
    warm = next((i for i, line in enumerate(lines) if "Warm shutdown" in line), -1)
    report.expect(
        upgrade.job_state == KeyJob.State.RUNNING
        and job.state == KeyJob.State.SUCCEEDED
        and keys == KEYS
        and received == 1
        and 0 <= warm < done,
        f"the key job, running when {upgrade.first} got TERM, finished there before it "
        f"stopped (its log: 'Warm shutdown', then the job 'succeeded'): {job.state}, {keys} "
        f"keys in its batch, received by a worker {received} time(s)",
    )
    unsent = Email.objects.exclude(status__in=[STATUS.sent, STATUS.failed])
    wait_until(lambda: not unsent.exists(), 120, pause=1)
    ids = set(Email.objects.values_list("message_id", flat=True))
    got = [m.message_id for m in stack.smtp.messages()]
    missing, copies = ids - set(got), len(got) - len(set(got))
    report.expect(
        not missing and not copies and upgrade.batch <= ids,
        f"no task lost across the workers' restart: every e-mail (the batch's {BATCH}, the new "
        f"customers') delivered, {len(ids - missing)} of {len(ids)}; sent twice: {copies}",
    )
    report.lost += len(missing)
    report.doubled += copies


def _log(stack: Stack, name: str) -> str:
    return (stack.cluster_dir / "logs" / f"{name}.log").read_text(errors="replace")


def _on_the_new_code(report: Report, stack: Stack, upgrade: Upgrade) -> None:
    from django.db import connection

    names = ["web-1", "web-2", "worker-1", "worker-2", "beat-1", "beat-2"]
    where = {name: Path(f"/proc/{stack.pid(name)}/cwd").resolve() for name in names}
    old = [name for name, cwd in where.items() if cwd != upgrade.release.resolve()]
    report.expect(not old, f"every process runs from the new checkout: {old or 'all 6'}")
    logs = upgrade.beat_logs
    wait_until(lambda: all(_log(stack, name)[size:].count("Sending due task") for name, size
                           in logs.items()), 30)  # fmt: skip
    sent = {name: _log(stack, name)[size:].count("Sending due task") for name, size in logs.items()}
    report.expect(all(sent.values()), f"both beats send again after their restart: {sent}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'tenants_tenant' AND column_name = %s",
            [COLUMN],
        )
        report.expect(cursor.fetchone()[0] == 1, f"the column tenants_tenant.{COLUMN} is there")
