from django.core.management.base import BaseCommand

from keys.services import key_jobs_sweep
from portal.management.replay import add_date_argument, date_option


class Command(BaseCommand):
    help = (
        "Delete generated keys nobody downloaded in time, fail key jobs whose worker died and "
        "queue again key jobs the broker lost (what the periodic task does). --date replays the "
        "sweep as of 00:00 UTC on that day."
    )

    def add_arguments(self, parser):
        add_date_argument(parser)

    def handle(self, *args, **options):
        now = date_option(options)
        swept = key_jobs_sweep(now=now)
        self.stdout.write(
            f"{swept['expired']} undownloaded key file(s) deleted, {swept['lost']} job(s) whose "
            f"worker died failed, {swept['requeued']} queued job(s) queued again."
        )
