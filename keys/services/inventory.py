"""The key inventory: generating and importing batches, revoking keys. Every write to it."""

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keys.codec import KeyFormatError, generate_key, validate_key
from keys.models import KeyBatch, Product, ProductKey, RedemptionLine, key_digest
from keys.services.lookup import key_error_message
from portal.models import Partner, User
from portal.services import audit_log

INSERT_BATCH = 5000
LOOKUP_CHUNK = 5000
# Keys inserted between two progress reports of a background job (keys/services/jobs.py).
PROGRESS_CHUNK = 50_000


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


Progress = Callable[[int], None]
"""Told how many keys are in so far, between chunks of a long insert (background jobs)."""


def _keys_insert_in_chunks(
    batch: KeyBatch, rows: Sequence[tuple[bytes, str]], now: datetime, progress: Progress | None
) -> None:
    for start in range(0, len(rows), PROGRESS_CHUNK):
        _keys_insert(batch, rows[start : start + PROGRESS_CHUNK], now)
        if progress is not None and start + PROGRESS_CHUNK < len(rows):
            progress(start + PROGRESS_CHUNK)


@transaction.atomic
def batch_generate(
    *,
    product: Product,
    count: int,
    seats_per_key: int = 1,
    partner: Partner | None = None,
    note: str = "",
    actor: User | None,
    progress: Progress | None = None,
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
    _keys_insert_in_chunks(batch, [(key_digest(k), k[-5:]) for k in plain], now, progress)
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

    def __init__(self, bad_lines: Sequence[BadLine] = (), problem: str = "", code: str = ""):
        self.bad_lines = list(bad_lines)
        self.problem = problem
        self.code = code
        super().__init__(problem or _("%(count)d bad line(s).") % {"count": len(self.bad_lines)})


# What spreadsheets and documents start with: zip (xlsx, ods, docx), OLE2 (xls, doc), PDF, gzip.
_BINARY_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"%PDF", b"\x1f\x8b")


def _not_text_problem(data: bytes) -> str:
    """The one message for a file that is not text, instead of one error per "line" of it.

    A spreadsheet saved as .xlsx, a PDF or random bytes would otherwise be reported line by line
    (thousands of "not UTF-8" lines, with their line numbers, saying nothing useful)."""
    message = _(
        "This is not a text or CSV file. Save the spreadsheet as CSV (UTF-8), or the list as "
        "plain text with one key a line, and import that file."
    )
    if data.startswith(_BINARY_SIGNATURES) or b"\x00" in data:
        return message
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # A text file with a few lines in another encoding gets those lines reported; a file
        # where most lines are not UTF-8 is not a list of keys.
        lines = [line for line in data.split(b"\n") if line.strip()]
        not_utf8 = sum(1 for line in lines if not _is_utf8(line))
        if not_utf8 * 2 > len(lines):
            return message
    return ""


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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


def _ids_by_digest(digests: Sequence[bytes]) -> dict[bytes, int]:
    """{digest: key id} for the digests already in the inventory, in chunks of one query each."""
    found: dict[bytes, int] = {}
    for start in range(0, len(digests), LOOKUP_CHUNK):
        chunk = digests[start : start + LOOKUP_CHUNK]
        found.update(
            (bytes(digest), pk)
            for digest, pk in ProductKey.objects.filter(digest__in=chunk).values_list(
                "digest", "pk"
            )
        )
    return found


def _known_positions(digests: Sequence[bytes]) -> list[int]:
    """The positions in `digests` of the keys already in the inventory.

    On PostgreSQL a long list goes into a temporary table with one COPY and is joined with the
    inventory: for a million keys that takes seconds, where a million digests sent in `IN (…)`
    lists took half a minute, too long for an import checked in the request (bench/README.md).
    """
    if connection.vendor != "postgresql" or len(digests) <= LOOKUP_CHUNK:
        found = _ids_by_digest(digests)
        return [position for position, digest in enumerate(digests) if digest in found]
    buffer = io.StringIO()
    buffer.writelines(
        f"{position}\t\\\\x{digest.hex()}\n" for position, digest in enumerate(digests)
    )
    buffer.seek(0)
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute("CREATE TEMPORARY TABLE import_digest (position integer, digest bytea)")
        cursor.cursor.copy_expert("COPY import_digest (position, digest) FROM STDIN", buffer)
        cursor.execute(
            "SELECT i.position FROM import_digest i"
            " JOIN keys_productkey k ON k.digest = i.digest ORDER BY i.position"
        )
        positions = [position for (position,) in cursor.fetchall()]
        cursor.execute("DROP TABLE import_digest")
    return positions


def keys_find(canonicals: Sequence[str]) -> dict[str, int]:
    """{canonical key: key id} for the keys of the list that are in the inventory."""
    digests = [key_digest(canonical) for canonical in canonicals]
    found = _ids_by_digest(digests)
    return {
        canonical: found[digest]
        for canonical, digest in zip(canonicals, digests, strict=True)
        if digest in found
    }


KeyRow = tuple[bytes, str]
"""What the inventory keeps of a key: its digest and its last five characters. No secret."""


def keys_import_rows(data: bytes) -> list[KeyRow]:
    """Read and check an import file: every line valid, none already known. The slow part of an
    import is the insert; this part fits in a request even for a million keys (bench/README.md).

    Raises KeyImportError listing every bad line, or saying the file is not text at all."""
    problem = _not_text_problem(data)
    if problem:
        raise KeyImportError(problem=problem)
    good, bad = keys_parse_file(data)
    digests = [key_digest(canonical) for _number, canonical in good]
    known = _known_positions(digests)
    bad.extend(
        BadLine(good[position][0], _("This key is already in the inventory.")) for position in known
    )
    if bad:
        raise KeyImportError(sorted(bad, key=lambda line: line.number))
    if not good:
        raise KeyImportError(problem=_("The file holds no product keys."))
    return [
        (digest, canonical[-5:]) for (_number, canonical), digest in zip(good, digests, strict=True)
    ]


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
    return batch_import_rows(
        rows=keys_import_rows(data),
        product=product,
        seats_per_key=seats_per_key,
        partner=partner,
        note=note,
        actor=actor,
    )


def batch_import_rows(
    *,
    rows: Sequence[KeyRow],
    product: Product,
    seats_per_key: int = 1,
    partner: Partner | None = None,
    note: str = "",
    actor: User | None,
    progress: Progress | None = None,
) -> KeyBatch:
    """Insert checked rows (keys_import_rows) as a new batch, all or nothing."""
    now = timezone.now()
    try:
        with transaction.atomic():
            batch = KeyBatch.objects.create(
                product=product,
                seats_per_key=seats_per_key,
                partner=partner,
                source=KeyBatch.Source.IMPORTED,
                note=note,
                key_count=len(rows),
                created_by=actor,
                created_at=now,
            )
            _keys_insert_in_chunks(batch, rows, now, progress)
            audit_log(
                action="key_batch.imported",
                actor=actor,
                target=batch,
                partner=partner,
                details={
                    "product": product.sku,
                    "count": len(rows),
                    "seats_per_key": seats_per_key,
                },
            )
    except IntegrityError:
        # Another import added one of these keys between our check and our insert.
        raise KeyImportError(
            problem=_(
                "Some of these keys were imported by someone else at the same time. "
                "Nothing was imported; run the import again to see which."
            ),
            code="duplicate",
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
        .revocable()
        .filter(pk__in=list(key_ids))
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
                redemption_id=key.redemption_id, product_key=key
            ).active().update(released_at=now)
        audit_log(
            action="key.revoked",
            actor=actor,
            target=key,
            partner=key.batch.partner,
            details={"previous_state": previous, "batch": key.batch_id, "reason": reason},
        )
    return len(revocable)
