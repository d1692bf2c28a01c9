from django.core.management.base import BaseCommand

from portal.management.replay import add_date_argument, date_option
from renewals.services import renewal_notices_send


class Command(BaseCommand):
    help = (
        "Send the renewal notices that are due (what the periodic task does). --date replays "
        "the sweep as of that day."
    )

    def add_arguments(self, parser):
        add_date_argument(parser)

    def handle(self, *args, **options):
        when = date_option(options)
        sent = renewal_notices_send(today=when.date() if when else None)
        self.stdout.write(f"{sent} renewal notice(s) queued.")
