"""Webhook deliveries per second to a local receiver (`make bench-webhooks`, never in `make test`).

A scratch database `portal_bench_webhooks` (BENCH_WEBHOOKS_DATABASE_URL to use another) and Redis
from BENCH_REDIS_URL (default redis://127.0.0.1:6379/15, flushed). The portal runs production-like
(DEBUG off) except that WEBHOOKS_ALLOW_LOOPBACK lets it send to the receiver: a separate process on
127.0.0.1 that verifies every signature with the standardwebhooks library, as a partner's system
would, and counts webhook-ids (a copy would show as doubled).

1. One process sends deliveries one after the other (`webhook_deliver`: claim, sign, POST,
   record): what one delivery costs.
2. The whole path, for each worker shape: N events written by `webhook_event_emit` in one
   transaction (a sweep's batch), kicked to the broker on commit, sent by a real Celery worker
   (prefork processes, then threads), until the database says every delivery is delivered.
"""

import multiprocessing
import os
import platform
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_URL = os.environ.get(
    "BENCH_WEBHOOKS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_webhooks"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SEQUENTIAL = int(os.environ.get("BENCH_WEBHOOKS_SEQUENTIAL", "500"))
EVENTS = int(os.environ.get("BENCH_WEBHOOKS_EVENTS", "3000"))
# (celery pool, concurrency) shapes measured end to end.
SHAPES = [("prefork", 2), ("prefork", 4), ("threads", 8), ("threads", 16)]
# A subscription as the API returns it, about the size of a real payload.
PAYLOAD = {
    "id": 4711,
    "product": {"sku": "CS-BUS-12", "name": "CloudSuite Business"},
    "customer": {"id": 815, "name": "Contoso Pharma", "domain": "contoso.cloudsuite.example"},
    "seats": 25,
    "starts_on": "2026-01-01",
    "ends_on": "2027-01-01",
    "state": {"code": "active", "label": "Active"},
    "partner_of_record": {"partner_id": "1000001", "name": "Northwind"},
    "actions": {"renew": True, "add_licenses": True, "direct_billing": True},
    "notes": "x" * 600,
}


def recreate_database() -> None:
    import psycopg2

    name = BENCH_URL.rsplit("/", 1)[1]
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def environment() -> dict[str, str]:
    import base64

    return {
        "DATABASE_URL": BENCH_URL,
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": "bench-webhooks",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + os.urandom(24).hex(),
        "KEY_PEPPER": "bench-pepper",
        "MFA_SECRET_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "WEBHOOKS_ALLOW_LOOPBACK": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }


def world(port: int):
    from portal.models import Partner, PartnerMembership, User
    from portal.webhooks.services import webhook_endpoint_create

    partner = Partner.objects.create(
        name="Northwind", partner_id="1000001", contact_email="c@northwind.example"
    )
    admin = User.objects.create_user("partner@northwind.example", "x")
    membership = PartnerMembership.objects.create(user=admin, partner=partner, role="admin")
    return webhook_endpoint_create(
        membership=membership,
        url=f"http://127.0.0.1:{port}/hooks",
        event_types=["customer.created"],
    )


def emit(partner, count: int, kick: bool) -> list[int]:
    """`count` events in one transaction; with kick=False their deliveries are not handed to
    the broker on commit (the sequential phase sends them itself)."""
    from django.db import transaction

    from portal.models import WebhookDelivery
    from portal.webhooks import services

    kick_now = services.deliveries_kick
    if not kick:
        services.deliveries_kick = lambda ids: None
    try:
        with transaction.atomic():
            events = [
                services.webhook_event_emit(
                    type="customer.created", partner=partner, tenant=None, payload=PAYLOAD
                )
                for _ in range(count)
            ]
    finally:
        services.deliveries_kick = kick_now
    return list(WebhookDelivery.objects.filter(event__in=events).values_list("pk", flat=True))


def sequential(partner) -> tuple[float, int]:
    from portal.webhooks.delivery import webhook_deliver

    ids = emit(partner, SEQUENTIAL, kick=False)
    started = time.perf_counter()
    states = [webhook_deliver(pk) for pk in ids]
    elapsed = time.perf_counter() - started
    return elapsed, states.count("delivered")


def through_workers(partner, pool: str, concurrency: int, env: dict) -> tuple[float, int]:
    from portal.models import WebhookDelivery

    worker = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "--quiet",
            "-A",
            "portal",
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        time.sleep(6)  # the worker starts and connects
        started = time.perf_counter()
        ids = emit(partner, EVENTS, kick=True)
        pending = WebhookDelivery.objects.filter(pk__in=ids).exclude(state="delivered")
        while pending.exists():
            if time.perf_counter() - started > 600:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        return elapsed, len(ids) - pending.count()
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    env = environment()
    os.environ.update(env)
    recreate_database()
    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import connection

    from portal.webhooks.services import endpoint_secrets

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(REDIS_URL).flushdb()
    manager = multiprocessing.Manager()
    counts = manager.dict(received=0, doubled=0, unverified=0)
    # The endpoint's secret is needed before the receiver starts: make the endpoint with a port
    # found first, then start the receiver on that very port.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    endpoint, secret = world(port)
    receiver = multiprocessing.Process(target=_serve_on, args=(port, counts, secret), daemon=True)
    receiver.start()
    ports_ready(port)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        print(f"PostgreSQL {cursor.fetchone()[0]}; the receiver verifies every signature")
    assert endpoint_secrets(endpoint) == [secret]
    print("| run | deliveries | seconds | deliveries/s |")
    print("|---|---|---|---|")
    elapsed, delivered = sequential(endpoint.partner)
    print(
        f"| one process, one after the other | {delivered} | {elapsed:.1f} | "
        f"{delivered / elapsed:,.0f} ({1000 * elapsed / delivered:.1f} ms each) |"
    )
    for pool, concurrency in SHAPES:
        connection.close()
        elapsed, delivered = through_workers(endpoint.partner, pool, concurrency, env)
        print(
            f"| emitted in one transaction, Celery worker {pool} ×{concurrency} | {delivered} | "
            f"{elapsed:.1f} | {delivered / elapsed:,.0f} |"
        )
    print(
        f"receiver: {counts['received']} received, {counts['doubled']} doubled, "
        f"{counts['unverified']} not verified"
    )
    connection.close()


def _serve_on(port: int, counts, secret: str) -> None:
    from standardwebhooks import Webhook

    webhook = Webhook(secret)
    seen: set[str] = set()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                webhook.verify(body, headers)
                verified = True
            except Exception:
                verified = False
            with lock:
                msg_id = headers.get("webhook-id", "")
                outcome = "doubled" if msg_id in seen else "received"
                seen.add(msg_id)
                counts[outcome if verified else "unverified"] += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def ports_ready(port: int) -> None:
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the receiver did not start")


if __name__ == "__main__":
    main()
