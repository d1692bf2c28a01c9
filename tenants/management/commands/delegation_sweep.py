from django.core.management.base import BaseCommand

from portal.management.replay import add_date_argument, date_option
from tenants.delegation.sweep import delegation_sweep


class Command(BaseCommand):
    help = (
        "Expire delegated-admin offers unanswered for 90 days and relationships past their end "
        "date, auto-extend those that ask for it, and queue the 30/7/1/0-day notices (what the "
        "periodic task does). --date replays the sweep as of that day."
    )

    def add_arguments(self, parser):
        add_date_argument(parser)

    def handle(self, *args, **options):
        when = date_option(options)
        counts = delegation_sweep(today=when.date() if when else None)
        self.stdout.write(
            "{offers_expired} offer(s) expired, {extended} relationship(s) extended, "
            "{expired} relationship(s) expired, {notices} notice(s) queued.".format(**counts)
        )
