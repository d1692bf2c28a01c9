"""API keys for automation: `manage.py api_key create --partner 1000001 --name "Billing sync"
--scopes customers:read,keys:check [--days 90] [--by admin@partner.example] [--role agent]`
prints a new key (once); `list` and `revoke` for ops at a terminal."""

from django.core.management.base import BaseCommand, CommandError

from portal.api.scopes import SCOPES
from portal.api.services import ApiKeyError, api_key_create, api_key_revoke
from portal.identity import email_normalize
from portal.models import ApiKey, Partner, PartnerMembership, User


class Command(BaseCommand):
    help = "Create, list or revoke a partner's API keys."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        create = commands.add_parser("create", help="Create a key and print it (shown once).")
        create.add_argument("--partner", required=True, help="The partner ID (7 digits).")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--scopes", required=True, help=f"Comma-separated, from: {', '.join(SCOPES)}."
        )
        create.add_argument("--days", type=int, default=90, help="Expiry, 1 to 366 days.")
        create.add_argument(
            "--by", help="The partner admin who owns the key (default: the first admin)."
        )
        create.add_argument(
            "--role", choices=["admin", "agent"], help="What the key acts as (default: admin)."
        )
        listing = commands.add_parser("list", help="A partner's keys (never the keys).")
        listing.add_argument("--partner", required=True)
        revoke = commands.add_parser("revoke", help="Revoke a key by its ID.")
        revoke.add_argument("id", type=int)
        revoke.add_argument("--by", required=True, help="The e-mail of the staff member.")

    def handle(self, *args, command, **options):
        getattr(self, f"_{command}")(**options)

    def _partner(self, partner_id: str) -> Partner:
        partner = Partner.objects.filter(partner_id=partner_id).first()
        if partner is None:
            raise CommandError(f"No partner has the ID {partner_id}.")
        return partner

    def _create(self, *, partner, name, scopes, days, by, role, **_options):
        partner = self._partner(partner)
        admins = PartnerMembership.objects.filter(
            partner=partner, role=PartnerMembership.Role.ADMIN, user__is_active=True
        ).select_related("user", "partner")
        membership = (
            admins.filter(user__email=email_normalize(by))
            if by
            else admins.order_by("created_at", "pk")
        ).first()
        if membership is None:
            raise CommandError(
                f"{by} is not an active admin of {partner}." if by else f"{partner} has no admin."
            )
        try:
            key, raw = api_key_create(
                membership=membership,
                name=name,
                scopes=[scope.strip() for scope in scopes.split(",") if scope.strip()],
                days=days,
                role=role or PartnerMembership.Role.ADMIN,
            )
        except ApiKeyError as error:
            raise CommandError(str(error)) from None
        self.stderr.write(
            f"API key {key.pk} “{key.name}” for {partner}, owned by {membership.user.email}, "
            f"expires {key.expires_at:%Y-%m-%d}. It is shown once:"
        )
        self.stdout.write(raw)

    def _list(self, *, partner, **_options):
        for key in ApiKey.objects.filter(partner=self._partner(partner)):
            state = "revoked" if key.is_revoked else "expired" if key.is_expired else "usable"
            self.stdout.write(
                f"{key.pk}\t{key.shown}\t{key.name}\t{key.role}\t{state}\t"
                f"{key.expires_at:%Y-%m-%d}\t{','.join(key.scopes)}"
            )

    def _revoke(self, *, id, by, **_options):
        key = ApiKey.objects.filter(pk=id).first()
        actor = User.objects.filter(email=email_normalize(by), is_staff=True).first()
        if key is None or actor is None:
            raise CommandError("No such key, or no such staff member.")
        revoked = api_key_revoke(key=key, actor=actor)
        self.stdout.write("revoked" if revoked else "already revoked")
