from django.core.management.base import BaseCommand

from keys.services import reservations_release_stale
from portal.management.replay import add_date_argument, date_option


class Command(BaseCommand):
    help = (
        "Give back keys whose reservation ran out (what the periodic task does). --date replays "
        "the sweep as of 00:00 UTC on that day."
    )

    def add_arguments(self, parser):
        add_date_argument(parser)

    def handle(self, *args, **options):
        now = date_option(options)
        released = reservations_release_stale(now=now)
        self.stdout.write(f"{released} reservation(s) released.")
