"""Every write to the key inventory, and the rules for looking a typed key up.

Product keys are bearer secrets: they exist in plain text only in the caller's hands (a typed
form, an import file, a generated CSV). The database keeps HMAC-SHA256(KEY_PEPPER, key) and the
last five characters; nothing here logs or stores a whole key.
"""

import csv
import enum
import hashlib
import hmac
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keys.codec import KeyFormatError, generate_key, validate_key
from keys.models import KeyBatch, Product, ProductKey, Redemption, RedemptionLine
from portal.models import Partner, User
from portal.services import audit_limits_reached, audit_log
from portal.throttle import Counter, attempt_start, blocked_until

INSERT_BATCH = 5000
LOOKUP_CHUNK = 5000


def key_digest(canonical: str) -> bytes:
    """HMAC-SHA256(KEY_PEPPER, canonical key): what the database keeps instead of the key."""
    return hmac.new(
        settings.KEY_PEPPER.encode(), canonical.encode("ascii"), hashlib.sha256
    ).digest()


def key_error_message(error: KeyFormatError) -> str:
    """The codec's message for a person, in the active language."""
    return _(error.template) % error.params


# --- Looking up a typed key --------------------------------------------------------------------


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
        .filter(digest=key_digest(canonical))
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
    counters = [Counter(f"keyguess:user:{user.pk}", settings.KEY_GUESS_LIMIT_PER_USER)]
    if client_address:
        counters.append(
            Counter(f"keyguess:addr:{client_address}", settings.KEY_GUESS_LIMIT_PER_ADDRESS)
        )
    return counters


def key_guess_blocked_until(*, user: User, client_address: str | None) -> datetime | None:
    """When this user or address may look keys up again; None when they may now."""
    return blocked_until(_guess_counters(user, client_address))


def key_check(*, user: User, partner: Partner, raw: str, client_address: str | None) -> KeyLookup:
    """Look a typed key up for a partner user, under the guessing limits.

    Raises KeyGuessLimitReached while the user or the address is blocked, and KeyFormatError for a
    malformed key (typos caught by the check character do not count as guesses).

    The try is counted before the look-up and given back when it was not a guess, so parallel
    requests cannot run more look-ups than the limit. The "limit reached" audit event is written
    here, outside any caller's write transaction (see redemption_keys_add), so it survives.
    """
    canonical = validate_key(raw)
    attempt = attempt_start(
        _guess_counters(user, client_address),
        timedelta(minutes=settings.KEY_GUESS_WINDOW_MINUTES),
    )
    if attempt.blocked:
        raise KeyGuessLimitReached(attempt.until)
    lookup = key_lookup(partner=partner, raw=canonical)
    if lookup.status.counts_as_guess:
        audit_limits_reached(
            action="key.guess_limit_reached",
            counters=attempt.reached(),
            actor=user,
            client_address=client_address,
        )
    else:
        attempt.refund()
    return lookup


# --- Generating and importing batches ----------------------------------------------------------


def _keys_insert(batch: KeyBatch, rows: Sequence[tuple[bytes, str]], now: datetime) -> None:
    """Insert (digest, last five) rows as available keys of `batch`, in the caller's transaction.

    On PostgreSQL this is one COPY: a million-key import is dominated by row inserts, and COPY
    does them several times faster than batched INSERTs (bench/README.md).
    """
    if connection.vendor != "postgresql":
        ProductKey.objects.bulk_create(
            [ProductKey(batch=batch, digest=d, last5=last5, created_at=now) for d, last5 in rows],
            batch_size=INSERT_BATCH,
        )
        return
    stamp = now.isoformat()
    buffer = io.StringIO()
    buffer.writelines(
        f"{batch.pk}\t\\\\x{digest.hex()}\t{last5}\tavailable\t{stamp}\n" for digest, last5 in rows
    )
    buffer.seek(0)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.copy_expert(
            "COPY keys_productkey (batch_id, digest, last5, state, created_at) FROM STDIN", buffer
        )


@transaction.atomic
def batch_generate(
    *,
    product: Product,
    count: int,
    seats_per_key: int = 1,
    partner: Partner | None = None,
    note: str = "",
    actor: User | None,
) -> tuple[KeyBatch, list[str]]:
    """Create `count` new keys. Returns the batch and the plain keys: the only time they exist."""
    if count < 1:
        raise ValueError("count must be at least 1")
    now = timezone.now()
    keys = {generate_key() for _ in range(count)}
    while (
        len(keys) < count
    ):  # a collision in 24^24 is practically impossible, but cheap to rule out
        keys.add(generate_key())
    plain = list(keys)
    batch = KeyBatch.objects.create(
        product=product,
        seats_per_key=seats_per_key,
        partner=partner,
        source=KeyBatch.Source.GENERATED,
        note=note,
        key_count=count,
        created_by=actor,
        created_at=now,
    )
    _keys_insert(batch, [(key_digest(k), k[-5:]) for k in plain], now)
    audit_log(
        action="key_batch.generated",
        actor=actor,
        target=batch,
        partner=partner,
        details={"product": product.sku, "count": count, "seats_per_key": seats_per_key},
    )
    return batch, plain


@dataclass(frozen=True)
class BadLine:
    number: int
    reason: str

    def __str__(self) -> str:
        return _("line %(number)d: %(reason)s") % {"number": self.number, "reason": self.reason}


class KeyImportError(Exception):
    """The file imports nothing: every bad line, or one problem with the whole file."""

    def __init__(self, bad_lines: Sequence[BadLine] = (), problem: str = ""):
        self.bad_lines = list(bad_lines)
        self.problem = problem
        super().__init__(problem or _("%(count)d bad line(s).") % {"count": len(self.bad_lines)})


def _file_lines(data: bytes) -> Iterable[tuple[int, str | None]]:
    """(line number, text) for each line; text is None when the line is not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            yield number, raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            yield number, None


def _key_column(header: str) -> int | None:
    try:
        cells = next(csv.reader([header]))
    except csv.Error:
        return None
    names = [cell.strip().lower() for cell in cells]
    return names.index("key") if "key" in names else None


def keys_parse_file(data: bytes) -> tuple[list[tuple[int, str]], list[BadLine]]:
    """Read an import file: a CSV with a `key` column, or one key a line.

    BOM, blank lines and CRLF are accepted. Returns (line number, canonical key) for the good
    lines and the bad lines with their reasons, duplicates inside the file included.
    """
    good: list[tuple[int, str]] = []
    bad: list[BadLine] = []
    first_seen: dict[str, int] = {}
    column: int | None = None
    header_seen = False
    for number, text in _file_lines(data):
        if text is None:
            bad.append(BadLine(number, _("The line is not UTF-8 text.")))
            continue
        if not text.strip():
            continue
        if not header_seen:
            header_seen = True
            column = _key_column(text)
            if column is not None:
                continue  # the CSV header line
        raw = text
        if column is not None:
            try:
                cells = next(csv.reader([text]))
            except csv.Error:
                bad.append(BadLine(number, _("The line is not valid CSV.")))
                continue
            if column >= len(cells):
                bad.append(BadLine(number, _("The line has no value in the key column.")))
                continue
            raw = cells[column]
        try:
            canonical = validate_key(raw)
        except KeyFormatError as error:
            bad.append(BadLine(number, key_error_message(error)))
            continue
        if canonical in first_seen:
            bad.append(
                BadLine(
                    number,
                    _("This key appears earlier in the file, on line %(line)d.")
                    % {"line": first_seen[canonical]},
                )
            )
            continue
        first_seen[canonical] = number
        good.append((number, canonical))
    return good, bad


def _known_digests(digests: Sequence[bytes]) -> set[bytes]:
    known: set[bytes] = set()
    for start in range(0, len(digests), LOOKUP_CHUNK):
        chunk = digests[start : start + LOOKUP_CHUNK]
        known.update(
            bytes(d)
            for d in ProductKey.objects.filter(digest__in=chunk).values_list("digest", flat=True)
        )
    return known


def batch_import(
    *,
    data: bytes,
    product: Product,
    seats_per_key: int = 1,
    partner: Partner | None = None,
    note: str = "",
    actor: User | None,
) -> KeyBatch:
    """Import a file of keys, all or nothing. Raises KeyImportError listing every bad line."""
    good, bad = keys_parse_file(data)
    digests = [key_digest(canonical) for _number, canonical in good]
    known = _known_digests(digests)
    bad.extend(
        BadLine(number, _("This key is already in the inventory."))
        for (number, _canonical), digest in zip(good, digests, strict=True)
        if digest in known
    )
    if bad:
        raise KeyImportError(sorted(bad, key=lambda line: line.number))
    if not good:
        raise KeyImportError(problem=_("The file holds no product keys."))
    now = timezone.now()
    try:
        with transaction.atomic():
            batch = KeyBatch.objects.create(
                product=product,
                seats_per_key=seats_per_key,
                partner=partner,
                source=KeyBatch.Source.IMPORTED,
                note=note,
                key_count=len(good),
                created_by=actor,
                created_at=now,
            )
            _keys_insert(
                batch,
                [
                    (digest, canonical[-5:])
                    for (_number, canonical), digest in zip(good, digests, strict=True)
                ],
                now,
            )
            audit_log(
                action="key_batch.imported",
                actor=actor,
                target=batch,
                partner=partner,
                details={
                    "product": product.sku,
                    "count": len(good),
                    "seats_per_key": seats_per_key,
                },
            )
    except IntegrityError:
        # Another import added one of these keys between our check and our insert.
        raise KeyImportError(
            problem=_(
                "Some of these keys were imported by someone else at the same time. "
                "Nothing was imported; run the import again to see which."
            )
        ) from None
    return batch


# --- Revoking ----------------------------------------------------------------------------------


@transaction.atomic
def keys_revoke(*, key_ids: Iterable[int], actor: User | None, reason: str = "") -> int:
    """Revoke available or reserved keys. Redeemed keys stay as they are. Returns how many."""
    now = timezone.now()
    revocable = list(
        ProductKey.objects.select_for_update()
        .select_related("batch")
        .filter(
            pk__in=list(key_ids), state__in=[ProductKey.State.AVAILABLE, ProductKey.State.RESERVED]
        )
        .order_by("pk")  # every service locks keys in the same order: no deadlock
    )
    for key in revocable:
        previous = key.state
        key.state = ProductKey.State.REVOKED
        key.revoked_at = now
        key.revoked_by = actor
        key.reserved_until = None
        key.save(update_fields=["state", "revoked_at", "revoked_by", "reserved_until"])
        if key.redemption_id is not None:
            # The key leaves the redemption that held it; its line says so when resumed.
            RedemptionLine.objects.filter(
                redemption_id=key.redemption_id, product_key=key, released_at__isnull=True
            ).update(released_at=now)
        audit_log(
            action="key.revoked",
            actor=actor,
            target=key,
            partner=key.batch.partner,
            details={"previous_state": previous, "batch": key.batch_id, "reason": reason},
        )
    return len(revocable)


# --- Redemptions (step 1 of the seed's flow) --------------------------------------------------


class RedemptionClosed(Exception):
    """The redemption is no longer a draft (completed or cancelled)."""


def _already_entered() -> str:
    return _("You have already entered this product key.")


def _locked_draft(redemption: Redemption) -> Redemption:
    """Lock the redemption row: every change to one redemption happens one at a time."""
    locked = Redemption.objects.select_for_update().get(pk=redemption.pk)
    if not locked.is_draft:
        raise RedemptionClosed
    return locked


@transaction.atomic
def redemption_start(*, user: User, partner: Partner) -> Redemption:
    """The user ticked "I understand…" and clicked Start."""
    redemption = Redemption.objects.create(partner=partner, created_by=user)
    audit_log(action="redemption.started", actor=user, target=redemption, partner=partner)
    return redemption


class _ReservationLost(Exception):
    def __init__(self, errors: dict[int, str]):
        self.errors = errors


def redemption_keys_add(
    *,
    redemption: Redemption,
    user: User,
    raw_keys: Sequence[str],
    client_address: str | None,
    submission=None,
) -> dict[int, str]:
    """Reserve the typed keys for the redemption, all or none.

    Returns {index in raw_keys: message} for the lines that cannot be added; when there is any,
    nothing is reserved. Raises KeyGuessLimitReached while the user or address is blocked.
    `submission` identifies the form: the same form posted twice is answered once.
    """
    with transaction.atomic():
        redemption = _locked_draft(redemption)
        if submission is not None and redemption.last_submission == submission:
            return {}  # a double submit: the first one did the work
        errors: dict[int, str] = {}
        usable: list[tuple[int, ProductKey]] = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_keys):
            try:
                canonical = validate_key(raw)
            except KeyFormatError as error:
                errors[index] = key_error_message(error)
                continue
            if canonical in seen:
                errors[index] = _already_entered()
                continue
            seen.add(canonical)
            lookup = key_check(
                user=user, partner=redemption.partner, raw=canonical, client_address=client_address
            )
            key = lookup.key
            held = key is not None and key.state == ProductKey.State.RESERVED
            if held and key.redemption_id == redemption.pk:
                errors[index] = _already_entered()
            elif held and key.redemption.created_by_id == user.pk:
                errors[index] = _(
                    "This product key is in another of your redemptions in progress. Resume that "
                    "one from the partner overview, or remove the key there first."
                )
            elif lookup.status is not LookupStatus.USABLE:
                errors[index] = lookup.message
            else:
                usable.append((index, key))
        if errors:
            return errors
        try:
            with transaction.atomic():
                _reserve(redemption, user, usable)
        except _ReservationLost as lost:
            return lost.errors
        redemption.last_submission = submission
        redemption.updated_at = timezone.now()
        redemption.keys_confirmed_at = None  # new keys: "Does everything look right?" again
        redemption.save(update_fields=["last_submission", "updated_at", "keys_confirmed_at"])
        return {}


def _claim(key_id: int, redemption: Redemption, user: User, now: datetime) -> datetime | None:
    """Reserve an available key for the redemption; the deadline, or None when it is not free.

    A conditional UPDATE: of any number of racing redemptions exactly one changes the row; the
    others see 0 rows.
    """
    until = now + timedelta(hours=settings.KEY_RESERVATION_HOURS)
    claimed = ProductKey.objects.filter(pk=key_id, state=ProductKey.State.AVAILABLE).update(
        state=ProductKey.State.RESERVED,
        redemption=redemption,
        reserved_by=user,
        reserved_at=now,
        reserved_until=until,
    )
    return until if claimed else None


def _reserve(redemption: Redemption, user: User, usable: list[tuple[int, ProductKey]]) -> None:
    now = timezone.now()
    lost = {}
    # Claimed in primary-key order, like every other service that locks keys: two lists pasted
    # in different orders cannot deadlock.
    for index, key in sorted(usable, key=lambda pair: pair[1].pk):
        until = _claim(key.pk, redemption, user, now)
        if until is None:
            lost[index] = _("This product key has already been used.")
            continue
        line, created = RedemptionLine.objects.get_or_create(
            redemption=redemption, product_key=key, defaults={"added_at": now}
        )
        if not created:  # typed again after its reservation ran out
            line.released_at = None
            line.save(update_fields=["released_at"])
        audit_log(
            action="key.reserved",
            actor=user,
            target=key,
            partner=redemption.partner,
            details={"redemption": redemption.pk, "reserved_until": until.isoformat()},
        )
    if lost:
        raise _ReservationLost(lost)


def redemption_lines(redemption: Redemption):
    """The keys the redemption holds, with product and seats, in the order they were entered."""
    return (
        RedemptionLine.objects.filter(redemption=redemption, released_at__isnull=True)
        .select_related("product_key__batch__product")
        .order_by("added_at", "id")
    )


@transaction.atomic
def redemption_refresh(*, redemption: Redemption, user: User) -> list[str]:
    """On resuming: take back keys whose reservation ran out, when still free. Returns notices."""
    redemption = _locked_draft(redemption)
    released = list(
        RedemptionLine.objects.filter(
            redemption=redemption, released_at__isnull=False
        ).select_related("product_key")
    )
    if not released:
        return []
    now = timezone.now()
    again, gone = [], []
    for line in released:
        if _claim(line.product_key_id, redemption, user, now):
            line.released_at = None
            line.save(update_fields=["released_at"])
            again.append(line.product_key.masked)
            audit_log(
                action="key.reserved",
                actor=user,
                target=line.product_key,
                partner=redemption.partner,
                details={"redemption": redemption.pk, "again": True},
            )
        else:
            gone.append(line.product_key.masked)
            line.delete()
    # The keys changed since they were reviewed: the partner reviews them again.
    redemption.keys_confirmed_at = None
    redemption.save(update_fields=["keys_confirmed_at"])
    hours = settings.KEY_RESERVATION_HOURS
    notices = []
    if again:
        notices.append(
            _(
                "The reservation of %(keys)s ran out after %(hours)d hours. The keys were still "
                "free and are reserved for you again."
            )
            % {"keys": ", ".join(again), "hours": hours}
        )
    if gone:
        notices.append(
            _(
                "The reservation of %(keys)s ran out after %(hours)d hours and the keys have "
                "been used or revoked since. They were removed from this redemption."
            )
            % {"keys": ", ".join(gone), "hours": hours}
        )
    return notices


@transaction.atomic
def redemption_key_remove(*, redemption: Redemption, user: User, line_id: int) -> bool:
    redemption = _locked_draft(redemption)
    line = (
        RedemptionLine.objects.select_related("product_key")
        .filter(redemption=redemption, pk=line_id)
        .first()
    )
    if line is None:
        return False
    _release(line.product_key, redemption)
    line.delete()
    redemption.updated_at = timezone.now()
    redemption.keys_confirmed_at = None
    redemption.save(update_fields=["updated_at", "keys_confirmed_at"])
    audit_log(
        action="key.released",
        actor=user,
        target=line.product_key,
        partner=redemption.partner,
        details={"redemption": redemption.pk, "why": "removed"},
    )
    return True


def _release(key: ProductKey, redemption: Redemption) -> int:
    return ProductKey.objects.filter(
        pk=key.pk, redemption=redemption, state=ProductKey.State.RESERVED
    ).update(
        state=ProductKey.State.AVAILABLE,
        redemption=None,
        reserved_by=None,
        reserved_at=None,
        reserved_until=None,
    )


@transaction.atomic
def redemption_keys_confirm(*, redemption: Redemption, user: User) -> Redemption:
    """ "Done adding product keys". Raises ValueError when the redemption holds no key."""
    redemption = _locked_draft(redemption)
    if not RedemptionLine.objects.filter(redemption=redemption, released_at__isnull=True).exists():
        raise ValueError(_("Enter at least one product key."))
    now = timezone.now()
    redemption.keys_confirmed_at = now
    redemption.updated_at = now
    redemption.save(update_fields=["keys_confirmed_at", "updated_at"])
    audit_log(
        action="redemption.keys_confirmed",
        actor=user,
        target=redemption,
        partner=redemption.partner,
    )
    return redemption


@transaction.atomic
def redemption_cancel(*, redemption: Redemption, user: User) -> None:
    redemption = _locked_draft(redemption)
    for line in redemption_lines(redemption):
        _release(line.product_key, redemption)
    redemption.state = Redemption.State.CANCELLED
    redemption.updated_at = timezone.now()
    redemption.save(update_fields=["state", "updated_at"])
    audit_log(
        action="redemption.cancelled", actor=user, target=redemption, partner=redemption.partner
    )


def reservations_release_stale(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Give back keys whose reservation ran out. Safe to run from several workers at once."""
    now = now or timezone.now()
    released = 0
    while True:
        with transaction.atomic():
            # skip_locked: a key being finished right now, or claimed by another sweep, is left
            # to that transaction.
            stale = list(
                ProductKey.objects.stale_reservations(now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("redemption")[:limit]
            )
            for key in stale:
                redemption = key.redemption
                _release(key, redemption)
                RedemptionLine.objects.filter(redemption=redemption, product_key=key).update(
                    released_at=now
                )
                audit_log(
                    action="key.reservation_released",
                    target=key,
                    partner=redemption.partner,
                    details={
                        "redemption": redemption.pk,
                        "reserved_until": key.reserved_until.isoformat(),
                    },
                )
        released += len(stale)
        if len(stale) < limit:
            return released
