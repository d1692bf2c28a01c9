from django.core.management.base import BaseCommand

from portal.outbox import outbox_deliver


class Command(BaseCommand):
    help = (
        "Send the queued e-mails that are due (what the periodic task does every minute). Safe "
        "to run while workers run: each e-mail is claimed by one sender."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100, help="at most this many e-mails")

    def handle(self, *args, **options):
        sent = outbox_deliver(limit=options["limit"])
        self.stdout.write(f"{sent} e-mail(s) sent.")
