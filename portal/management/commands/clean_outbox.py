from django.core.management.base import BaseCommand

from portal.management.replay import add_date_argument, date_option
from portal.outbox import outbox_clean


class Command(BaseCommand):
    help = (
        "Delete the e-mails sent more than OUTBOX_KEEP_SENT_DAYS days ago (what the daily "
        "periodic task does). Queued and failed e-mails are kept."
    )

    def add_arguments(self, parser):
        add_date_argument(parser)

    def handle(self, *args, **options):
        deleted = outbox_clean(now=date_option(options))
        self.stdout.write(f"{deleted} sent e-mail(s) deleted.")
