from django.core.management.base import BaseCommand

from portal.management.replay import add_date_argument, date_option
from tenants.services.user_imports import user_imports_sweep


class Command(BaseCommand):
    help = (
        "Return to their preview the imports of users whose process died, queue again those the "
        "broker lost, delete unconfirmed and failed ones after a week (what the periodic task "
        "does). --date replays the sweep as of 00:00 UTC on that day."
    )

    def add_arguments(self, parser):
        add_date_argument(parser)

    def handle(self, *args, **options):
        swept = user_imports_sweep(now=date_option(options))
        self.stdout.write(
            f"{swept['lost']} import(s) whose process died back to their preview, "
            f"{swept['requeued']} queued import(s) queued again, {swept['deleted']} old "
            "unconfirmed import(s) deleted."
        )
