"""Benchmark of the renewal-notice sweep (issue 11), run on demand: `make bench-renewals`.

The sweep over 100,000 subscriptions with 10,000 due, then the same sweep over 1,000,000
subscriptions with the same 10,000 due. The goal: the second takes at most 1.5 times the first,
i.e. the sweep's cost follows what is due, not the size of the table.

Rows are made with INSERT … SELECT generate_series (10 products a tenant). Each due subscription
has its 30-day threshold today; each sends two notices (the tenant's admin and the partner of
record's admin), so a run queues 20,000 e-mails in the outbox. The lifecycle sweep is timed the
same way (10,000 subscriptions expiring today), and the delegated-admin sweep over 10,000
relationships whose 7-day notice is due today (one to the partner's admin, one to the tenant's).

Uses BENCH_RENEWALS_DATABASE_URL, else a scratch database `portal_bench_renewals` on the local
PostgreSQL (created and dropped here). Each run is added to bench/README.md, section "The
renewal-notice sweep" (BENCH_RENEWALS_RECORD=0: print only).
"""

import datetime
import os
import platform
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_URL = os.environ.get(
    "BENCH_RENEWALS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_renewals"
)
DUE = int(os.environ.get("BENCH_DUE", "10000"))
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "100000,1000000").split(",")]
PRODUCTS = 10
TODAY = date(2026, 6, 1)
RECORD = os.environ.get("BENCH_RENEWALS_RECORD", "1") != "0"
README = ROOT / "bench" / "README.md"
RUNS_END = "<!-- bench/renewals.py adds each run above this line -->"


def recreate_database() -> None:
    import psycopg2

    name = BENCH_URL.rsplit("/", 1)[1]
    conn = psycopg2.connect(ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def fill(total: int) -> None:
    """`total` subscriptions (total / 10 tenants, 10 products each); DUE of them due today."""
    from django.db import connection

    tenants = total // PRODUCTS
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE renewals_renewalnotice, post_office_email, tenants_delegationnotice, "
            "tenants_delegationrelationship, tenants_delegationoffer CASCADE"
        )
        cursor.execute("SELECT coalesce(max(id), 0) FROM tenants_tenant")
        have = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM portal_partner")
        partner = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO tenants_tenant (name, domain_prefix, country, preferred_language,
                created_by_partner_id, created_at)
            SELECT 'Customer ' || i, 't' || lpad(i::text, 8, '0'), 'FR', 'en', %s, now()
            FROM generate_series(%s, %s) AS i
            """,
            [partner, have + 1, tenants],
        )
        cursor.execute(
            """
            INSERT INTO tenants_tenantuser (tenant_id, first_name, last_name, username, email,
                phone, is_admin, created_at)
            SELECT t.id, 'A', 'Admin', 'admin', 'admin@' || t.domain_prefix || '.example', '',
                true, now()
            FROM tenants_tenant t WHERE t.id > %s
            """,
            [have],
        )
        # Not due: end dates spread over the next year and more, next notice 60 days before.
        cursor.execute(
            """
            INSERT INTO tenants_subscription (tenant_id, product_id, seats, start_date, end_date,
                state, created_by_partner_id, partner_of_record_id, created_at,
                renewal_notice_on, ended_by_direct_billing, billed_directly)
            SELECT t.id, p.id, 5, e - 364, e, 'active', %s, %s, now(), e - 60, false, false
            FROM tenants_tenant t CROSS JOIN keys_product p,
                LATERAL (SELECT %s::date + (70 + (t.id * 7 + p.id) %% 400)::int AS e) d
            WHERE t.id > %s
            """,
            [partner, partner, TODAY, have],
        )
        # The same DUE subscriptions are due in every run: the 30-day threshold is today.
        cursor.execute(
            """
            UPDATE tenants_subscription SET start_date = %s::date - 334, end_date = %s::date + 30,
                renewal_notice_on = %s::date, state = 'active'
            WHERE id IN (SELECT id FROM tenants_subscription ORDER BY id LIMIT %s)
            """,
            [TODAY, TODAY, TODAY, DUE],
        )
        # And another DUE expire today (the lifecycle sweep's work).
        cursor.execute(
            """
            UPDATE tenants_subscription SET start_date = %s::date - 365,
                end_date = %s::date - 1, renewal_notice_on = NULL, state = 'active'
            WHERE id IN (SELECT id FROM tenants_subscription ORDER BY id OFFSET %s LIMIT %s)
            """,
            [TODAY, TODAY, DUE, DUE],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM tenants_subscription")
        assert cursor.fetchone()[0] == total, "subscriptions"


def fill_delegation() -> None:
    """DUE active relationships of the bench's partner, one a tenant, whose 7-day notice is due
    today (each to the partner's admin and the tenant's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM portal_partner")
        partner = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO tenants_delegationoffer (partner_id, tenant_id, roles, duration_days,
                auto_extend, message, state, created_at, expires_at)
            SELECT %s, t.id, '["user_admin"]', 365, false, '', 'accepted', now(), now()
            FROM tenants_tenant t ORDER BY t.id LIMIT %s
            """,
            [partner, DUE],
        )
        cursor.execute(
            """
            INSERT INTO tenants_delegationrelationship (offer_id, partner_id, tenant_id, roles,
                auto_extend, starts_on, ends_on, state, created_at)
            SELECT o.id, o.partner_id, o.tenant_id, o.roles, false, %s::date - 358,
                %s::date + 7, 'active', now()
            FROM tenants_delegationoffer o
            """,
            [TODAY, TODAY],
        )
        cursor.execute("ANALYZE")


def main() -> None:
    load_before = os.getloadavg()
    os.environ["DATABASE_URL"] = BENCH_URL
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from keys.models import Product
    from portal.models import Partner, PartnerMembership, User
    from renewals.services import lifecycle_advance, renewal_notices_send
    from tenants.delegation.sweep import delegation_sweep

    call_command("migrate", verbosity=0)
    # The e-mails are queued only: no worker is asked to deliver them during the run.
    import portal.emails

    portal.emails.outbox_kick = lambda: None
    partner = Partner.objects.create(
        name="Bench", partner_id="1000001", contact_email="contact@bench.example"
    )
    user = User.objects.create_user("partner@bench.example", "x")
    PartnerMembership.objects.create(user=user, partner=partner, role="admin")
    for index in range(PRODUCTS):
        Product.objects.create(sku=f"P{index}", name=f"Product {index}", term_months=12)

    results = []
    for total in SIZES:
        started = time.perf_counter()
        fill(total)
        fill_delegation()
        made = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN SELECT * FROM tenants_subscription WHERE renewal_notice_on <= %s "
                "LIMIT 200 FOR UPDATE SKIP LOCKED",
                [TODAY],
            )
            plan = " / ".join(row[0].strip() for row in cursor.fetchall())
        result = {"total": total, "made": made}
        started = time.perf_counter()
        result["sent"] = sent = renewal_notices_send(today=TODAY)
        result["notices"] = time.perf_counter() - started
        started = time.perf_counter()
        result["moved"] = moved = lifecycle_advance(today=TODAY)
        result["lifecycle"] = time.perf_counter() - started
        assert sent == 2 * DUE, sent
        assert moved == DUE, moved
        # A second run finds nothing: the cost of an idle run (beat runs it several times a day).
        started = time.perf_counter()
        assert renewal_notices_send(today=TODAY) == 0
        result["idle"] = time.perf_counter() - started
        started = time.perf_counter()
        result["delegation_sent"] = delegation_sweep(today=TODAY)["notices"]
        result["delegation"] = time.perf_counter() - started
        assert result["delegation_sent"] == 2 * DUE, result["delegation_sent"]
        results.append(result)
        print(
            f"{total:>9,} subscriptions (made in {made:.1f} s): notice sweep "
            f"{result['notices']:.2f} s for {sent:,} e-mails ({sent / result['notices']:,.0f}/s), "
            f"lifecycle sweep {result['lifecycle']:.2f} s for {moved:,}, idle sweep "
            f"{result['idle'] * 1000:.1f} ms; delegation sweep {result['delegation']:.2f} s for "
            f"{result['delegation_sent']:,} e-mails"
        )
        print(f"          plan: {plan}")
    small = results[0]
    for result in results[1:]:
        print(
            f"ratio {result['total']:,} / {small['total']:,}: notices "
            f"{result['notices'] / small['notices']:.2f}, lifecycle "
            f"{result['lifecycle'] / small['lifecycle']:.2f} (goal ≤ 1.5)"
        )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    about = textwrap.fill(machine(load_before), width=100, break_on_hyphens=False)
    report = f"### Run of {stamp}\n\n{about}\n\n{table(results)}"
    print()
    print(report)
    if RECORD:
        text = README.read_text()
        README.write_text(text.replace(RUNS_END, report + "\n\n" + RUNS_END))
        print(f"\n(added to {README.relative_to(ROOT)})")


def machine(load_before: tuple) -> str:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = " / ".join(f"{value:.2f}" for value in load_before)
    load_after = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python "
        f"{platform.python_version()}, Django {django.get_version()}, PostgreSQL {postgres}; "
        f"DEBUG on, as `make run`. Load average (1, 5, 15 min) before the run {load}, at its "
        f"end {load_after} (the run's own process and PostgreSQL count in that one)."
    )


def table(results: list[dict]) -> str:
    lines = [
        "| subscriptions | due | notice sweep | e-mails | e-mails/s | lifecycle sweep | moved "
        "| idle sweep | delegation sweep (e-mails) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['total']:,} | {DUE:,} | {r['notices']:.1f} s | {r['sent']:,} | "
            f"{r['sent'] / r['notices']:,.0f} | {r['lifecycle']:.1f} s | {r['moved']:,} | "
            f"{r['idle'] * 1000:.1f} ms | {r['delegation']:.1f} s ({r['delegation_sent']:,}) |"
        )
    small = results[0]
    for r in results[1:]:
        lines.append(
            f"| **ratio** {r['total']:,} / {small['total']:,} | | "
            f"**{r['notices'] / small['notices']:.2f}** | | | "
            f"**{r['lifecycle'] / small['lifecycle']:.2f}** | | | |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
