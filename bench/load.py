"""The portal under load, production-like (`make bench-load`, never in `make test`; issue 20).

A scratch database `portal_bench_load` (BENCH_LOAD_DATABASE_URL to use another), dropped and
recreated, and Redis from BENCH_REDIS_URL (default redis://127.0.0.1:6379/13, flushed before and
after). It fills the database through the factories and services: Northwind with 200 customers
(170 it created, 15 more it is partner of record for, 15 more it administers under a
delegated-admin relationship), their subscriptions spread over the renewal windows, users and
licenses, delegated-admin offers and relationships, about a thousand activity rows; Fabrikam with
customers of its own; Contoso, a Northwind customer with 60 users, for the customer's pages; an
API key and a key inventory.

Then it runs the portal as README "Deployment" says (DEBUG off, `collectstatic`, gunicorn with
4 sync workers, whitenoise) on 127.0.0.1 over plain HTTP, signs the partner admin and Contoso's
admin in through the real pages (password, then a code from their authenticator app), and runs
wrk against each page in turn: 16 connections, 10 s a page after 2 s of warm-up. Every answer
must be a 200 (a redirect to the sign-in page would measure the wrong page): the run stops
otherwise. It prints a markdown table (requests/s, p50, p95, the ratio to `/healthz` measured at
the start and at the end of the same run) with the machine and the load average, and appends it
to bench/README.md under "Load (issue 20)" (BENCH_LOAD_RECORD=0: print only).

The guessing and rate limits are raised for the run: they are what is measured around, not what
stops it (as in bench/api.py). Needs wrk (Debian: `apt-get install -y wrk`).
"""

import base64
import contextlib
import datetime
import http.cookiejar
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_URL = os.environ.get(
    "BENCH_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_load"
)
# Redis 15 is bench-webhooks', 14 bench-api's.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CONNECTIONS = int(os.environ.get("BENCH_LOAD_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_LOAD_THREADS", "2"))
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "10"))
WARMUP_SECONDS = int(os.environ.get("BENCH_LOAD_WARMUP", "2"))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "4"))
# gunicorn's worker class: sync (README "Deployment"), or gthread with BENCH_LOAD_WORKER_THREADS
# threads a worker (it keeps connections alive between requests; sync closes each).
WORKER_CLASS = os.environ.get("BENCH_LOAD_WORKER_CLASS", "sync")
WORKER_THREADS = int(os.environ.get("BENCH_LOAD_WORKER_THREADS", "4"))
RECORD = os.environ.get("BENCH_LOAD_RECORD", "1") != "0"
# Comma-separated paths to measure only those (and /healthz), e.g. while profiling one page.
ONLY = [path for path in os.environ.get("BENCH_LOAD_ONLY", "").split(",") if path]
README = ROOT / "bench" / "README.md"
RUNS_END = "<!-- bench/load.py adds each run above this line -->"
LUA = ROOT / "bench" / "load.lua"
UNLIMITED = "1000000000"

# Days from today to a subscription's end date, in turn: every renewal window (7, 30, 60 days),
# later ones, the expired grace period and disabled subscriptions.
END_OFFSETS = [-100, -60, -35, -20, -5, 0, 1, 3, 6, 12, 20, 29, 45, 59, 75, 90, 120, 180, 270, 360]
WORDS = ["Alpine", "Blue Yonder", "Coho", "Datum", "Fourth Coffee", "Graphic", "Lucerne"]
ROLE_SETS = [
    ["user_admin", "license_admin", "billing_reader"],
    ["helpdesk"],
    ["global_admin"],
    ["user_admin"],
]
ACTIONS = [
    "tenant_user.created",
    "tenant_user.changed",
    "license.assigned",
    "license.unassigned",
    "tenant_user.activation_resent",
]


def environment() -> dict[str, str]:
    """Production's variables, for plain HTTP on the loopback (no TLS proxy in front)."""
    return {
        "DATABASE_URL": BENCH_URL,
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": "bench-load",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + os.urandom(24).hex(),
        "KEY_PEPPER": "bench-pepper",
        "MFA_SECRET_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": tempfile.mkdtemp(prefix="portal-bench-load-"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        # The limits are what is measured around, not what stops the run: 16 connections of
        # one person check a key far more often than the guessing limits allow.
        "KEY_GUESS_LIMIT_PER_USER": UNLIMITED,
        "KEY_GUESS_LIMIT_PER_ADDRESS": UNLIMITED,
        "API_RATE_LIMIT_PER_MINUTE": UNLIMITED,
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


# The data ------------------------------------------------------------------------------------


@dataclass
class World:
    password: str
    partner_admin: object = None
    customer_admin: object = None
    key: str = ""  # a usable key of Northwind's, canonical
    api_key: str = ""
    members: list = field(default_factory=list)


def _member(partner, email: str, role: str, password: str):
    """A partner user with a confirmed authenticator app (the mfa service starts the set-up;
    confirming it needs a request, so the device is confirmed as tests/second_factor.py does)."""
    from mfa.services import app_setup_start
    from portal.models import PartnerMembership, User

    user = User.objects.create_user(email, password)
    membership = PartnerMembership.objects.create(user=user, partner=partner, role=role)
    device = app_setup_start(user=user)
    device.confirmed = True
    device.save()
    return membership


def _partners(world: World):
    from portal.models import Partner

    northwind = Partner.objects.create(
        name="Northwind Partners",
        partner_id="1000001",
        cloud_program_enrolled=True,
        contact_email="contact@northwind.example",
    )
    fabrikam = Partner.objects.create(
        name="Fabrikam Resellers", partner_id="1000002", contact_email="contact@fabrikam.example"
    )
    admin = _member(northwind, "partner@northwind.example", "admin", world.password)
    world.partner_admin = admin.user
    world.members = [admin.user] + [
        _member(northwind, f"agent{n}@northwind.example", "agent", world.password).user
        for n in range(1, 4)
    ]
    _member(fabrikam, "admin@fabrikam.example", "admin", world.password)
    return northwind, fabrikam, admin


def _users(tenant, count: int, rng: random.Random) -> list:
    """An admin (no portal account: not activated) and `count - 1` users."""
    from tenants.models import TenantUser

    rows = []
    for n in range(count):
        first, last = rng.choice(["Alex", "Léa", "Megan", "Tom", "Yuki"]), f"User{n:03}"
        name = f"{first.lower().replace('é', 'e')}.{last.lower()}"
        rows.append(
            TenantUser(
                tenant=tenant,
                first_name=first,
                last_name=last,
                username=name,
                email=f"{name}@{tenant.domain_prefix}.example",
                is_admin=n == 0,
            )
        )
    return TenantUser.objects.bulk_create(rows)


def _subscriptions(tenant, products, partner_of_record, index: int, users, today) -> list:
    """One or two subscriptions whose end dates walk through END_OFFSETS; licenses for some of
    the users."""
    from tenants.lifecycle import lifecycle_state_on
    from tenants.models import License
    from tests.factories import SubscriptionFactory

    made = []
    for n, sku in enumerate(["BUS-STD", "BUS-PREM"] if index % 3 == 0 else ["BUS-STD"]):
        end = today + datetime.timedelta(days=END_OFFSETS[(index + 7 * n) % len(END_OFFSETS)])
        made.append(
            SubscriptionFactory(
                tenant=tenant,
                product=products[sku],
                seats=len(users) + 5 * (index % 4),
                start_date=end - datetime.timedelta(days=364),
                end_date=end,
                state=lifecycle_state_on(end, today),
                partner_of_record=partner_of_record,
            )
        )
    License.objects.bulk_create(
        License(subscription=made[0], tenant_user=user) for user in users[: len(users) - 1]
    )
    return made


def _customer(name: str, prefix: str, created_by, users: int, rng: random.Random):
    from tests.factories import TenantFactory

    tenant = TenantFactory(
        name=name, domain_prefix=prefix, created_by_partner=created_by, country="FR"
    )
    return tenant, _users(tenant, users, rng)


def _customers(northwind, fabrikam, products, today, rng) -> dict[str, list]:
    """Northwind's 200 customers by how the tenant rule reaches them, and Fabrikam's own."""
    reach = {"created": [], "of_record": [], "delegated": [], "fabrikam": []}
    for index in range(199):  # and Contoso
        if index < 169:
            how, creator, por = "created", northwind, northwind
        elif index < 184:
            how, creator, por = "of_record", fabrikam, northwind
        else:
            how, creator, por = "delegated", fabrikam, fabrikam
        tenant, users = _customer(
            f"{WORDS[index % len(WORDS)]} {index:03}", f"customer{index:03}", creator, 5, rng
        )
        _subscriptions(tenant, products, por, index, users, today)
        reach[how].append((tenant, users))
    for index in range(50):
        tenant, users = _customer(f"Fabrikam client {index:03}", f"fab{index:03}", fabrikam, 3, rng)
        _subscriptions(tenant, products, fabrikam, index, users, today)
        reach["fabrikam"].append((tenant, users))
    return reach


def _delegation(world: World, northwind, fabrikam, reach, today) -> list:
    """Active relationships (Northwind's customers and the 15 it reaches only this way), ended
    ones, pending and answered offers. Returns the active relationships with their users."""
    from tests.factories import DelegationOfferFactory, DelegationRelationshipFactory

    active = []
    for n, (tenant, users) in enumerate(reach["created"][:40] + reach["delegated"]):
        relationship = DelegationRelationshipFactory(
            partner=northwind, tenant=tenant, roles=ROLE_SETS[n % len(ROLE_SETS)]
        )
        active.append((relationship, users))
    for tenant, _users in reach["created"][40:50]:
        DelegationRelationshipFactory(
            partner=northwind,
            tenant=tenant,
            state="expired",
            starts_on=today - datetime.timedelta(days=800),
            ends_on=today - datetime.timedelta(days=70),
        )
    for n, (tenant, _users) in enumerate(reach["created"][50:80]):
        DelegationOfferFactory(
            partner=northwind,
            tenant=tenant,
            created_by=world.partner_admin,
            roles=ROLE_SETS[n % len(ROLE_SETS)],
            state="pending" if n < 20 else "declined",
        )
    for tenant, _users in reach["fabrikam"][:10]:
        DelegationRelationshipFactory(partner=fabrikam, tenant=tenant)
    return active


def _activity(world: World, active: list, rng: random.Random) -> int:
    """About twenty activity rows per active relationship, written by the service that writes
    them when a partner acts in a tenant."""
    from tenants.delegation.activity import activity_write

    count = 0
    for relationship, users in active:
        for _ in range(20):
            activity_write(
                relationship,
                actor=rng.choice(world.members),
                action=rng.choice(ACTIONS),
                target=rng.choice(users),
                details={"bench": True},
            )
            count += 1
    return count


def _contoso(world: World, northwind, fabrikam, products, today, rng) -> list:
    """Contoso: Northwind's customer with 60 users, an activated admin (Megan) with an
    authenticator app, an admin still to activate, Northwind as its delegated admin and a
    pending offer from Fabrikam."""
    from mfa.services import app_setup_start
    from portal.models import User
    from tests.factories import DelegationOfferFactory, DelegationRelationshipFactory

    tenant, users = _customer("Contoso", "contoso", northwind, 60, rng)
    megan = User.objects.create_user("megan@contoso.example", world.password)
    admin = users[0]
    admin.user, admin.first_name, admin.last_name = megan, "Megan", "Bowen"
    admin.email, admin.username = megan.email, "megan"
    admin.save()
    users[1].is_admin = True  # a second admin, not activated yet
    users[1].save()
    device = app_setup_start(user=megan)
    device.confirmed = True
    device.save()
    world.customer_admin = megan
    _subscriptions(tenant, products, northwind, 3, users, today)  # 3: two subscriptions
    relationship = DelegationRelationshipFactory(
        partner=northwind, tenant=tenant, roles=ROLE_SETS[0]
    )
    DelegationOfferFactory(partner=fabrikam, tenant=tenant, roles=["helpdesk"])
    return [(relationship, users)]


def world() -> World:
    from django.db import transaction
    from django.utils import timezone

    from keys.models import Product
    from keys.services import batch_generate
    from portal.api.services import api_key_create, scopes_allowed
    from tenants.access import partner_customers

    rng = random.Random(20)
    today = timezone.localdate()
    built = World(password="bench-" + os.urandom(12).hex())
    with transaction.atomic():
        products = {
            sku: Product.objects.create(sku=sku, name=name, term_months=12)
            for sku, name in [
                ("BUS-BASIC", "Business Basic"),
                ("BUS-STD", "Business Standard"),
                ("BUS-PREM", "Business Premium"),
            ]
        }
        northwind, fabrikam, admin = _partners(built)
        reach = _customers(northwind, fabrikam, products, today, rng)
        active = _delegation(built, northwind, fabrikam, reach, today)
        active += _contoso(built, northwind, fabrikam, products, today, rng)
        rows = _activity(built, active, rng)
    _batch, keys = batch_generate(
        product=products["BUS-STD"], count=2000, seats_per_key=5, partner=northwind, actor=None
    )
    built.key = keys[0]
    _key, built.api_key = api_key_create(
        membership=admin, name="bench", scopes=scopes_allowed("admin"), days=30, role="admin"
    )
    customers = partner_customers(northwind).count()
    print(
        f"data: {customers} customers of Northwind by the tenant rule, {len(active)} relationships "
        f"in force, {rows} activity rows, {len(keys)} keys in the inventory"
    )
    return built


# The server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(env: dict, *args: str) -> None:
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", *args], cwd=ROOT, env=env, check=True
    )


@contextlib.contextmanager
def portal(env: dict, port: int):
    """gunicorn as README "Deployment" runs it, stopped (with its workers) whatever happens."""
    manage(env, "collectstatic", "--noinput", "--verbosity=0")
    log = Path(env["VAR_DIR"]) / "gunicorn.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "portal.wsgi",
                f"--workers={WORKERS}",
                f"--worker-class={WORKER_CLASS}",
                *([f"--threads={WORKER_THREADS}"] if WORKER_CLASS == "gthread" else []),
                f"--bind=127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: Ctrl-C reaches the bench, which stops it
        )
    try:
        _wait_healthy(port, server, log)
        yield server
    finally:
        _stop(server)


def _wait_healthy(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn stopped:\n{log.read_text()[-3000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer /healthz within 60 s:\n{log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)  # the master stops its workers
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


# Signing in through the pages ----------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 302 itself is the answer to look at


class Browser:
    """Enough of a browser to sign in: cookies kept, redirects not followed."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def send(self, path: str, form: dict | None = None) -> tuple[int, str]:
        data = None
        if form is not None:
            data = urllib.parse.urlencode(
                {**form, "csrfmiddlewaretoken": self.cookie("csrftoken")}
            ).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def sign_in(base: str, user, password: str) -> dict[str, str]:
    """The password form, then the second step with the code the person's authenticator app
    shows: the session's cookie and CSRF token, as a browser holds them afterwards."""
    from mfa.models import AuthenticatorApp
    from tests.second_factor import fresh_code

    browser = Browser(base)
    steps = [
        ("/accounts/login/", None, 200),
        ("/accounts/login/", {"username": user.email, "password": password}, 302),
        (
            "/accounts/verify/",
            {"method": "app", "code": fresh_code(AuthenticatorApp.objects.get(user=user))},
            302,
        ),
    ]
    for path, form, expected in steps:
        status, _body = browser.send(path, form)
        if status != expected:
            raise RuntimeError(f"signing {user.email} in: {path} answered {status}")
    return {"sessionid": browser.cookie("sessionid"), "csrftoken": browser.cookie("csrftoken")}


# Measuring -----------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    path: str
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    body: str = ""
    expect: str = ""  # text the answer must contain (the pre-flight request checks it)


def targets(world: World, partner: dict, customer: dict) -> list[Target]:
    from keys.codec import format_key

    def session(cookies: dict) -> dict:
        return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}

    page, home = session(partner), session(customer)
    api = {"Authorization": f"Bearer {world.api_key}"}
    key_form = {
        **page,
        "X-CSRFToken": partner["csrftoken"],
        "Content-Type": "application/x-www-form-urlencoded",
    }
    key_json = {**api, "Content-Type": "application/json"}
    return [
        Target("`/healthz` (database and broker ping)", "/healthz", expect='"status": "ok"'),
        Target(
            "key check (POST `/partner/keys/check/`)",
            "/partner/keys/check/",
            "POST",
            key_form,
            urllib.parse.urlencode({"key": format_key(world.key)}),
            "Business Standard",
        ),
        Target("partner overview `/partner/`", "/partner/", headers=page, expect="Northwind"),
        Target("customers `/partner/customers/`", "/partner/customers/", headers=page),
        Target("renewals `/partner/renewals/`", "/partner/renewals/", headers=page),
        Target("activity `/partner/activity/`", "/partner/activity/", headers=page),
        Target(
            "delegated admin `/partner/delegated-admin/`", "/partner/delegated-admin/", headers=page
        ),
        Target("customer home `/customer/`", "/customer/", headers=home, expect="Contoso"),
        Target("customer users `/customer/users/`", "/customer/users/", headers=home),
        Target("API customer list `GET /api/v1/customers/`", "/api/v1/customers/", headers=api),
        Target(
            "API key check `POST /api/v1/keys/check/`",
            "/api/v1/keys/check/",
            "POST",
            key_json,
            json.dumps({"keys": [world.key]}),
            '"usable":true',
        ),
        Target("`/healthz` again, at the end", "/healthz", expect='"status": "ok"'),
    ]


def preflight(base: str, target: Target) -> int:
    """One request as wrk will send it: a 200 with the page's text, or the run is wrong.
    Returns the answer's size in bytes."""
    request = urllib.request.Request(  # noqa: S310 — base is http://127.0.0.1:<port>
        base + target.path,
        data=target.body.encode() or None,
        headers=target.headers,
        method=target.method,
    )
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=30) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status != 200 or target.expect not in text:
        raise RuntimeError(
            f"{target.method} {target.path} answered {status} "
            f"{'without ' + repr(target.expect) if status == 200 else ''}: {text[:300]!r}"
        )
    return len(text.encode())


def wrk(base: str, target: Target, seconds: int) -> dict:
    env = {
        **os.environ,
        "BENCH_METHOD": target.method,
        "BENCH_BODY": target.body,
        "BENCH_HEADERS": "\n".join(f"{name}: {value}" for name, value in target.headers.items()),
    }
    command = [
        "wrk",
        f"--threads={THREADS}",
        f"--connections={CONNECTIONS}",
        f"--duration={seconds}s",
        "--timeout=10s",
        f"--script={LUA}",
        base + target.path,
    ]
    cpu_before = _children_cpu()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    cpu = _children_cpu() - cpu_before
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH "))
    result = json.loads(line.removeprefix("BENCH "))
    result["wrk_cpu"] = cpu / (result["duration_us"] / 1e6)  # wrk's share of one core
    if not result["requests"]:
        raise RuntimeError(f"{target.method} {target.path}: no answer in {seconds} s")
    failures = result["not_ok"] + sum(result[k] for k in ("connect", "read", "write", "timeout"))
    if failures:
        raise RuntimeError(
            f"{target.method} {target.path}: {result['not_ok']} answers other than 200 (the first "
            f"{result['first_status']}), socket errors {result}:\n{done.stdout}"
        )
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(base: str, all_targets: list[Target]) -> list[tuple[Target, dict]]:
    if ONLY:
        all_targets = [t for t in all_targets if t.path in ONLY or t.path == "/healthz"]
    sizes = [preflight(base, target) for target in all_targets]
    results = []
    for target, size in zip(all_targets, sizes, strict=True):
        if WARMUP_SECONDS:
            wrk(base, target, WARMUP_SECONDS)
        result = wrk(base, target, SECONDS)
        results.append((target, result))
        rate = result["requests"] / (result["duration_us"] / 1e6)
        print(
            f"  {target.label}: {rate:,.0f} req/s, p95 {result['p95_us'] / 1000:.0f} ms "
            f"({size:,} bytes an answer)"
        )
    return results


# The report ----------------------------------------------------------------------------------


def machine(load_before: tuple) -> str:
    import django
    import gunicorn
    import redis
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    tool = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()
    load_after = os.getloadavg()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"PostgreSQL {postgres}, Redis {redis_version}; gunicorn {gunicorn.__version__} with "
        f"{_workers()}, DEBUG off; wrk {tool[1] if len(tool) > 1 else '?'} with "
        f"{THREADS} threads and {CONNECTIONS} connections, {SECONDS} s a page after "
        f"{WARMUP_SECONDS} s of warm-up. Load average (1, 5, 15 min) before the run "
        f"{_load(load_before)}, at its end {_load(load_after)} (the run's own processes count "
        f"in that one: {WORKERS} busy workers, PostgreSQL, wrk)."
    )


def _workers() -> str:
    if WORKER_CLASS == "gthread":
        return f"{WORKERS} gthread workers of {WORKER_THREADS} threads"
    return f"{WORKERS} {WORKER_CLASS} workers"


def _load(values: tuple) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def table(results: list[tuple[Target, dict]]) -> str:
    def rate(result: dict) -> float:
        return result["requests"] / (result["duration_us"] / 1e6)

    floors = [rate(result) for target, result in results if target.path == "/healthz"]
    floor = sum(floors) / len(floors)
    lines = [
        "| page | req/s | p50 | p95 | ratio to `/healthz` |",
        "|---|---|---|---|---|",
    ]
    for target, result in results:
        lines.append(
            f"| {target.label} | {rate(result):,.0f} | {result['p50_us'] / 1000:.0f} ms | "
            f"{result['p95_us'] / 1000:.0f} ms | {rate(result) / floor:.2f} |"
        )
    lines.append("")
    wrk_cpu = max(result["wrk_cpu"] for _target, result in results)
    note = (
        f"The ratio is to the mean of the two `/healthz` runs ({floor:,.0f} req/s). "
        f"Every request of every run answered 200. wrk itself used at most {wrk_cpu:.0%} of "
        "one core."
    )
    drift = max(floors) / min(floors) - 1
    if drift > 0.15:
        note += (
            f" The two `/healthz` runs differ by {drift:.0%}: something else used the machine "
            "meanwhile, so compare these ratios with care."
        )
    lines.append(textwrap.fill(note, width=100, break_on_hyphens=False))
    return "\n".join(lines)


def record(report: str) -> None:
    """Add the run to bench/README.md's "Load (issue 20)" section, above its end marker."""
    text = README.read_text()
    if RUNS_END not in text:
        text = text.rstrip("\n") + "\n\n## Load (issue 20)\n\n" + RUNS_END + "\n"
    README.write_text(text.replace(RUNS_END, report + "\n\n" + RUNS_END))


# The run -------------------------------------------------------------------------------------


def prepare() -> World:
    recreate_database()
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    redis.Redis.from_url(REDIS_URL).flushdb()
    return world()


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench-load needs wrk: apt-get install -y wrk (Debian's package)")
    # A `kill` of the bench stops gunicorn too (the finally clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()
    env = {**os.environ, **environment()}
    os.environ.update(env)
    try:
        built = prepare()
        from django.db import connection

        port = free_port()
        env["PORTAL_BASE_URL"] = base = f"http://127.0.0.1:{port}"
        with portal(env, port):
            partner = sign_in(base, built.partner_admin, built.password)
            customer = sign_in(base, built.customer_admin, built.password)
            connection.close()  # the bench's own connection stays out of the measurement
            print(f"gunicorn on {base}; {SECONDS} s a page, {CONNECTIONS} connections")
            results = measure(base, targets(built, partner, customer))
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        about = textwrap.fill(machine(load_before), width=100, break_on_hyphens=False)
        report = f"### Run of {stamp}\n\n{about}\n\n{table(results)}"
        print()
        print(report)
        if RECORD:
            record(report)
            print(f"\n(added to {README.relative_to(ROOT)})")
    finally:
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
        shutil.rmtree(env["VAR_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
