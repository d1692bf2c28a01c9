"""What one request of each hot page costs, in one process (`make bench-pages`, never in
`make test`; issue 20).

bench/load.py measures the pages under load (gunicorn, wrk): the figure that counts, but on a
shared two-core machine it moves with whatever else runs. This one sends the same requests, with
the same data (bench/load.py's `world()`), production-like (DEBUG off, the manifest storage),
through Django's test client in one process: no network, no gunicorn, one core, so a change to a
page shows even when the machine is busy. For each page: mean, p50 and p95 in milliseconds, this
process's CPU time, the queries and the Python function calls of one request (the calls do not move
with the machine's load), and the ratio of its rate to `/healthz`'s.

A scratch database `portal_bench_pages` (BENCH_PAGES_DATABASE_URL to use another), dropped and
filled unless BENCH_PAGES_REUSE=1 (then the people, keys and API key of the last fill, kept in a
file next to the database's name under the temporary directory, are used again); Redis from
BENCH_REDIS_URL (default redis://127.0.0.1:6379/12), flushed before a fill. BENCH_PAGES_REQUESTS
per page (default 200, after 20 to warm up). BENCH_LOAD_ONLY=/partner/renewals/,/customer/ measures
those pages (and `/healthz`). BENCH_PAGES_PROFILE=/partner/renewals/ runs cProfile over that page's
requests instead and prints where the time goes (its own time by area — templates, ORM, driver,
URLs… — then the usual listings).
"""

import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import layers  # noqa: E402 — bench/layers.py: a request's time by layer
import load  # noqa: E402 — bench/load.py: the data and the pages

load.BENCH_URL = os.environ.get(
    "BENCH_PAGES_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_pages"
)
load.REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
REQUESTS = int(os.environ.get("BENCH_PAGES_REQUESTS", "200"))
REUSE = os.environ.get("BENCH_PAGES_REUSE") == "1"
PROFILE = os.environ.get("BENCH_PAGES_PROFILE", "")
SAVED = Path(tempfile.gettempdir()) / f"bench-pages-{load.BENCH_URL.rsplit('/', 1)[1]}.json"


def setup() -> dict:
    """The environment and the data: filled anew, or the last fill's (BENCH_PAGES_REUSE=1) with
    the secrets it was made with (the authenticator apps' secrets are encrypted with them)."""
    env = load.environment()
    env["CACHE_KEY_PREFIX"] = "bench-pages"
    saved = json.loads(SAVED.read_text()) if REUSE and SAVED.exists() else None
    if saved is not None:
        env["SECRET_KEY"], env["MFA_SECRET_KEYS"] = saved["secret_key"], saved["mfa_keys"]
        os.environ.update(env)
        import django

        django.setup()
        return saved
    os.environ.update(env)
    built = load.prepare()
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)
    saved = {
        "secret_key": env["SECRET_KEY"],
        "mfa_keys": env["MFA_SECRET_KEYS"],
        "password": built.password,
        "partner": built.partner_admin.email,
        "customer": built.customer_admin.email,
        "key": built.key,
        "api_key": built.api_key,
    }
    SAVED.write_text(json.dumps(saved))
    SAVED.chmod(0o600)
    return saved


def signed_in(email: str, password: str):
    """A test client through the real sign-in: the password form, then the app's code."""
    from django.test import Client

    from mfa.models import AuthenticatorApp
    from tests.second_factor import fresh_code

    client = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    answer = client.post(
        "/accounts/login/", {"username": email, "password": password, "csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 302, answer.status_code
    device = AuthenticatorApp.objects.get(user__email=email)
    token = client.cookies["csrftoken"].value  # signing in gives a new one
    answer = client.post(
        "/accounts/verify/",
        {"method": "app", "code": fresh_code(device), "csrfmiddlewaretoken": token},
    )
    assert answer.status_code == 302, answer.status_code
    return client


def senders(saved: dict) -> dict:
    """Each page of bench/load.py's table as a function sending its request."""
    from django.test import Client

    from keys.codec import format_key

    partner = signed_in(saved["partner"], saved["password"])
    customer = signed_in(saved["customer"], saved["password"])
    anonymous = Client(HTTP_HOST="127.0.0.1")
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {saved['api_key']}")
    token = partner.cookies["csrftoken"].value
    key = {"key": format_key(saved["key"]), "csrfmiddlewaretoken": token}
    body = json.dumps({"keys": [saved["key"]]})
    return {
        "/healthz": lambda: anonymous.get("/healthz"),
        # Not in bench/load.py's table: a signed-in page with the layout and one empty form, the
        # floor under every signed-in page (its session, person and second factor, the layout).
        "GET /partner/keys/check/": lambda: partner.get("/partner/keys/check/"),
        "POST /partner/keys/check/": lambda: partner.post("/partner/keys/check/", key),
        "/partner/": lambda: partner.get("/partner/"),
        "/partner/customers/": lambda: partner.get("/partner/customers/"),
        "/partner/renewals/": lambda: partner.get("/partner/renewals/"),
        "/partner/activity/": lambda: partner.get("/partner/activity/"),
        "/partner/delegated-admin/": lambda: partner.get("/partner/delegated-admin/"),
        "/customer/": lambda: customer.get("/customer/"),
        "/customer/users/": lambda: customer.get("/customer/users/"),
        "GET /api/v1/customers/": lambda: api.get("/api/v1/customers/"),
        "POST /api/v1/keys/check/": lambda: api.post(
            "/api/v1/keys/check/", body, content_type="application/json"
        ),
    }


def ok(send):
    answer = send()
    assert answer.status_code == 200, (answer.status_code, answer.content[:300])
    return answer


def measure(send) -> tuple[list[float], float]:
    """Each request's wall-clock time, and this process's CPU time for one request on average
    (steadier on a busy machine: the database's and Redis's time is not in it)."""
    for _ in range(20):
        ok(send)
    timings = []
    cpu = time.process_time()
    for _ in range(REQUESTS):
        started = time.perf_counter()
        ok(send)
        timings.append(time.perf_counter() - started)
    return timings, (time.process_time() - cpu) / REQUESTS


def counted(send) -> tuple[int, int]:
    """The queries of one request, and the Python function calls of one (cProfile's count, the
    mean of five: the same figure on a busy machine as on a quiet one, so a change shows in it
    even when the milliseconds drown in the noise)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        ok(send)
    queries = len(captured)  # now: the next request empties the connection's log
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        ok(send)
    profiler.disable()
    calls = sum(row[1] for row in pstats.Stats(profiler).stats.values())
    return queries, calls // 5


# Where a function's own time is counted in the profile's summary: the first of these found in
# its file's path (the project's own code last).
AREAS = [
    ("templates", ("django/template/", "templatetags/", "crispy_")),
    ("translation", ("django/utils/translation/", "gettext.py")),
    ("ORM (building queries, making objects)", ("django/db/models/",)),
    ("database driver and wire", ("django/db/backends/", "psycopg2")),
    ("URLs (resolve, reverse)", ("django/urls/",)),
    ("Redis", ("redis/", "django/core/cache/")),
    ("sessions, auth, second factor", ("django/contrib/sessions/", "contrib/auth/", "django_otp")),
    ("REST framework", ("rest_framework/",)),
    ("test client", ("django/test/",)),
    ("other Django", ("django/",)),
    ("the portal's code", (str(ROOT),)),
]


def areas(stats: pstats.Stats) -> dict[str, float]:
    """Each function's own time (tottime), summed by area."""
    found: dict[str, float] = {}
    for (path, _line, name), (
        _calls,
        _primitive,
        own,
        _cumulative,
        _callers,
    ) in stats.stats.items():
        where = f"{path}:{name}"
        area = next(
            (area for area, marks in AREAS if any(mark in where for mark in marks)), "other"
        )
        found[area] = found.get(area, 0.0) + own
    return found


def profile(send) -> None:
    for _ in range(20):
        ok(send)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(REQUESTS):
        ok(send)
    profiler.disable()
    stats = pstats.Stats(profiler)
    found = areas(stats)
    total = sum(found.values())
    print(f"cProfile of {REQUESTS} requests of {PROFILE}: {1000 * total / REQUESTS:.1f} ms each")
    for area, own in sorted(found.items(), key=lambda item: -item[1]):
        print(f"  {area}: {own / total:.0%}")
    stats.strip_dirs()
    stats.sort_stats("cumulative").print_stats(int(os.environ.get("BENCH_PAGES_LINES", "45")))
    stats.sort_stats("tottime").print_stats(30)


def main() -> None:
    saved = setup()
    pages = senders(saved)
    if PROFILE:
        profile(next(send for name, send in pages.items() if name.endswith(PROFILE)))
        return
    only = load.ONLY
    if only:
        pages = {
            name: send
            for name, send in pages.items()
            if name == "/healthz" or name.split()[-1] in only
        }
    results = {name: (measure(send), counted(send)) for name, send in pages.items()}
    report(results)
    print()
    split_report(pages)


def report(results: dict) -> None:
    floor = statistics.mean(results["/healthz"][0][0])
    load_average = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{REQUESTS} requests a page, one process, DEBUG off; load average {load_average}")
    print(
        "| page | mean ms | p50 ms | p95 ms | CPU ms | queries | Python calls | ratio to /healthz |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, ((timings, cpu), (count, calls)) in results.items():
        p95 = statistics.quantiles(timings, n=20)[18]
        mean = statistics.mean(timings)
        print(
            f"| {name} | {1000 * mean:.2f} | {1000 * statistics.median(timings):.2f} | "
            f"{1000 * p95:.2f} | {1000 * cpu:.2f} | {count} | {calls:,} | {floor / mean:.2f} |"
        )


def split_report(pages: dict) -> None:
    """Where one request's time goes, by layer (bench/layers.py), for each page."""
    columns = (*layers.LAYERS, "the rest")
    print("Where one request's time goes, ms (bench/layers.py: each layer without those it calls)")
    print(f"| page | {' | '.join(columns)} | total |")
    print(f"|---|{'---|' * (len(columns) + 1)}")
    for name, send in pages.items():
        shares = layers.split(lambda send=send: ok(send), REQUESTS)
        cells = " | ".join(f"{shares[column]:.2f}" for column in columns)
        print(f"| {name} | {cells} | {sum(shares.values()):.2f} |")


if __name__ == "__main__":
    main()
