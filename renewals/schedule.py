"""The renewal notices of a subscription, as functions of its end date (design §5): the days
before it that NoticeOffset lists, and the timeline the pages show. The lifecycle after the end
date has its own home, tenants.lifecycle; which notice is due on a day is
portal.ledger.due_threshold."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from renewals.models import NoticeOffset
from tenants.lifecycle import deleted_on, disabled_on, expired_on
from tenants.models import Subscription


def notice_offsets() -> list[int]:
    """The notice thresholds, in days before the end date, largest first."""
    return list(NoticeOffset.objects.order_by("-days_before").values_list("days_before", flat=True))


def next_notice_on(end_date: date, today: date, offsets: Sequence[int]) -> date | None:
    """The day of the next threshold after today, or None when none is left. Always later than
    today, so a sweep that stores it never finds the same subscription due again that day."""
    days_left = (end_date - today).days
    later = [days for days in offsets if days < days_left]
    return end_date - timedelta(days=max(later)) if later else None


@dataclass(frozen=True)
class TimelineEvent:
    day: date
    kind: str  # today, notice, end, expired, disabled, deleted
    label: str
    past: bool

    @property
    def css(self) -> str:
        return f"timeline-{self.kind}"


def timeline(
    subscription: Subscription, today: date, offsets: Sequence[int]
) -> list[TimelineEvent]:
    """Today, the notice days, the end date, grace, disabled and deletion, in date order."""
    end = subscription.end_date
    events = [
        (
            end - timedelta(days=days),
            "notice",
            ngettext(
                "Renewal notice (%(days)d day before the end)",
                "Renewal notice (%(days)d days before the end)",
                days,
            )
            % {"days": days},
        )
        for days in offsets
        if end - timedelta(days=days) >= subscription.start_date
    ]
    events += [
        (end, "end", _("Last day of the subscription")),
        (expired_on(end), "expired", _("Expired: grace period, still fully usable")),
        (disabled_on(end), "disabled", _("Disabled: only admins can sign in")),
        (deleted_on(end), "deleted", _("Deleted: users and licenses removed")),
    ]
    rows = [TimelineEvent(day, kind, str(label), day < today) for day, kind, label in events]
    rows.append(TimelineEvent(today, "today", str(_("Today")), False))
    # Today goes before the events of the same day: they are still to come.
    order = {"today": 0}
    return sorted(rows, key=lambda event: (event.day, order.get(event.kind, 1)))
