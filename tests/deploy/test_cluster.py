"""scripts/cluster.sh: two web nodes, a worker and beat on their own database, ready on both
ports, metrics added up across each node's gunicorn workers, and nothing left after `stop`."""

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings

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


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1."""
    for _ in range(50):
        base = 20000 + secrets.randbelow(20000)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no free ports")


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


def test_it_starts_two_web_nodes_a_worker_and_beat_then_stops_them_all(cluster_database, tmp_path):
    port = _free_ports(2)
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    env.update(
        DATABASE_URL=cluster_database,
        REDIS_URL=settings.REDIS_URL,
        CACHE_KEY_PREFIX=f"cluster-{secrets.token_hex(4)}",
        CLUSTER_DIR=str(tmp_path / "cluster"),
        CLUSTER_PORT=str(port),
        CLUSTER_WEB="2",
        CLUSTER_WEB_WORKERS="2",
        CLUSTER_WORKERS="1",
    )

    def cluster(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

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
