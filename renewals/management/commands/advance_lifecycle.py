from django.core.management.base import BaseCommand

from portal.management.replay import add_date_argument, date_option
from renewals.services import lifecycle_advance


class Command(BaseCommand):
    help = (
        "Move subscriptions past their end date to expired, disabled or deleted, as their dates "
        "say (what the periodic task does). --date replays the sweep as of that day."
    )

    def add_arguments(self, parser):
        add_date_argument(parser)

    def handle(self, *args, **options):
        when = date_option(options)
        moved = lifecycle_advance(today=when.date() if when else None)
        self.stdout.write(f"{moved} subscription(s) moved on.")
