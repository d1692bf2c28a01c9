"""Looking a typed key up, under the guessing limits.

Product keys are bearer secrets: they exist in plain text only in the caller's hands. The
database keeps HMAC-SHA256(KEY_PEPPER, key) and the last five characters; nothing here logs or
stores a whole key.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from keys.codec import KeyFormatError, validate_key
from keys.models import ProductKey
from portal.middleware import current_api_key
from portal.models import Partner, User
from portal.services import attempt_settle
from portal.throttle import Counter, attempt_start


def character_hint() -> str:
    """What to look for when a character is never used: which ones, and the usual mix-ups."""
    return _(
        "Product keys never use the letters A, E, I, L, N, O, S, U, Z or the digits 0, 1, 5. "
        "What looks like one is usually another: O or 0 is often a Q or a D; I, L or 1 a T "
        "or a 7; S or 5 a 6 or an 8; Z a 2; U a V."
    )


def key_error_message(error: KeyFormatError, *, hint: bool = False) -> str:
    """The codec's message in the active language; with `hint`, for someone typing from a card,
    what to look for instead of a character that is never used."""
    message = _(error.template) % error.params
    if hint and error.code == "character":
        message = f"{message} {character_hint()}"
    return message


class LookupStatus(enum.Enum):
    USABLE = "usable"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    ALREADY_USED = "already_used"
    RESERVED_ELSEWHERE = "reserved_elsewhere"
    OTHER_PARTNER = "other_partner"

    @property
    def looks_unknown(self) -> bool:
        # Never tell a user that a key exists when it is not theirs to redeem.
        return self in {self.UNKNOWN, self.RESERVED_ELSEWHERE, self.OTHER_PARTNER}

    @property
    def counts_as_guess(self) -> bool:
        """A failed look-up of a well-formed key: counted against the user and the address."""
        return self.looks_unknown or self is self.REVOKED


@dataclass(frozen=True)
class KeyLookup:
    status: LookupStatus
    canonical: str
    key: ProductKey | None = None

    @property
    def message(self) -> str:
        if self.status is LookupStatus.USABLE:
            return ""
        if self.status is LookupStatus.REVOKED:
            return _(
                "This product key has been revoked. Contact the distributor who sold it to you."
            )
        if self.status is LookupStatus.ALREADY_USED:
            return _("This product key has already been used.")
        return _("We could not find this product key. Please check it against the card.")


def key_lookup(*, partner: Partner, raw: str) -> KeyLookup:
    """What a typed key is to this partner. Raises KeyFormatError for a malformed key.

    A key reserved by another user of the same partner (a colleague's unfinished redemption) is
    "already used"; one reserved by another partner, or in a batch that another partner owns,
    looks unknown.
    """
    canonical = validate_key(raw)
    key = (
        ProductKey.objects.select_related("batch", "batch__product", "redemption")
        .matching(canonical)
        .first()
    )
    return KeyLookup(status=_status_for(key, partner), canonical=canonical, key=key)


def _status_for(key: ProductKey | None, partner: Partner) -> LookupStatus:
    if key is None:
        return LookupStatus.UNKNOWN
    if key.batch.partner_id is not None and key.batch.partner_id != partner.pk:
        return LookupStatus.OTHER_PARTNER
    if key.state == ProductKey.State.REVOKED:
        return LookupStatus.REVOKED
    if key.state == ProductKey.State.REDEEMED:
        return LookupStatus.ALREADY_USED
    if key.state == ProductKey.State.RESERVED:
        # Held by a redemption: a colleague's is "already used", another partner's looks unknown.
        if key.redemption is not None and key.redemption.partner_id == partner.pk:
            return LookupStatus.ALREADY_USED
        return LookupStatus.RESERVED_ELSEWHERE
    return LookupStatus.USABLE


# --- Guessing limits ---------------------------------------------------------------------------


class KeyGuessLimitReached(Exception):
    def __init__(self, until: datetime):
        self.until = until
        super().__init__(f"Too many failed product key look-ups until {until.isoformat()}.")


def _guess_counters(user: User, client_address: str | None) -> list[Counter]:
    """Per person and per address on the pages; through the API per key and per address (the
    issue's rule: a script's failed look-ups do not lock its creator out of the pages)."""
    api_key = current_api_key.get()
    if api_key is not None:
        counters = [Counter(f"keyguess:apikey:{api_key.pk}", settings.KEY_GUESS_LIMIT_PER_USER)]
    else:
        counters = [Counter(f"keyguess:user:{user.pk}", settings.KEY_GUESS_LIMIT_PER_USER)]
    if client_address:
        counters.append(
            Counter(f"keyguess:addr:{client_address}", settings.KEY_GUESS_LIMIT_PER_ADDRESS)
        )
    return counters


def key_check(*, user: User, partner: Partner, raw: str, client_address: str | None) -> KeyLookup:
    """Look a typed key up for a partner user, under the guessing limits.

    Raises KeyGuessLimitReached while the user or the address is blocked, and KeyFormatError for a
    malformed key (typos caught by the check character do not count as guesses).

    The try is counted before the look-up and given back when it was not a guess, so parallel
    requests cannot run more look-ups than the limit. The "limit reached" audit event is written
    here, outside any caller's write transaction (see redemption_keys_add), so it survives.
    """
    canonical = validate_key(raw)
    return _counted_look_up(
        user,
        client_address,
        look_up=lambda: key_lookup(partner=partner, raw=canonical),
        failed=lambda lookup: lookup.status.counts_as_guess,
    )


def _counted_look_up(user: User, client_address: str | None, *, look_up, failed):
    """Run a look-up under the user's and the address's guessing limits.

    The try is counted before the look-up (parallel requests cannot run more look-ups than the
    limit) and given back when `failed(result)` is false. Raises KeyGuessLimitReached past the
    limits; writes the "limit reached" audit event when this failure reaches one.
    """
    attempt = attempt_start(
        _guess_counters(user, client_address),
        timedelta(minutes=settings.KEY_GUESS_WINDOW_MINUTES),
    )
    if attempt.blocked:
        raise KeyGuessLimitReached(attempt.until)
    result = look_up()
    attempt_settle(
        attempt,
        failed=failed(result),
        action="key.guess_limit_reached",
        actor=user,
        client_address=client_address,
    )
    return result


def key_find_for_staff(*, user: User, raw: str, client_address: str | None) -> ProductKey | None:
    """Ops typing a whole key in the admin: the key, or None when the inventory has no such key.

    A miss counts against the same guessing limits as a partner's look-ups: a stolen staff
    session must not become a way to test keys. Raises KeyGuessLimitReached past the limits.
    """
    canonical = validate_key(raw)
    return _counted_look_up(
        user,
        client_address,
        look_up=lambda: ProductKey.objects.matching(canonical).first(),
        failed=lambda key: key is None,
    )
