from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from keys.services import key_jobs_sweep


class Command(BaseCommand):
    help = (
        "Delete generated keys nobody downloaded in time, fail key jobs whose worker died and "
        "queue again key jobs the broker lost (what the periodic task does). --date replays the "
        "sweep as of 00:00 UTC on that day."
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
        swept = key_jobs_sweep(now=now)
        self.stdout.write(
            f"{swept['expired']} undownloaded key file(s) deleted, {swept['lost']} job(s) whose "
            f"worker died failed, {swept['requeued']} queued job(s) queued again."
        )
