import csv
import os

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from keys.codec import format_key
from keys.management.commands._options import add_batch_arguments, resolve_batch_arguments
from keys.services import batch_generate


class Command(BaseCommand):
    help = (
        "Generate a batch of new product keys. The plain keys are written once, to --output; "
        "the database keeps only their digests."
    )

    def add_arguments(self, parser):
        add_batch_arguments(parser)
        parser.add_argument("--count", type=int, required=True, metavar="N")
        parser.add_argument("--output", required=True, metavar="FILE.csv")
        parser.add_argument("--note", default="", help="A note kept with the batch.")

    def handle(self, *args, **options):
        product, seats, partner = resolve_batch_arguments(options)
        count = options["count"]
        if not 1 <= count <= 1_000_000:
            raise CommandError("--count must be between 1 and 1000000.", returncode=1)
        path = options["output"]
        try:
            # Created exclusively and readable by the owner only: never overwrite earlier keys.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as error:
            raise CommandError(f"Cannot create {path}: {error.strerror}", returncode=1) from None
        try:
            with transaction.atomic(), os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
                batch, keys = batch_generate(
                    product=product,
                    count=count,
                    seats_per_key=seats,
                    partner=partner,
                    note=options["note"],
                    actor=None,
                )
                writer = csv.writer(out)
                writer.writerow(["key"])
                writer.writerows([format_key(key)] for key in keys)
        except BaseException:
            # No file of keys that the database does not know.
            os.unlink(path)
            raise
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {count} keys for {product.sku} (batch {batch.pk}) into {path}."
            )
        )
