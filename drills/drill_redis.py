"""Drill 2: Redis stopped and started.

Redis is the broker and the shared cache (the guessing and rate limits). While it is stopped:
pages that count nothing keep working; key look-ups (page and API) and sign-ins fail closed
with the outage answer; /readyz says which part is down; a customer admin adds users, whose
activation e-mails are written to the outbox but cannot be handed to a worker. Redis comes back
empty (no persistence: every queued task and counter is gone), and the periodic pickup sends
those e-mails."""

import time

from drills import checks, world
from drills.report import Report
from drills.stack import Stack, periodic_every, readyz, wait_until
from drills.traffic import (
    OUTAGE_PAGE_TEXTS,
    Browser,
    Nodes,
    Reader,
    Tally,
    run_clients,
    stop_clients,
)

TITLE = "Redis stopped and started"
PAGES = ["/partner/", "/partner/customers/", "/partner/renewals/", "/partner/delegated-admin/"]
NEW_USERS = 3


def run(stack: Stack, report: Report) -> None:
    built = world.build(keys=10)
    contoso = world.customer_make(built, "contoso")
    lee = world.customer_admin(contoso, "lee@contoso.example")
    key = built.take_keys(1)[0]
    # Ops' choice in the admin: the outbox pickup every 5 s instead of every minute, so that
    # the drill need not wait for the minute to turn.
    periodic_every("portal.tasks.deliver_outbox", 5)
    stack.cluster_up()
    partner, customer = Browser(stack.ports[0]), Browser(stack.ports[1])
    partner.sign_in(built.admin, world.PASSWORD)
    customer.sign_in(lee, world.PASSWORD)
    nodes, tally = Nodes(stack.ports), Tally()
    report.expect(
        _key_checks(partner, built, key, nodes, tally) == (200, 200),
        "before: a key check answers 200 on the page and in the API",
    )

    report.did(
        f"Redis stopped while a partner admin read {len(PAGES)} pages, checked a key on the page "
        f"and in the API, someone tried to sign in, and a customer admin added {NEW_USERS} "
        "users; then started again, empty (no persistence: every queued task and counter lost)"
    )
    stack.redis.stop()
    stopped = time.monotonic()
    reader = run_clients([Reader("pages", nodes, tally, partner, PAGES)])
    _while_down(report, stack, partner, customer, built, key, nodes, tally)
    stop_clients(reader)
    stack.redis.start()
    report.found(f"Redis was away for {time.monotonic() - stopped:.0f} s")
    _after(report, stack, partner, built, key, nodes, tally)


def _key_checks(partner: Browser, built, key: str, nodes: Nodes, tally: Tally) -> tuple[int, int]:
    from keys.codec import format_key

    page = tally.record(
        "key check page", partner.send("/partner/keys/check/", {"key": format_key(key)})
    )
    api = tally.record(
        "key check API",
        nodes.send(
            "POST",
            "/api/v1/keys/check/",
            body=f'{{"keys": ["{key}"]}}',
            headers={
                "Authorization": f"Bearer {built.api_key}",
                "Content-Type": "application/json",
            },
        ),
    )
    return page.status, api.status


def _while_down(report, stack, partner, customer, built, key, nodes, tally) -> None:
    answers = [readyz(port) for port in stack.ports]
    report.expect(
        all(
            a.status == 503 and a.json()["cache"] == "down" and a.json()["broker"] == "down"
            for a in answers
        ),
        f"/readyz on both nodes: 503 {answers[0].json()}",
    )
    checks_down = [_key_checks(partner, built, key, nodes, tally) for _ in range(5)]
    page = partner.send("/partner/keys/check/", {"key": key})
    report.expect(
        all(c == (503, 503) for c in checks_down)
        and page.is_outage
        and b"Business Standard" not in page.body,
        "key look-ups fail closed: 5 on the page and 5 in the API, each a 503 saying the "
        "limits cannot be checked, none looked up",
    )
    stranger = Browser(stack.ports[1])
    stranger.send("/accounts/login/")
    sign_in = stranger.send("/accounts/login/", {"username": built.admin.email, "password": "x"})
    report.expect(
        sign_in.status == 503 and OUTAGE_PAGE_TEXTS[1] in sign_in.body,
        "a sign-in fails closed the same way (nobody guesses passwords unlimited)",
    )
    added = [_add_user(customer, n, tally) for n in range(NEW_USERS)]
    report.expect(
        added == [302] * NEW_USERS,
        f"a customer admin added {NEW_USERS} users (pages that count nothing keep working): "
        f"{added}",
    )
    time.sleep(3)  # the partner's reader goes on a little longer


def _add_user(customer: Browser, n: int, tally: Tally) -> int:
    form = {
        "first_name": "New",
        "last_name": f"User{n}",
        "username": f"new.user{n}",
        "email": f"new.user{n}@contoso.example",
        "phone": "",
        "language": "en",
    }
    return tally.record("add user", customer.send("/customer/users/add/", form)).status


def _after(report, stack, partner, built, key, nodes, tally) -> None:
    from post_office.models import Email

    started = time.monotonic()
    ready = wait_until(lambda: all(readyz(port).status == 200 for port in stack.ports), 60)
    report.expect(
        ready,
        f"/readyz 200 again on both nodes {time.monotonic() - started:.1f} s after Redis was back",
    )
    pages = tally.total(label="pages")
    report.expect(
        pages > 0 and tally.total(label="pages", status=200) == pages,
        f"pages that count nothing kept working: {pages} requests, all 200",
    )
    checks.fresh_connection()
    queued = {
        e.message_id
        for e in Email.objects.filter(to__icontains="new.user")  # the activation e-mails
    }
    delivered = lambda: queued <= {m.message_id for m in stack.smtp.messages()}  # noqa: E731
    sent = wait_until(delivered, 120)
    received = [m.message_id for m in stack.smtp.messages() if m.message_id in queued]
    report.expect(
        sent and len(queued) == NEW_USERS,
        f"the {len(queued)} e-mails queued while Redis was away went out "
        f"{time.monotonic() - started:.0f} s after it was back (the periodic pickup)",
    )
    report.lost += len(queued - set(received)) + (NEW_USERS - len(queued))
    report.doubled += len(received) - len(set(received))
    report.expect(
        _key_checks(partner, built, key, nodes, tally) == (200, 200),
        "after: key checks answer 200 again",
    )
    report.found(tally.summary())
    report.other_5xx += tally.other_5xx()
    report.expect(
        tally.bad_503() + tally.no_answer() == 0,
        "every 503 was the outage answer; no request went unanswered",
    )
