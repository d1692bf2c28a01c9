"""`Idempotency-Key` on the POSTs that create or apply something.

The same key with the same request (method, path, body) answers the first response again, its
Location included (kept API_IDEMPOTENCY_HOURS); with another request, 422; while the first is
still running, 409. The claim is a row insert under a unique constraint, outside any transaction,
so of two requests at once exactly one runs; the running request holds it locked, so that a
request that died with its process or under a database restart frees its key for the retry at
once. The call and its kept answer are one transaction (`idempotent`). A 5xx or 429 answer is not
kept: the client may try again. A field shown once (a signing secret, `shown_once`) is not kept
either: the replay has it null.
"""

import hashlib
import json
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from portal.api.errors import PROBLEM_CONTENT_TYPE, Problem
from portal.models import IdempotentRequest

HEADER = "Idempotency-Key"
# A claim is committed, then locked by its request's transaction the moment after: younger than
# this, an unlocked claim is not taken for abandoned.
CLAIM_LOCK_GRACE = timedelta(seconds=5)
REPLAYED_HEADER = "Idempotent-Replayed"


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _key_of(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise Problem(
            "idempotency_key_invalid",
            _("An Idempotency-Key is 1 to 255 printable ASCII characters."),
        )
    return key


def _claim(
    api_key, key: str, fingerprint: str, tries: int = 3
) -> tuple[IdempotentRequest | None, int | None]:
    """Claim the key for this request: (None, the claim's row ID); or (the row of the request
    that had it first, None). A claim refused while no row holds the key (the first request
    gave it up meanwhile) is tried again, a few times at most: an insert refused for any other
    reason is an error, not a race."""
    now = timezone.now()
    kept_since = now - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    # Past its keeping time the key is free again.
    IdempotentRequest.objects.filter(api_key=api_key, key=key).filter(
        created_at__lt=kept_since
    ).delete()
    try:
        with transaction.atomic():
            claim = IdempotentRequest.objects.create(
                api_key=api_key, key=key, fingerprint=fingerprint, created_at=now
            )
        return None, claim.pk
    except IntegrityError:
        earlier = IdempotentRequest.objects.filter(api_key=api_key, key=key).first()
        if earlier is not None and earlier.completed_at is None and _abandoned(earlier, now):
            IdempotentRequest.objects.filter(pk=earlier.pk, completed_at__isnull=True).delete()
            earlier = None
        if earlier is None:  # the first request gave its key up meanwhile (a 5xx): claim again
            if tries <= 1:
                raise
            return _claim(api_key, key, fingerprint, tries - 1)
        return earlier, None


def _abandoned(earlier: IdempotentRequest, now) -> bool:
    """Whether the request that claimed the key died without an answer (its process killed,
    the database restarted under it): then the key is free again.

    A running request holds its claim's row locked in its transaction (`idempotent`), and
    the lock ends with the transaction however the request ends: on PostgreSQL, a claim that
    nobody holds is abandoned, so a client retrying after a fault runs its call again at once
    instead of hearing 409 for minutes. The first moments of a claim are left alone (committed,
    not yet locked). Elsewhere (SQLite, one machine), a claim is abandoned after
    API_IDEMPOTENCY_STALE_SECONDS."""
    age = now - earlier.created_at
    if connection.vendor != "postgresql":
        return age > timedelta(seconds=settings.API_IDEMPOTENCY_STALE_SECONDS)
    if age < CLAIM_LOCK_GRACE:
        return False
    try:
        with transaction.atomic():
            IdempotentRequest.objects.select_for_update(nowait=True).filter(pk=earlier.pk).first()
    except OperationalError:  # the lock is held: the first request is still running
        return False
    return True


def _replay(earlier: IdempotentRequest, fingerprint: str) -> Response:
    if earlier.fingerprint != fingerprint:
        raise Problem(
            "idempotency_key_reused",
            _("This Idempotency-Key was used with another request."),
            status_code=422,
        )
    if earlier.completed_at is None:
        raise Problem(
            "idempotency_in_progress",
            _("A request with this Idempotency-Key is still running. Try again shortly."),
            status_code=409,
        )
    headers = {REPLAYED_HEADER: "true"}
    if earlier.location:  # where the first answer said the new resource is
        headers["Location"] = earlier.location
    response = Response(earlier.response, status=earlier.status_code, headers=headers)
    if earlier.status_code >= 400:
        response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _keep(claim: int, response: Response) -> None:
    # Only this request's own claim: a run taken for dead (stale) and run again is not
    # overwritten by the first one finishing late.
    rows = IdempotentRequest.objects.filter(pk=claim)
    if response.status_code >= 500 or response.status_code == 429:
        rows.delete()
        return
    kept = getattr(response, "kept_data", response.data)
    body = json.loads(JSONRenderer().render(kept) or b"null")
    rows.update(
        completed_at=timezone.now(),
        status_code=response.status_code,
        response=body,
        location=response.get("Location", ""),
    )


def shown_once(response: Response, *fields: str) -> Response:
    """An answer whose `fields` (a signing secret) are shown this once: the copy kept for a
    replay has them null, so no secret is stored in the clear for API_IDEMPOTENCY_HOURS."""
    response.kept_data = {**response.data, **dict.fromkeys(fields)}
    return response


def idempotent(handler):
    """For an ApiView's `post`: answered once per Idempotency-Key (when the client sends one).

    The handler runs in one transaction, which also keeps its answer for the key: a call whose
    services take several steps (keys reserved, then a customer created) is all or nothing even
    when the database goes away between two of them, and a commit whose answer never reached
    the client leaves that answer kept, so the client's retry gets it instead of running the
    call again (the fault drills restart PostgreSQL under these calls: `make drills`)."""

    @wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = _key_of(request)
        if key is None:
            with transaction.atomic():
                return _answer(view, handler, request, *args, **kwargs)
        api_key = request.auth.key
        fingerprint = _fingerprint(request)
        earlier, claim = _claim(api_key, key, fingerprint)
        if earlier is not None:
            return _replay(earlier, fingerprint)
        try:
            with transaction.atomic():
                # Held until the answer is kept: a retry that finds it free knows this request
                # died (`_abandoned`).
                IdempotentRequest.objects.select_for_update().filter(pk=claim).first()
                response = _answer(view, handler, request, *args, **kwargs)
                _keep(claim, response)
        except Exception:
            # Nothing was done: the key is free for a retry. When the database itself is away
            # this fails too; the claim, no longer locked, is then given up by the retry.
            IdempotentRequest.objects.filter(pk=claim).delete()
            raise
        return response

    wrapper.idempotent = True
    return wrapper


def _answer(view, handler, request, *args, **kwargs):
    """The handler's answer, an error it raises turned into DRF's answer for it, inside the
    call's transaction: the rows a refused call must leave (an audit event of a guessing limit
    reached) are committed with it. An error DRF has no answer for propagates, and the
    transaction is rolled back."""
    try:
        return handler(view, request, *args, **kwargs)
    except Exception as exc:
        return view.handle_exception(exc)


def idempotent_requests_sweep(*, now=None) -> int:
    """Forget the requests kept longer than API_IDEMPOTENCY_HOURS (a periodic task)."""
    now = now or timezone.now()
    deleted, _by_model = IdempotentRequest.objects.filter(
        created_at__lt=now - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    ).delete()
    return deleted
