"""Redemptions (step 1 of the seed's flow): reserving typed keys, and consuming them.

A redemption is the only holder of its keys' state: keys are reserved into it, released from
it, and redeemed through `redemption_keys_consume`, which tenant creation, adding licenses and
renewing all call.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keys.codec import KeyFormatError, validate_key
from keys.models import ProductKey, Redemption, RedemptionLine
from keys.services.lookup import LookupStatus, key_check, key_error_message
from portal.models import Partner, User
from portal.services import audit_log


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


class _ReservationLost(Exception):
    def __init__(self, errors: dict[int, str]):
        self.errors = errors


def redemption_start(
    *,
    user: User,
    partner: Partner,
    raw_keys: Sequence[str],
    client_address: str | None,
    submission=None,
    on_created: Callable[[Redemption], None] | None = None,
) -> tuple[Redemption | None, dict[int, str]]:
    """The first keys of a new redemption: the redemption exists only once it holds keys.

    Returns (the redemption, {}) or (None, {index in raw_keys: message}); with any error
    nothing is created or reserved, so "Start" alone never leaves an empty draft behind.
    The same form posted twice (`submission`) gives the redemption the first post created.
    `on_created` runs in the same transaction, for the caller's own rows about the redemption
    (tenants records the customer a redemption is for).
    """
    own = Redemption.objects.owned_by(user, partner)
    if submission is not None and (earlier := own.filter(last_submission=submission).first()):
        return earlier, {}
    errors, usable = _keys_examine(partner, None, user, raw_keys, client_address)
    if errors:
        return None, errors
    try:
        with transaction.atomic():
            now = timezone.now()
            redemption = Redemption.objects.create(
                partner=partner,
                created_by=user,
                last_submission=submission,
                created_at=now,
                updated_at=now,
            )
            audit_log(action="redemption.started", actor=user, target=redemption, partner=partner)
            if on_created is not None:
                on_created(redemption)
            _reserve(redemption, user, usable)
    except _ReservationLost as lost:
        # Another redemption was faster for a key, or this very form's first post was: then
        # the partner gets the redemption that post made.
        if submission is not None and (earlier := own.filter(last_submission=submission).first()):
            return earlier, {}
        return None, lost.errors
    return redemption, {}


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

    The keys are looked up before the write transaction opens: the look-ups count guesses and
    may write the "limit reached" audit event, which must survive when the limit trips in the
    middle of a pasted list. What they found is only advice: the reservation below claims each
    key with a conditional UPDATE and says "already used" when another redemption was faster.
    """
    current = Redemption.objects.get(pk=redemption.pk)
    if not current.is_draft:
        raise RedemptionClosed
    if submission is not None and current.last_submission == submission:
        return {}  # a double submit: the first one did the work
    errors, usable = _keys_examine(current.partner, current.pk, user, raw_keys, client_address)
    if errors:
        return errors
    with transaction.atomic():
        redemption = _locked_draft(redemption)
        if submission is not None and redemption.last_submission == submission:
            return {}  # the double submit arrived while the first was reserving
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


def _keys_examine(
    partner: Partner,
    redemption_id: int | None,
    user: User,
    raw_keys: Sequence[str],
    client_address: str | None,
) -> tuple[dict[int, str], list[tuple[int, ProductKey]]]:
    """Each typed line: its error, or the key it names. Typos never reach the database."""
    errors: dict[int, str] = {}
    usable: list[tuple[int, ProductKey]] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_keys):
        try:
            canonical = validate_key(raw)
        except KeyFormatError as error:
            errors[index] = key_error_message(error, hint=True)
            continue
        if canonical in seen:
            errors[index] = _already_entered()
            continue
        seen.add(canonical)
        lookup = key_check(user=user, partner=partner, raw=canonical, client_address=client_address)
        key = lookup.key
        held = key is not None and key.state == ProductKey.State.RESERVED
        if held and key.redemption_id == redemption_id:
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
    return errors, usable


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
        RedemptionLine.objects.filter(redemption=redemption)
        .active()
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
    if not redemption_lines(redemption).exists():
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
    redemption.customer_details = {}
    redemption.save(update_fields=["state", "updated_at", "customer_details"])
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


def redemption_step_reach(*, redemption: Redemption, step: int) -> None:
    """The partner opened this step of a draft: Resume comes back to it. Only moves forward.

    A page view, not a change of the redemption: no audit event, and the "last change" stays.
    """
    Redemption.objects.filter(
        pk=redemption.pk, state=Redemption.State.DRAFT, furthest_step__lt=step
    ).update(furthest_step=step)
    redemption.furthest_step = max(redemption.furthest_step, step)


MAX_DETAIL_LENGTH = 300


def redemption_details_keep(*, redemption: Redemption, details: dict[str, str]) -> bool:
    """Keep what the partner typed in step 2 with the draft (text only, as typed).

    These are a form's contents on the way, not a state of the redemption: no audit event.
    False when the redemption is no longer a draft.
    """
    kept = {
        str(name)[:50]: str(value)[:MAX_DETAIL_LENGTH]
        for name, value in list(details.items())[:20]
        if isinstance(value, str)
    }
    return bool(
        Redemption.objects.filter(pk=redemption.pk, state=Redemption.State.DRAFT).update(
            customer_details=kept, updated_at=timezone.now()
        )
    )


def redemption_lock(redemption: Redemption) -> Redemption:
    """The redemption's row, locked until the caller's transaction ends, in whatever state.

    Everything that finishes a redemption takes this lock first, so two submits of the same
    form run one after the other and the second sees what the first did.
    """
    return Redemption.objects.select_for_update().select_related("partner").get(pk=redemption.pk)


class RedemptionKeysChanged(Exception):
    """The keys are no longer exactly those the partner reviewed: a reservation ran out, a key
    was revoked or released, or the review was never confirmed. Nothing was consumed."""


@transaction.atomic
def redemption_keys_consume(
    *, redemption: Redemption, user: User, tenant=None
) -> list[RedemptionLine]:
    """Redeem every key of a confirmed redemption and complete it: the only code that does.

    Runs in the caller's transaction (tenant creation, adding licenses, renewing), which writes
    its own rows around it; if the caller fails afterwards, the keys are reserved again and the
    redemption is a draft again. Returns the lines, with key, batch and product, in the order the
    keys were entered. `tenant` (any object with a pk and a str()) goes into the audit events.
    Raises RedemptionClosed when the redemption is not a draft, and RedemptionKeysChanged when
    its keys are not all still reserved for it as reviewed.
    """
    redemption = redemption_lock(redemption)
    if not redemption.is_draft:
        raise RedemptionClosed
    if redemption.created_by_id != user.pk:
        raise RedemptionClosed  # a draft belongs to its user: nobody else finishes it
    lines, keys = _reviewed_keys_lock(redemption)
    now = timezone.now()
    _keys_redeem(redemption, lines, keys, user=user, now=now, tenant=tenant)
    redemption.state = Redemption.State.COMPLETED
    redemption.completed_at = now
    redemption.updated_at = now
    redemption.customer_details = {}  # the tenant holds them now; the draft's copy goes
    redemption.save(update_fields=["state", "completed_at", "updated_at", "customer_details"])
    audit_log(
        action="redemption.completed",
        actor=user,
        target=redemption,
        partner=redemption.partner,
        tenant=tenant,
    )
    return lines


def _reviewed_keys_lock(
    redemption: Redemption,
) -> tuple[list[RedemptionLine], list[ProductKey]]:
    """The redemption's lines in the order entered, and their keys, locked; raises
    RedemptionKeysChanged unless they are exactly the keys the partner reviewed."""
    lines = list(
        RedemptionLine.objects.filter(redemption=redemption)
        .select_related("product_key__batch__product")
        .order_by("added_at", "id")
    )
    # Locked in primary-key order, like every other service that locks keys: no deadlock.
    keys = list(
        ProductKey.objects.select_for_update()
        .filter(pk__in=[line.product_key_id for line in lines])
        .order_by("pk")
    )
    # Never redeem fewer keys than the partner reviewed: a reservation that ran out, or a key
    # revoked meanwhile, sends the partner back to the keys.
    if (
        redemption.keys_confirmed_at is None
        or not lines
        or any(line.released_at is not None for line in lines)
        or any(
            key.state != ProductKey.State.RESERVED or key.redemption_id != redemption.pk
            for key in keys
        )
    ):
        raise RedemptionKeysChanged
    return lines, keys


def _keys_redeem(
    redemption: Redemption,
    lines: list[RedemptionLine],
    keys: list[ProductKey],
    *,
    user: User,
    now: datetime,
    tenant,
) -> None:
    """Turn the reserved keys into redeemed ones, each with its audit event."""
    # The conditional UPDATE is the last word: it only turns keys this redemption holds.
    redeemed = ProductKey.objects.filter(
        pk__in=[key.pk for key in keys],
        state=ProductKey.State.RESERVED,
        redemption=redemption,
    ).update(
        state=ProductKey.State.REDEEMED,
        redeemed_at=now,
        redeemed_by=user,
        reserved_until=None,
    )
    if redeemed != len(lines):
        raise RedemptionKeysChanged
    for line in lines:
        line.product_key.state = ProductKey.State.REDEEMED
        line.product_key.redeemed_at = now
        line.product_key.redeemed_by = user
        line.product_key.reserved_until = None
        audit_log(
            action="key.redeemed",
            actor=user,
            target=line.product_key,
            partner=redemption.partner,
            tenant=tenant,
            details={"redemption": redemption.pk},
        )
