from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from keys.services import reservations_release_stale


class Command(BaseCommand):
    help = (
        "Give back keys whose reservation ran out (what the periodic task does). --date replays "
        "the sweep as of 00:00 UTC on that day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", metavar="YYYY-MM-DD")

    def handle(self, *args, **options):
        now = None
        if options["date"]:
            try:
                now = datetime.strptime(options["date"], "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                raise CommandError("--date must look like 2026-11-25.", returncode=1) from None
        released = reservations_release_stale(now=now)
        self.stdout.write(f"{released} reservation(s) released.")
