"""The API's list and check endpoints against `/healthz`, in one process, in the same run
(`make bench-api`, never in `make test`). Issue 20's load benchmark (gunicorn, many connections)
takes these two endpoints over; this one measures what one request costs.

A scratch database `portal_bench_api` (BENCH_API_DATABASE_URL to use another) with a partner of
200 customers; Redis from REDIS_URL (default redis://127.0.0.1:6379/14). For each endpoint: N
requests through Django's test client (the whole middleware and DRF stack, no network), then
requests/s, mean and p95 in milliseconds, and the ratio to /healthz.
"""

import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_URL = os.environ.get(
    "BENCH_API_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_api"
)
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "500"))
CUSTOMERS = 200


def recreate_database() -> None:
    import psycopg2

    name = BENCH_URL.rsplit("/", 1)[1]
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def world():
    """Northwind with 200 customers (each with a subscription), an API key, a usable key."""
    from keys.models import Product
    from keys.services import batch_generate
    from portal.api.services import api_key_create, scopes_allowed
    from portal.models import Partner, PartnerMembership, User
    from tests.factories import SubscriptionFactory, TenantFactory

    partner = Partner.objects.create(
        name="Northwind", partner_id="1000001", contact_email="c@northwind.example"
    )
    admin = User.objects.create_user("partner@northwind.example", "x")
    membership = PartnerMembership.objects.create(user=admin, partner=partner, role="admin")
    for number in range(CUSTOMERS):
        tenant = TenantFactory(
            name=f"Customer {number:03}",
            domain_prefix=f"customer{number:03}",
            created_by_partner=partner,
        )
        SubscriptionFactory(tenant=tenant, partner_of_record=partner)
    product = Product.objects.create(sku="BENCH", name="Benchmark", term_months=12)
    _batch, keys = batch_generate(
        product=product, count=1, seats_per_key=5, partner=partner, actor=None
    )
    _key, raw = api_key_create(
        membership=membership, name="bench", scopes=scopes_allowed("admin"), days=30, role="admin"
    )
    return raw, keys[0]


def measure(send) -> list[float]:
    for _ in range(20):  # warm up
        send()
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        send()
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    os.environ["DATABASE_URL"] = BENCH_URL
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    # The limits are what is measured around, not what stops the run.
    os.environ["API_RATE_LIMIT_PER_MINUTE"] = "1000000"
    os.environ["KEY_GUESS_LIMIT_PER_USER"] = "1000000"
    os.environ["KEY_GUESS_LIMIT_PER_ADDRESS"] = "1000000"
    recreate_database()
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    cache.clear()
    raw, key = world()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_HOST="127.0.0.1")

    def ok(response):
        assert response.status_code == 200, response.content[:300]

    endpoints = {
        "/healthz": lambda: ok(client.get("/healthz")),
        "GET /api/v1/customers/ (50 of 200)": lambda: ok(client.get("/api/v1/customers/")),
        "POST /api/v1/keys/check/ (1 key)": lambda: ok(
            client.post("/api/v1/keys/check/", {"keys": [key]}, content_type="application/json")
        ),
    }
    results = {name: measure(send) for name, send in endpoints.items()}
    floor = REQUESTS / sum(results["/healthz"])
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        print(f"PostgreSQL {cursor.fetchone()[0]}; {REQUESTS} requests each, one process")
    print("| endpoint | req/s | mean ms | p95 ms | ratio to /healthz |")
    print("|---|---|---|---|---|")
    for name, timings in results.items():
        rate = REQUESTS / sum(timings)
        p95 = statistics.quantiles(timings, n=20)[18]
        print(
            f"| {name} | {rate:,.0f} | {1000 * statistics.mean(timings):.1f} | "
            f"{1000 * p95:.1f} | {rate / floor:.2f} |"
        )
    connection.close()


if __name__ == "__main__":
    main()
