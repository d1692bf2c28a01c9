import time

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from mfa.demo import DEMO_MFA_FILE, demo_codes
from mfa.models import STEP_SECONDS


class Command(BaseCommand):
    help = (
        "Print the current authenticator-app code of each demo account (var/demo_mfa.txt). "
        "DEBUG only."
    )

    def handle(self, *args, **options):
        try:
            codes = demo_codes()
        except ImproperlyConfigured as error:
            raise CommandError(str(error), returncode=1) from None
        if not codes:
            self.stdout.write(
                f"No demo second factors ({DEMO_MFA_FILE} is missing): run seed_demo."
            )
            return
        left = STEP_SECONDS - int(time.time()) % STEP_SECONDS
        width = max(len(email) for email, _code in codes)
        for email, code in codes:
            self.stdout.write(f"{email:<{width}}  {code}")
        self.stdout.write(f"(new codes in {left} s; run `manage.py demo_codes` again)")
