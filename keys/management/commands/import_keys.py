from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from keys.management.commands._options import add_batch_arguments, resolve_batch_arguments
from keys.services import KeyImportError, batch_import


class Command(BaseCommand):
    help = (
        "Import product keys from FILE: a CSV with a `key` column, or one key a line. A file with "
        "any bad line imports nothing; every bad line is listed with its number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        add_batch_arguments(parser)
        parser.add_argument("--note", default="", help="A note kept with the batch.")

    def handle(self, *args, **options):
        product, seats, partner = resolve_batch_arguments(options)
        try:
            data = Path(options["file"]).read_bytes()
        except OSError as error:
            raise CommandError(
                f"Cannot read {options['file']}: {error.strerror}", returncode=1
            ) from None
        try:
            batch = batch_import(
                data=data,
                product=product,
                seats_per_key=seats,
                partner=partner,
                note=options["note"] or f"imported from {Path(options['file']).name}",
                actor=None,
            )
        except KeyImportError as error:
            for line in error.bad_lines:
                self.stderr.write(str(line))
            summary = f"{len(error.bad_lines)} bad line(s) in {options['file']}"
            raise CommandError(
                error.problem or f"{summary}: nothing was imported.", returncode=1
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {batch.key_count} keys for {product.sku} (batch {batch.pk})."
            )
        )
