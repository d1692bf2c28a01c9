"""Arguments shared by generate_keys and import_keys."""

from django.core.management.base import CommandError

from keys.models import Product
from portal.models import Partner


def add_batch_arguments(parser) -> None:
    parser.add_argument(
        "--product", required=True, metavar="SKU", help="Product SKU, e.g. BUS-STD."
    )
    parser.add_argument(
        "--seats", type=int, default=1, metavar="S", help="Seats per key (default 1)."
    )
    parser.add_argument(
        "--partner",
        metavar="PARTNER_ID",
        help="7-digit ID of the partner who alone may redeem these keys (default: any partner).",
    )


def resolve_batch_arguments(options) -> tuple[Product, int, Partner | None]:
    """The product, seats and partner named on the command line; every problem at once."""
    problems = []
    product = Product.objects.filter(sku=options["product"]).first()
    if product is None:
        problems.append(f"Unknown product SKU: {options['product']}")
    seats = options["seats"]
    if not 1 <= seats <= 10000:
        problems.append("--seats must be between 1 and 10000.")
    partner = None
    if options.get("partner"):
        partner = Partner.objects.filter(partner_id=options["partner"]).first()
        if partner is None:
            problems.append(f"Unknown partner ID: {options['partner']}")
    if problems:
        raise CommandError("\n".join(problems), returncode=1)
    return product, seats, partner
