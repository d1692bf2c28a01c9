from django.core.management.base import BaseCommand

from keys.codec import format_key
from keys.models import ProductKey
from keys.services import key_digest
from tenants.management.commands.seed_demo import DEMO_KEYS_FILE, read_demo_keys


class Command(BaseCommand):
    help = "List the demo product keys kept in var/demo_keys.txt, with their state."

    def add_arguments(self, parser):
        parser.add_argument("--available", action="store_true", help="Only keys still available.")

    def handle(self, *args, **options):
        demo = read_demo_keys()
        if not demo:
            self.stdout.write(f"No demo keys in {DEMO_KEYS_FILE}; run seed_demo.")
            return
        states = {
            bytes(digest): state
            for digest, state in ProductKey.objects.filter(
                digest__in=[key_digest(key) for _sku, key in demo]
            ).values_list("digest", "state")
        }
        for sku, key in demo:
            state = states.get(key_digest(key), "unknown")
            if options["available"] and state != ProductKey.State.AVAILABLE:
                continue
            self.stdout.write(f"{sku:<10} {format_key(key)}  {state}")
