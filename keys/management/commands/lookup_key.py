import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from keys.codec import KeyFormatError, validate_key
from keys.models import ProductKey
from keys.services import key_error_message


class Command(BaseCommand):
    help = (
        "Look a product key up by typing it. The key is read from standard input (not from the "
        "command line, where shell history would keep it)."
    )

    def handle(self, *args, **options):
        raw = getpass.getpass("Product key: ") if sys.stdin.isatty() else sys.stdin.readline()
        try:
            canonical = validate_key(raw)
        except KeyFormatError as error:
            raise CommandError(key_error_message(error), returncode=1) from None
        key = (
            ProductKey.objects.select_related("batch__product", "batch__partner")
            .matching(canonical)
            .first()
        )
        if key is None:
            raise CommandError("No key in the inventory matches this one.", returncode=1)
        batch = key.batch
        self.stdout.write(
            f"{key.masked}  id {key.pk}  state {key.state}  product {batch.product.sku}  "
            f"seats {batch.seats_per_key}  batch {batch.pk}  "
            f"partner {batch.partner.partner_id if batch.partner else 'any'}"
        )
