"""The renewal-notice sweep's lag, for /metrics (portal.metrics)."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import Metric

from portal.metrics import gauge, metric_source
from tenants.models import Subscription


@metric_source
def renewal_notice_metrics(now: datetime) -> Iterable[Metric]:
    today = timezone.localdate(now)
    # What renewal_notices_send takes (`renewal_notice_on <= today`, through the partial index
    # subscription_notice_due): anything left here is work the sweep has not done yet.
    row = Subscription.objects.filter(renewal_notice_on__lte=today).aggregate(
        due=Count("pk"), oldest=Min("renewal_notice_on")
    )
    yield gauge(
        "portal_renewal_notices_due_subscriptions",
        "Subscriptions the renewal-notice sweep has yet to look at (notice due or end date "
        "changed).",
        row["due"],
    )
    yield gauge(
        "portal_renewal_notices_overdue_days",
        "Days since the oldest of them became due: 0 while the sweep keeps up (it runs every 6 "
        "hours), 1 or more when it missed a day.",
        (today - row["oldest"]).days if row["oldest"] else 0,
    )
