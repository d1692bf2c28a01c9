"""`--date YYYY-MM-DD` for the commands that run a periodic job by hand: replay that day.

Every periodic job is also a management command (design §6); this is their one way to read it.
"""

from datetime import UTC, datetime

from django.core.management.base import CommandError


def add_date_argument(parser) -> None:
    parser.add_argument(
        "--date", metavar="YYYY-MM-DD", help="Run as of 00:00 UTC on that day (default: now)."
    )


def date_option(options) -> datetime | None:
    """The --date as 00:00 UTC that day, or None (now). A malformed date stops the command."""
    if not options.get("date"):
        return None
    try:
        return datetime.strptime(options["date"], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError("--date must look like 2026-11-25.", returncode=1) from None
