"""scripts/cluster.sh: two web nodes, a worker and beat on their own database, ready on both
ports, metrics added up across each node's gunicorn workers, and nothing left after `stop`; one
node restarted while the other serves, and a worker restarted after the task it runs."""

import http.client
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings

from drills.services import free_ports
from portal.celery import app as celery_app

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster.sh"
# Set by the test settings or a developer's shell: the cluster makes and reads its own.
NOT_PASSED = {
    "DJANGO_SETTINGS_MODULE",
    "DEBUG",
    "SECRET_KEY",
    "KEY_PEPPER",
    "MFA_SECRET_KEYS",
    "METRICS_TOKEN",
    "VAR_DIR",
    "LOG_FORMAT",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "WEBHOOKS_ALLOW_LOOPBACK",
}


def _server():
    db = settings.DATABASES["default"]
    connection = psycopg2.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname="postgres",
    )
    connection.autocommit = True
    return db, connection


@pytest.fixture
def cluster_database():
    """A database of its own, dropped afterwards, as a new installation would have."""
    db, server = _server()
    name = f"portal_cluster_{secrets.token_hex(4)}"
    with server.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    yield f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{name}"
    with server.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server.close()


def _get(port: int, path: str, token: str | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _group_members(groups: set[int]) -> list[int]:
    """Processes still alive in these process groups (each node leads its own)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) in groups and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _healthz_count(metrics: str) -> float:
    match = re.search(
        r'^portal_request_duration_seconds_count\{method="GET",view="healthz"\} (\S+)$',
        metrics,
        flags=re.MULTILINE,
    )
    return float(match.group(1)) if match else 0.0


def _environment(database: str, tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    env.update(
        DATABASE_URL=database,
        REDIS_URL=settings.REDIS_URL,
        CACHE_KEY_PREFIX=f"cluster-{secrets.token_hex(4)}",
        CLUSTER_DIR=str(tmp_path / "cluster"),
        CLUSTER_PORT=str(port),
        CLUSTER_WEB="2",
        CLUSTER_WEB_WORKERS="2",
        CLUSTER_WORKERS="1",
        **extra,
    )
    return env


def _runner(env: dict[str, str]):
    def cluster(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    return cluster


def test_without_a_virtualenv_it_says_so_and_leaves_no_half_made_secrets(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, checkout / "scripts" / "cluster.sh")
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": "postgres://x/y", "REDIS_URL": "redis://x"}
    result = subprocess.run(
        ["bash", str(checkout / "scripts" / "cluster.sh"), "start"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "no virtualenv" in result.stderr and "make venv" in result.stderr
    assert not (checkout / "var" / "cluster" / "secrets.env").exists()


def test_it_starts_two_web_nodes_a_worker_and_beat_then_stops_them_all(cluster_database, tmp_path):
    port = free_ports(2)
    cluster = _runner(_environment(cluster_database, tmp_path, port))
    pids_dir = tmp_path / "cluster" / "pids"
    try:
        started = cluster("start")
        assert started.returncode == 0, started.stdout + started.stderr
        pids = {p.stem: int(p.read_text()) for p in pids_dir.glob("*.pid")}
        assert sorted(pids) == ["beat-1", "web-1", "web-2", "worker-1"]

        token = dict(
            line.split("=", 1)
            for line in (tmp_path / "cluster" / "secrets.env").read_text().split()
        )["METRICS_TOKEN"]
        for node in (port, port + 1):
            status, headers, body = _get(node, "/readyz")
            assert status == 200, body
            assert json.loads(body)["status"] == "ready"
            assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
        before = _healthz_count(_get(port, "/metrics", token)[2].decode())
        for _ in range(8):
            assert _get(port, "/healthz")[0] == 200
        # Whichever of the node's two gunicorn workers answered each one, the scrape adds
        # them all up (prometheus_client's multiprocess mode).
        after = _healthz_count(_get(port, "/metrics", token)[2].decode())
        assert after - before == 8
        assert _get(port, "/metrics")[0] == 401
        web_log = (tmp_path / "cluster" / "logs" / "web-1.log").read_text()
        assert f"Listening at: http://127.0.0.1:{port}" in web_log  # the loopback interface only
        assert json.loads(web_log.splitlines()[0])["logger"] == "gunicorn.error"  # JSON lines

        status_run = cluster("status")
        assert status_run.returncode == 0
        assert status_run.stdout.count("readyz: 200") == 2
        # Every process running, but no node ready where status looks (another CLUSTER_PORT):
        # something is down all the same.
        elsewhere = _runner(_environment(cluster_database, tmp_path, free_ports(2)))("status")
        assert elsewhere.returncode == 3, elsewhere.stdout
        assert "readyz: 000" in elsewhere.stdout and "STOPPED" not in elsewhere.stdout
    finally:
        stopped = cluster("stop")
        celery_app.control.purge()  # what beat queued for the cluster's worker, if anything
    assert stopped.returncode == 0, stopped.stderr
    assert _group_members(set(pids.values())) == []
    assert list(pids_dir.glob("*.pid")) == []
    assert cluster("status").returncode == 3
    for node in (port, port + 1):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", node), timeout=2).close()


QUEUE_ONE_EMAIL = """
from email.utils import make_msgid
from post_office.models import PRIORITY, STATUS, Email
from portal.outbox import outbox_kick
email = Email.objects.create(
    from_email="no-reply@portal.example", to=["reader@restart.example"], subject="Restart",
    message="Sent while the worker restarts.", status=STATUS.queued, priority=PRIORITY.medium,
    message_id=make_msgid(domain="portal.example"),
)
outbox_kick()
print(email.message_id)
"""


def _queue_one_email(env: dict[str, str], cluster_dir: Path) -> str:
    """An e-mail written to the cluster's outbox and its worker kicked, as a page would."""
    secrets_env = dict(
        line.split("=", 1) for line in (cluster_dir / "secrets.env").read_text().split()
    )
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "shell", "-c", QUEUE_ONE_EMAIL],
        cwd=ROOT,
        env={**env, **secrets_env, "DEBUG": "0", "LOG_FORMAT": "plain"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _wait_for(predicate, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _probe(port: int, stop: threading.Event, statuses: list) -> None:
    while not stop.is_set():
        try:
            statuses.append(_get(port, "/readyz")[0])
        except OSError:
            statuses.append(0)
        time.sleep(0.1)


def test_restart_moves_one_process_at_a_time_and_a_worker_finishes_its_task_first(
    cluster_database, tmp_path
):
    port = free_ports(2)
    marker = tmp_path / "mail.txt"
    env = _environment(
        cluster_database,
        tmp_path,
        port,
        CLUSTER_BEAT="0",
        EMAIL_BACKEND="tests.mail_backends.PausingBackend",
        TEST_EMAIL_MARKER=str(marker),
        TEST_EMAIL_PAUSE="4",
    )
    cluster = _runner(env)
    pids_dir = tmp_path / "cluster" / "pids"
    pid = lambda name: int((pids_dir / f"{name}.pid").read_text())  # noqa: E731
    try:
        started = cluster("start")
        assert started.returncode == 0, started.stdout + started.stderr
        before = {name: pid(name) for name in ("web-1", "web-2", "worker-1")}

        # A worker restarted while it sends: it finishes the message, then stops (warm
        # shutdown); nothing is sent twice.
        message_id = _queue_one_email(env, tmp_path / "cluster")
        assert _wait_for(lambda: marker.exists() and "sending" in marker.read_text())
        restarted = cluster("restart", "worker-1")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert marker.read_text().splitlines() == [f"sending {message_id}", f"sent {message_id}"]
        assert _group_members({before["worker-1"]}) == []
        assert pid("worker-1") != before["worker-1"]
        with psycopg2.connect(cluster_database) as db, db.cursor() as cursor:
            cursor.execute(
                "SELECT status FROM post_office_email WHERE message_id = %s", [message_id]
            )
            assert cursor.fetchone() == (0,)  # post_office's STATUS.sent

        # A web node restarted while the other answers throughout.
        stop, statuses = threading.Event(), []
        prober = threading.Thread(target=_probe, args=(port + 1, stop, statuses))
        prober.start()
        try:
            restarted = cluster("restart", "web-1")
        finally:
            stop.set()
            prober.join()
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert "restarted web-1" in restarted.stdout
        assert pid("web-1") != before["web-1"] and pid("web-2") == before["web-2"]
        assert _group_members({before["web-1"]}) == []
        assert statuses and set(statuses) == {200}
        assert _get(port, "/readyz")[0] == 200
        assert cluster("restart", "web-9").returncode != 0  # no such process
    finally:
        stopped = cluster("stop")
        celery_app.control.purge()
    assert stopped.returncode == 0, stopped.stderr
    assert list(pids_dir.glob("*.pid")) == []
