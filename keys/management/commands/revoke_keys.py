import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from keys.services import keys_find, keys_parse_file, keys_revoke


class Command(BaseCommand):
    help = (
        "Revoke the product keys listed in FILE (a CSV with a `key` column, or one key a line; "
        "'-' reads standard input). Every line is checked first; a file with a bad or unknown "
        "key revokes nothing. Redeemed keys are left as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--reason", default="", help="Kept in the audit log.")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}", returncode=1) from None
        good, bad = keys_parse_file(data)
        found = keys_find([canonical for _number, canonical in good])  # one query per 5,000
        ids = {}
        for number, canonical in good:
            if canonical in found:
                ids[number] = found[canonical]
            else:
                self.stderr.write(f"line {number}: no key in the inventory matches this one.")
        for line in bad:
            self.stderr.write(str(line))
        if bad or len(ids) != len(good) or not good:
            raise CommandError("Nothing was revoked.", returncode=1)
        revoked = keys_revoke(key_ids=ids.values(), actor=None, reason=options["reason"])
        self.stdout.write(
            f"{revoked} key(s) revoked; {len(ids) - revoked} already redeemed or revoked."
        )
