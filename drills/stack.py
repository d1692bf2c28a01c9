"""One drill's whole installation: its own PostgreSQL cluster, Redis and SMTP sink (and for drill
6 a PgBouncer in front of PostgreSQL), the portal's database migrated, and scripts/cluster.sh
running two web nodes, two workers and — on purpose — two beats against them. The drill's own
process uses Django on the same database (through the same PgBouncer) to make data and to check
what happened."""

import base64
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drills.services import Bouncer, Postgres, Redis, SmtpSink, free_port, free_ports

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
UNLIMITED = "1000000000"
# The caller's shell may point these at the machine's shared services or a developer's setup:
# a drill sets its own.
NOT_PASSED = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CACHE_KEY_PREFIX",
    "DJANGO_SETTINGS_MODULE",
    "DEBUG",
    "SECRET_KEY",
    "KEY_PEPPER",
    "MFA_SECRET_KEYS",
    "METRICS_TOKEN",
    "VAR_DIR",
    "LOG_FORMAT",
    "CELERY_TASK_ALWAYS_EAGER",
    "EMAIL_BACKEND",
    "CONN_MAX_AGE",
    "DISABLE_SERVER_SIDE_CURSORS",
    "CLUSTER_MIGRATE_DATABASE_URL",
}


def say(text: str = "") -> None:
    print(text, flush=True)


class Stack:
    def __init__(self, name: str, *, web_workers: int = 2, bouncer: bool = False):
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix=f"portal-drill-{name}-"))
        self.tmp.chmod(0o755)  # PostgreSQL runs as its own account and must reach its directory
        self.pg = Postgres(self.tmp / "postgres", free_port())
        self.bouncer = Bouncer(self.tmp / "pgbouncer", free_port(), self.pg) if bouncer else None
        self.redis = Redis(self.tmp / "redis", free_port())
        self.smtp = SmtpSink(free_port())
        self.port = free_ports(2)
        self.ports = [self.port, self.port + 1]
        self.cluster_dir = self.tmp / "cluster"
        self.env = self._environment(web_workers)

    def _environment(self, web_workers: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
        env.update(
            DJANGO_SETTINGS_MODULE="portal.settings",
            DATABASE_URL=self.pg.url(),
            REDIS_URL=self.redis.url,
            CACHE_KEY_PREFIX=f"drill-{self.name}",
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            KEY_PEPPER=secrets.token_hex(32),
            MFA_SECRET_KEYS=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            METRICS_TOKEN=secrets.token_hex(32),
            VAR_DIR=str(self.tmp / "var"),
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(self.smtp.port),
            EMAIL_TIMEOUT="5",
            PORTAL_BASE_URL=f"http://127.0.0.1:{self.port}",
            LOG_LEVEL="INFO",
            # The limits are not what a drill is about: the traffic checks keys far more often
            # than a person would.
            KEY_GUESS_LIMIT_PER_USER=UNLIMITED,
            KEY_GUESS_LIMIT_PER_ADDRESS=UNLIMITED,
            API_RATE_LIMIT_PER_MINUTE=UNLIMITED,
            CLUSTER_DIR=str(self.cluster_dir),
            CLUSTER_PORT=str(self.port),
            CLUSTER_WEB="2",
            CLUSTER_WEB_WORKERS=str(web_workers),
            CLUSTER_WORKERS="2",
            CLUSTER_BEAT="2",  # on purpose: a second beat must send nothing twice
            CLUSTER_START_TIMEOUT="120",
        )
        if self.bouncer:
            # docs/production.md, "PgBouncer in transaction mode": every process through it,
            # migrate straight to PostgreSQL.
            env.update(
                DATABASE_URL=self.bouncer.url(),
                CLUSTER_MIGRATE_DATABASE_URL=self.pg.url(),
                DISABLE_SERVER_SIDE_CURSORS="1",
                CONN_MAX_AGE="60",
            )
        return env

    # --- Start and stop ------------------------------------------------------------------------

    def up(self) -> None:
        """The services, then Django in this process on the new database, migrated."""
        self.pg.init()
        self.pg.start()
        self.pg.createdb("portal")
        if self.bouncer:
            self._bouncer_up()
        self.redis.start()
        self.smtp.start()
        os.environ.update(self.env)
        for name in NOT_PASSED - set(self.env):
            os.environ.pop(name, None)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command

        if not self.bouncer:
            call_command("migrate", verbosity=0)
        bouncer = f"PgBouncer on :{self.bouncer.port}, " if self.bouncer else ""
        say(
            f"  own services: PostgreSQL on :{self.pg.port}, {bouncer}Redis on "
            f":{self.redis.port}, SMTP sink on :{self.smtp.port} (files in {self.tmp})"
        )

    def _bouncer_up(self) -> None:
        """docs/production.md's steps: the role's time zone set (Django then never sets one on
        a connection), migrate straight to PostgreSQL, then PgBouncer. From then on PostgreSQL
        logs every statement the portal sends (drill 6 reads them)."""
        self.pg.sql("ALTER ROLE postgres SET timezone TO 'UTC'")
        migrated = subprocess.run(
            [str(PYTHON), "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env={**self.env, "DATABASE_URL": self.pg.url()},
            capture_output=True,
            text=True,
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{migrated.stdout}{migrated.stderr}")
        self.pg.sql("ALTER DATABASE portal SET log_statement = 'all'")
        self.bouncer.start()

    def cluster(self, command: str, *names: str, root: Path = ROOT, **extra: str) -> str:
        """scripts/cluster.sh of the checkout at `root` (another release's, drill 7)."""
        done = subprocess.run(
            ["bash", str(root / "scripts" / "cluster.sh"), command, *names],
            cwd=root,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"cluster.sh {command} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def cluster_up(self) -> None:
        self.cluster("start")
        say(
            f"  cluster: web nodes on :{self.ports[0]} and :{self.ports[1]} (2 gunicorn workers "
            "each), 2 Celery workers, 2 beats"
        )

    def down(self, keep: bool) -> None:
        for step in (
            lambda: self.cluster("stop"),
            self.bouncer.stop if self.bouncer else lambda: None,
            self.redis.stop,
            self.smtp.stop,
            self.pg.remove,
        ):
            with contextlib.suppress(Exception):
                step()
        if keep:
            say(f"  files kept in {self.tmp} (DRILLS_KEEP=1 or a failure)")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- The cluster's processes ---------------------------------------------------------------

    def pid(self, name: str) -> int:
        return int((self.cluster_dir / "pids" / f"{name}.pid").read_text())

    def group(self, name: str) -> set[int]:
        """The live processes of a cluster process's group (gunicorn's workers, Celery's pool)."""
        leader = self.pid(name)
        members = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == leader and fields[0] != "Z":
                    members.add(int(stat.parent.name))
        return members

    def kill(self, name: str) -> None:
        """kill -9 of a process and its whole group, as when its machine loses power."""
        os.killpg(self.pid(name), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.group(name) and time.monotonic() < deadline:
            time.sleep(0.05)

    def beat_sent(self, task: str) -> dict[str, int]:
        """How many times each beat sent `task`, from their logs."""
        sent = {}
        for name in ("beat-1", "beat-2"):
            log = (self.cluster_dir / "logs" / f"{name}.log").read_text()
            sent[name] = sum(
                1
                for entry in log.splitlines()
                if f"({task})" in entry and "Sending due task" in entry
            )
        return sent

    def running_task(self, task: str) -> str | None:
        """Which worker (worker-1, worker-2) is running `task` now, as Celery's workers say."""
        from portal.celery import app

        # Both workers answer within milliseconds (their main process replies while the pool
        # runs the task): waiting for the two replies, not for the timeout, is what lets the
        # worker drill catch a sweep that takes half a second.
        active = app.control.inspect(timeout=1.0, limit=2).active() or {}
        for hostname, tasks in active.items():
            if any(t.get("name") == task for t in tasks):
                return "worker-" + hostname.split("@")[0].removeprefix("worker")
        return None


def periodic_every(task: str, seconds: int | None) -> None:
    """Run a periodic task every `seconds` (None: not at all) in the drill's schedule — what
    ops change in the admin under Periodic tasks. Both beats follow the change."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    entry = PeriodicTask.objects.get(task=task)
    if seconds is None:
        entry.enabled = False
    else:
        entry.interval, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        entry.crontab = None
        entry.enabled = True
    entry.save()


def wait_until(predicate, seconds: float, pause: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(pause)
    return bool(predicate())


def readyz(port: int):
    from drills.traffic import Nodes

    return Nodes([port]).send("GET", "/readyz", timeout=10)


def kill_mid(stack: Stack, task: str, progress, total: int, seconds: float = 180):
    """Wait until `progress()` is past 0 and short of `total`, then kill -9 the worker running
    `task`: (the worker's name, the progress when it was killed), or None when the work ended
    before a worker could be caught in its middle."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = progress()
        if done >= total:
            return None
        if done > 0 and (worker := stack.running_task(task)) is not None:
            at = progress()
            if at < total:
                stack.kill(worker)
                return worker, at
        time.sleep(0.02)
    return None
