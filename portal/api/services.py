"""Every change to API keys, and the one rule that turns a presented key into an actor."""

import copy
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.api.scopes import ADMIN_SCOPES, SCOPES
from portal.api.tokens import MalformedToken, token_check, token_digest, token_generate, token_shown
from portal.models import ApiKey, PartnerMembership, User
from portal.services import audit_log

MAX_DAYS = 366  # "up to one year", a leap year included


class ApiKeyError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(message)


def scopes_allowed(role: str) -> list[str]:
    """The scopes a key acting with `role` may hold: an agent's key holds no admin scope."""
    if role == PartnerMembership.Role.ADMIN:
        return list(SCOPES)
    return [scope for scope in SCOPES if scope not in ADMIN_SCOPES]


def api_key_create(
    *, membership: PartnerMembership, name: str, scopes: list[str], days: int, role: str
) -> tuple[ApiKey, str]:
    """A new key for the member's partner; returns it and the key itself, which is shown once
    and never stored. Only partner admins create keys, and never with more than their role."""
    if not membership.is_admin:
        raise ApiKeyError(_("Only partner admins create API keys."))
    name = name.strip()
    if not name:
        raise ApiKeyError(_("Give the key a name."), field="name")
    if role not in PartnerMembership.Role.values:
        raise ApiKeyError(_("Choose what the key acts as."), field="role")
    unknown = sorted(set(scopes) - set(scopes_allowed(role)))
    if unknown or not scopes:
        raise ApiKeyError(
            _("Choose at least one scope that a key acting as %(role)s may hold.")
            % {"role": PartnerMembership.Role(role).label},
            field="scopes",
        )
    if not 1 <= days <= MAX_DAYS:
        raise ApiKeyError(
            _("A key expires after 1 to %(days)d days.") % {"days": MAX_DAYS}, field="days"
        )
    raw = token_generate()
    start, end = token_shown(raw)
    now = timezone.now()
    with transaction.atomic():
        key = ApiKey.objects.create(
            partner=membership.partner,
            name=name[:100],
            role=role,
            scopes=[scope for scope in SCOPES if scope in scopes],
            digest=token_digest(raw),
            shown_start=start,
            shown_end=end,
            created_by=membership.user,
            created_by_label=membership.user.email,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        audit_log(
            action="api_key.created",
            actor=membership.user,
            target=key,
            partner=membership.partner,
            details={"scopes": key.scopes, "role": role, "expires_at": key.expires_at.isoformat()},
        )
    return key, raw


def api_key_revoke(*, key: ApiKey, actor: User) -> bool:
    """Revoke the key (a partner admin on the page, ops in the admin). False when it already was."""
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by_label=actor.email
        )
        if revoked:
            key.refresh_from_db()
            audit_log(action="api_key.revoked", actor=actor, target=key, partner=key.partner)
    return bool(revoked)


def partner_api_keys(partner):
    """The partner's keys for its API keys page: usable first, then revoked and expired."""
    return ApiKey.objects.filter(partner=partner).order_by("revoked_at", "-created_at", "-id")


class KeyRefused(Exception):
    """The presented key does not authenticate. `code`: malformed, unknown, revoked, expired,
    owner_gone (its creator is no longer a partner user who may act)."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(code)


@dataclass(frozen=True)
class KeyActor:
    """Who acts for a request made with a key: its creator, with the partner role the key acts
    with (never more than the creator's role today) — the membership every page rule reads."""

    key: ApiKey
    user: User
    membership: PartnerMembership

    def has_scope(self, scope: str) -> bool:
        return scope in self.key.scopes and scope in scopes_allowed(self.membership.role)


def api_key_authenticate(raw: str, *, client_address: str | None) -> KeyActor:
    """The actor behind a presented key, in one indexed query; raises KeyRefused."""
    try:
        token_check(raw)
    except MalformedToken:
        raise KeyRefused("malformed") from None
    key = (
        ApiKey.objects.select_related("partner", "created_by__partner_membership__partner")
        .filter(digest=token_digest(raw))
        .first()
    )
    if key is None:
        raise KeyRefused("unknown")
    if key.is_revoked:
        raise KeyRefused("revoked")
    if key.is_expired:
        raise KeyRefused("expired")
    membership = _membership_of(key)
    if membership is None:
        raise KeyRefused("owner_gone")
    _touch(key, client_address)
    return KeyActor(key=key, user=membership.user, membership=membership)


def _membership_of(key: ApiKey) -> PartnerMembership | None:
    """The creator's membership in the key's partner, with the key's role at most. A copy,
    never saved: the creator's own membership is unchanged."""
    user = key.created_by
    if user is None or not user.is_active:
        return None
    try:
        membership = user.partner_membership
    except ObjectDoesNotExist:
        return None
    if membership.partner_id != key.partner_id:
        return None
    acting = copy.copy(membership)
    if key.role != PartnerMembership.Role.ADMIN:
        acting.role = PartnerMembership.Role.AGENT
    # Every rule reads the person's membership through `user.partner_membership`
    # (portal.access, tenants.access): for this request it is the key's.
    user.partner_membership = acting
    return acting


def _touch(key: ApiKey, client_address: str | None) -> None:
    """Record when and from where the key was last used: at most one write a minute."""
    now = timezone.now()
    every = timedelta(seconds=settings.API_KEY_TOUCH_SECONDS)
    if (
        key.last_used_at is not None
        and now - key.last_used_at < every
        and key.last_used_from == client_address
    ):
        return
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True)
        | Q(last_used_at__lt=now - every)
        | ~Q(last_used_from=client_address)
    ).update(last_used_at=now, last_used_from=client_address)
    key.last_used_at, key.last_used_from = now, client_address
