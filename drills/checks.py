"""What the drills look for in the database after a fault: each answer the traffic got against
the rows it stands for (lost, doubled, done but answered as refused), and the rows that must
always come together (nothing half-written)."""

import datetime
from collections import Counter
from dataclasses import dataclass

from django.db import connection

from drills.stack import readyz, wait_until


def fresh_connection() -> None:
    """The drill's own connection may have died with the fault: the next query opens another."""
    connection.close()


@dataclass
class Creations:
    answered: int = 0  # 201
    refused: int = 0  # a final 4xx
    unfinished: int = 0  # still 503/409/no answer when the client gave up
    lost: int = 0  # answered 201, not in the database
    done_but_refused: int = 0  # in the database, answered 4xx
    doubled: int = 0  # more than one customer for one request
    keys_held: int = 0  # keys of a refused or unfinished request still reserved by a draft


def creations_check(outcomes) -> Creations:
    from keys.models import ProductKey
    from tenants.models import SubscriptionKey, Tenant

    found = Creations()
    for outcome in outcomes:
        tenants = Tenant.objects.filter(domain_prefix=outcome.target).count()
        (key,) = outcome.keys
        state = ProductKey.objects.matching(key).get().state
        used = SubscriptionKey.objects.filter(
            product_key__in=ProductKey.objects.matching(key),
            subscription__tenant__domain_prefix=outcome.target,
        ).count()
        found.doubled += max(0, tenants - 1)
        if outcome.status == 201:
            found.answered += 1
            found.lost += int(tenants == 0 or used != 1 or state != "redeemed")
        elif outcome.status in {0, 409, 503}:
            found.unfinished += 1
        else:
            found.refused += 1
            found.done_but_refused += int(tenants > 0)
        if outcome.status != 201 and state == "reserved":
            found.keys_held += 1
    return found


@dataclass
class Renewals:
    answered: int = 0
    refused: int = 0
    unfinished: int = 0
    lost: int = 0  # answered 200, its key not in the subscription
    done_but_refused: int = 0
    doubled: int = 0  # customers whose end date moved more than their renewals say
    keys_held: int = 0


def renewals_check(outcomes, ends_before: dict[int, datetime.date]) -> Renewals:
    """Each renewal's key is in its customer's subscription exactly when it was answered 200,
    and each end date moved by exactly one term per key renewed into it."""
    from keys.models import ProductKey
    from tenants.models import Subscription, SubscriptionKey
    from tenants.services.tenants import subscription_end

    found = Renewals()
    for outcome in outcomes:
        (key,) = outcome.keys
        product_key = ProductKey.objects.matching(key).get()
        used = SubscriptionKey.objects.filter(
            product_key=product_key, subscription__tenant_id=int(outcome.target), kind="renewed"
        ).exists()
        if outcome.status == 200:
            found.answered += 1
            found.lost += int(not used)
        elif outcome.status in {0, 409, 503}:
            found.unfinished += 1
        else:
            found.refused += 1
            found.done_but_refused += int(used)
        if outcome.status != 200 and product_key.state == "reserved":
            found.keys_held += 1
    for tenant_id, end in ends_before.items():
        subscription = Subscription.objects.get(tenant_id=tenant_id)
        for _ in range(
            SubscriptionKey.objects.filter(subscription=subscription, kind="renewed").count()
        ):
            end = subscription_end(end + datetime.timedelta(days=1), 12)
        found.doubled += int(subscription.end_date != end)
    return found


def half_written() -> dict[str, int]:
    """Rows that exist only together, counted where one is missing: each must be 0. The
    customers a drill wrote in bulk for its sweeps (world.BULK_PREFIXES: no audit event, a
    delegated one without a subscription) are not the portal's writes and are left out."""
    from drills.world import BULK_PREFIXES

    portal_made = f"t.domain_prefix !~ '{BULK_PREFIXES}'"
    queries = {
        "customers without a subscription": f"""
            SELECT count(*) FROM tenants_tenant t WHERE {portal_made} AND NOT EXISTS
              (SELECT 1 FROM tenants_subscription s WHERE s.tenant_id = t.id)""",
        "customers without an admin": f"""
            SELECT count(*) FROM tenants_tenant t WHERE {portal_made} AND NOT EXISTS
              (SELECT 1 FROM tenants_tenantuser u WHERE u.tenant_id = t.id AND u.is_admin)""",
        "customers without their audit event": f"""
            SELECT count(*) FROM tenants_tenant t WHERE {portal_made} AND NOT EXISTS
              (SELECT 1 FROM portal_auditevent a
               WHERE a.action = 'tenant.created' AND a.tenant_id = t.id)""",
        "redeemed keys of an unfinished redemption": """
            SELECT count(*) FROM keys_productkey k JOIN keys_redemption r ON r.id = k.redemption_id
            WHERE k.state = 'redeemed' AND r.state <> 'completed'""",
        "redeemed keys in no subscription": """
            SELECT count(*) FROM keys_productkey k WHERE k.state = 'redeemed' AND NOT EXISTS
              (SELECT 1 FROM tenants_subscriptionkey sk WHERE sk.product_key_id = k.id)""",
        "reserved keys of a closed redemption": """
            SELECT count(*) FROM keys_productkey k JOIN keys_redemption r ON r.id = k.redemption_id
            WHERE k.state = 'reserved' AND r.state <> 'draft'""",
        "completed redemptions with a key not redeemed": """
            SELECT count(*) FROM keys_redemption r WHERE r.state = 'completed' AND EXISTS
              (SELECT 1 FROM keys_redemptionline l JOIN keys_productkey k ON k.id = l.product_key_id
               WHERE l.redemption_id = r.id AND l.released_at IS NULL AND k.state <> 'redeemed')""",
    }
    found = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql)
            found[name] = cursor.fetchone()[0]
    return found


def drafts_left() -> int:
    """Redemptions still in progress that hold keys: what a call cut off between its two
    transactions leaves (the partner finds it on the dashboard; its keys go back after
    KEY_RESERVATION_HOURS)."""
    from keys.models import Redemption

    return (
        Redemption.objects.filter(state="draft", product_keys__state="reserved").distinct().count()
    )


def statuses(outcomes) -> str:
    counts = Counter(outcome.status for outcome in outcomes)
    return ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))


def api_outcomes(report, clients, ends_before) -> None:
    """The API clients' creations and renewals against the database, and the rows that come
    together, as drills 1 and 6 report them."""
    outcomes = [o for client in clients for o in client.outcomes]
    created = creations_check([o for o in outcomes if o.what == "create"])
    renewed = renewals_check([o for o in outcomes if o.what == "renew"], ends_before)
    report.found(
        f"creations: {created.answered} answered 201, {created.refused} refused, "
        f"{created.unfinished} unfinished; renewals: {renewed.answered} answered 200, "
        f"{renewed.refused} refused, {renewed.unfinished} unfinished"
    )
    report.expect(
        created.unfinished + renewed.unfinished == 0,
        "every request got a final answer after its retries",
    )
    report.expect(
        created.done_but_refused + renewed.done_but_refused == 0,
        f"done but answered as refused: {created.done_but_refused + renewed.done_but_refused}",
    )
    held = created.keys_held + renewed.keys_held
    report.expect(held == 0, f"keys held by a draft a cut-off call left behind: {held}")
    broken = {name: n for name, n in half_written().items() if n}
    report.expect(not broken, f"half-written: {broken or 'nothing'} (customers, keys, redemptions)")
    report.lost += created.lost + renewed.lost
    report.doubled += created.doubled + renewed.doubled


def web_nodes_recovered(report, stack, web_before: set[int], how: str) -> None:
    """After the database (or what stands before it) came back: both nodes ready again, served
    by the same gunicorn processes as before (`how` they got their connection back), and every
    worker and beat still running."""
    ready = wait_until(lambda: all(readyz(port).status == 200 for port in stack.ports), 30)
    report.expect(ready, "both web nodes' /readyz answer 200 again")
    web_after = stack.group("web-1") | stack.group("web-2")
    report.expect(
        web_after == web_before,
        f"no web process was restarted ({len(web_before)} gunicorn processes, the same pids "
        f"before and after): {how}",
    )
    dead = [name for name in ("worker-1", "worker-2", "beat-1", "beat-2") if not stack.group(name)]
    report.expect(not dead, f"workers and beats still running: {dead or 'yes'}")
