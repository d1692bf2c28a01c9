"""Drill 1: PostgreSQL restarted during redemptions and renewals.

API clients create customers from keys and renew customers, a person reads the partner pages,
over both web nodes; PostgreSQL is restarted (`pg_ctl restart -m fast`: running transactions are
cut, connections dropped, new ones refused until it is back). Each client retries a 503 with
the same Idempotency-Key, as a client following Retry-After does."""

import time

from drills import checks, world
from drills.report import Report
from drills.stack import Stack
from drills.traffic import (
    Browser,
    Nodes,
    Tally,
    api_and_page_traffic,
    stop_clients,
)

TITLE = "PostgreSQL restarted during redemptions and renewals"
PAGES = ["/partner/", "/partner/customers/", "/partner/renewals/"]


def run(stack: Stack, report: Report) -> None:
    from tenants.models import Subscription

    built = world.build(keys=1500, customers=20)
    ends_before = dict(
        Subscription.objects.filter(tenant_id__in=built.customers).values_list(
            "tenant_id", "end_date"
        )
    )
    stack.cluster_up()
    browser = Browser(stack.ports[0])
    browser.sign_in(built.admin, world.PASSWORD)
    web_before = stack.group("web-1") | stack.group("web-2")

    nodes, tally = Nodes(stack.ports), Tally()
    clients = api_and_page_traffic(nodes, tally, built, browser, PAGES)
    time.sleep(5)
    started = time.monotonic()
    stack.pg.restart()
    down = time.monotonic() - started
    time.sleep(8)
    stop_clients(clients)
    report.did(
        "2 API clients creating customers from keys, 2 renewing 20 customers, a signed-in "
        f"partner admin reading 3 pages, over both nodes; PostgreSQL restarted after 5 s "
        f"(pg_ctl restart -m fast: {down:.1f} s until it accepted connections again), "
        "traffic for 8 s more"
    )
    _answers(report, tally)
    checks.fresh_connection()
    checks.api_outcomes(report, clients, ends_before)
    checks.web_nodes_recovered(report, stack, web_before, "Django reconnected on the next request")


def _answers(report: Report, tally: Tally) -> None:
    report.found(tally.summary())
    pages = tally.total(status=503, label="pages")
    report.expect(
        tally.total(status=503) > 0,
        f"requests in flight or arriving during the restart got a 503: {pages} pages, "
        f"{tally.total(status=503) - pages} API calls",
    )
    report.expect(
        tally.bad_503() == 0,
        "each of them the outage page in the reader's language or the API's problem+json "
        "saying the database is away (not a traceback, not the generic 500)",
    )
    report.expect(tally.no_answer() == 0, f"requests with no answer: {tally.no_answer()}")
    for line in tally.failures[:5]:
        report.found(line)
    report.other_5xx += tally.other_5xx()
