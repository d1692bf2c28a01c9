import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from keys.codec import split_keys
from keys.forms import MAX_KEYS_PER_STEP, AcknowledgeForm, KeyCheckForm, KeyEntryFormSet
from keys.models import Redemption
from keys.services import (
    KeyGuessLimitReached,
    LookupStatus,
    RedemptionClosed,
    key_check,
    redemption_cancel,
    redemption_key_remove,
    redemption_keys_add,
    redemption_keys_confirm,
    redemption_lines,
    redemption_refresh,
    redemption_start,
    redemption_step_reach,
)
from portal.access import partner_required
from portal.forms import posted_data
from portal.views import too_many_tries

FORMSET_PREFIX = "keys"


def too_many_guesses(request, error: KeyGuessLimitReached):
    return too_many_tries(request, "keys/too_many_guesses.html", error.until)


@sensitive_post_parameters("key")  # error reports never carry a typed key
@partner_required
def check_key(request):
    """Look a key card up before redeeming it: product, seats and term, or why not."""
    form = KeyCheckForm(posted_data(request))
    lookup = None
    if request.method == "POST" and form.is_valid():
        try:
            lookup = key_check(
                user=request.user,
                partner=request.partner,
                raw=form.cleaned_data["key"],
                client_address=request.client_address,
            )
        except KeyGuessLimitReached as error:
            return too_many_guesses(request, error)
        if lookup.status is not LookupStatus.USABLE:
            form.add_error("key", lookup.message)
            lookup = None
    redeem_form = AcknowledgeForm() if lookup is not None else None
    return render(
        request,
        "keys/check_key.html",
        {"form": form, "lookup": lookup, "redeem_form": redeem_form},
    )


def _own_redemption(request, pk: int) -> Redemption:
    """The user's own redemption; anyone else's is not found (a draft belongs to its user)."""
    redemption = (
        Redemption.objects.owned_by(request.user, request.partner)
        .select_related("partner")
        .filter(pk=pk)
        .first()
    )
    if redemption is None:
        raise Http404
    return redemption


def _closed(request, redemption: Redemption):
    """Where a finished or cancelled redemption sends its user."""
    if redemption.state == Redemption.State.COMPLETED:
        messages.info(request, _("This redemption is complete."))
        tenant = getattr(redemption, "tenant", None)
        if tenant is not None:
            return redirect("tenants:partner_customer", tenant.pk)
    else:
        messages.info(request, _("This redemption was cancelled."))
    return redirect("tenants:partner_dashboard")


ACKNOWLEDGED = "keys.redeem.acknowledged"


@sensitive_post_parameters("key")  # "Redeem this key" posts the key just checked
@partner_required
def redeem_start(request):
    """The instructions and the acknowledgement, then Start (which opens the key entry)."""
    form = AcknowledgeForm(posted_data(request))
    if request.method == "POST" and form.is_valid():
        # Nothing is created yet: the redemption starts with its first keys (no empty drafts).
        request.session[ACKNOWLEDGED] = True
        if form.cleaned_data["key"]:  # "Redeem this key" after a key check
            return _start_with(request, form.cleaned_data["key"])
        return redirect("keys:redeem_new")
    return render(
        request,
        "keys/redeem_start.html",
        {
            "form": form,
            # The customer of each (tenants' RedemptionTarget, by name) names it and its page.
            "drafts": Redemption.objects.drafts_of(request.membership)
            .with_active_lines()
            .select_related("target__tenant")[:5],
        },
    )


def _rows_formset(rows: list[str], errors: dict[int, str] | None = None):
    """A bound formset showing `rows` as typed, with each line's error on its own row."""
    data = {
        f"{FORMSET_PREFIX}-TOTAL_FORMS": str(len(rows)),
        f"{FORMSET_PREFIX}-INITIAL_FORMS": "0",
        f"{FORMSET_PREFIX}-MIN_NUM_FORMS": "1",
        f"{FORMSET_PREFIX}-MAX_NUM_FORMS": str(MAX_KEYS_PER_STEP),
    }
    data.update({f"{FORMSET_PREFIX}-{i}-key": value for i, value in enumerate(rows)})
    formset = KeyEntryFormSet(data, prefix=FORMSET_PREFIX)
    formset.is_valid()
    for index, message in (errors or {}).items():
        formset.forms[index].add_error("key", message)
    return formset


@sensitive_post_parameters()
@never_cache  # the Back button fetches a fresh form (and submission id) instead of a stale copy
@partner_required
def redeem_new(request):
    """The key entry of a redemption that does not exist yet: its first keys create it."""
    if not request.session.get(ACKNOWLEDGED):
        return redirect("keys:redeem_start")
    return key_entry(request, None)


@sensitive_post_parameters()
@never_cache
@partner_required
def redeem_keys(request, pk: int):
    """Type a product key; "Add another product key" for more; Next."""
    redemption = _own_redemption(request, pk)
    if not redemption.is_draft:
        return _closed(request, redemption)
    return key_entry(request, redemption)


def _target(redemption: Redemption | None):
    """The customer a redemption is for (tenants' RedemptionTarget, followed by name), or None."""
    return getattr(redemption, "target", None) if redemption is not None else None


def key_entry(request, redemption: Redemption | None, on_created=None, target=None):
    """The key entry: into `redemption`, or, without one, into a new redemption made with the
    first keys. For a customer's redemption tenants passes `on_created` (to record the customer,
    in the same transaction) and `target` (to name the customer on the page)."""
    target = target or _target(redemption)
    formset = None
    if request.method == "POST":
        if "remove" in request.POST and redemption is not None:
            return _remove(request, redemption)
        posted = KeyEntryFormSet(request.POST, prefix=FORMSET_PREFIX)
        if not posted.is_valid():
            formset = posted  # too many rows, or a row too long: say so, keep what was typed
        else:
            typed = [form.cleaned_data.get("key", "") for form in posted.forms]
            # A pasted list in one box becomes one row per key (no JavaScript needed).
            rows = [key for value in typed for key in split_keys(value)]
            if request.POST.get("action") == "add":
                formset = _rows_formset([*rows, ""])
            elif len(rows) > MAX_KEYS_PER_STEP:
                formset = _rows_formset(rows)
            elif rows:
                try:
                    redemption, errors = _keys_submit(request, redemption, rows, on_created)
                except KeyGuessLimitReached as error:
                    return too_many_guesses(request, error)
                except RedemptionClosed:
                    return _closed(request, redemption)
                if errors:
                    formset = _rows_formset(rows, errors)
                else:
                    return redirect("keys:redeem_review", redemption.pk)
            elif redemption is not None and redemption_lines(redemption).exists():
                return redirect("keys:redeem_review", redemption.pk)
            else:
                formset = _rows_formset([""], {0: _("Enter at least one product key.")})
    elif redemption is not None and not _refresh(request, redemption):
        return _closed(request, redemption)
    if formset is None:
        formset = KeyEntryFormSet(prefix=FORMSET_PREFIX)
    return render(
        request,
        "keys/redeem_keys.html",
        {
            "redemption": redemption,
            "target": target,
            "formset": formset,
            "lines": redemption_lines(redemption) if redemption is not None else [],
            "submission": uuid.uuid4(),
        },
    )


def _start_with(request, key: str):
    """A redemption holding the key just checked; on a problem, the key entry says what."""
    try:
        redemption, errors = redemption_start(
            user=request.user,
            partner=request.partner,
            raw_keys=[key],
            client_address=request.client_address,
        )
    except KeyGuessLimitReached as error:
        return too_many_guesses(request, error)
    if not errors:
        return redirect("keys:redeem_review", redemption.pk)
    return render(
        request,
        "keys/redeem_keys.html",
        {
            "redemption": None,
            "formset": _rows_formset([key], errors),
            "lines": [],
            "submission": uuid.uuid4(),
        },
    )


def _keys_submit(request, redemption: Redemption | None, rows: list[str], on_created=None):
    """Reserve the typed keys: into the redemption, or into a new one made with them."""
    if redemption is None:
        return redemption_start(
            user=request.user,
            partner=request.partner,
            raw_keys=rows,
            client_address=request.client_address,
            submission=submission_id(request),
            on_created=on_created,
        )
    errors = redemption_keys_add(
        redemption=redemption,
        user=request.user,
        raw_keys=rows,
        client_address=request.client_address,
        submission=submission_id(request),
    )
    return redemption, errors


def _remove(request, redemption: Redemption):
    try:
        line_id = int(request.POST["remove"])
    except ValueError:
        line_id = 0
    try:
        removed = redemption_key_remove(redemption=redemption, user=request.user, line_id=line_id)
    except RedemptionClosed:
        return _closed(request, redemption)
    if removed:
        messages.success(request, _("The key was removed from this redemption."))
    return redirect("keys:redeem_keys", redemption.pk)


def _refresh(request, redemption: Redemption) -> bool:
    """On resuming: take back keys whose reservation ran out, and say what happened.

    False when the redemption was closed meanwhile (completed or cancelled in another tab)."""
    try:
        notices = redemption_refresh(redemption=redemption, user=request.user)
    except RedemptionClosed:
        return False
    for notice in notices:
        messages.warning(request, notice)
    return True


def submission_id(request):
    try:
        return uuid.UUID(request.POST.get("submission", ""))
    except ValueError:
        return None


@partner_required
def redeem_review(request, pk: int):
    """ "Does everything look right?" then "Done adding product keys"."""
    redemption = _own_redemption(request, pk)
    if not redemption.is_draft:
        return _closed(request, redemption)
    if request.method == "POST":
        try:
            redemption_keys_confirm(redemption=redemption, user=request.user)
        except ValueError as error:
            messages.error(request, str(error))
            return redirect("keys:redeem_keys", redemption.pk)
        except RedemptionClosed:
            return _closed(request, redemption)
        if _target(redemption) is not None:
            # An existing customer: straight to what the keys change (no "Getting started").
            return redirect("tenants:apply_keys", redemption.pk)
        return redirect("keys:redeem_getting_started", redemption.pk)
    if not _refresh(request, redemption):
        return _closed(request, redemption)
    lines = list(redemption_lines(redemption))
    if not lines:
        return redirect("keys:redeem_keys", redemption.pk)
    redemption_step_reach(redemption=redemption, step=Redemption.Step.REVIEW)
    return render(
        request,
        "keys/redeem_review.html",
        {"redemption": redemption, "lines": lines, "target": _target(redemption)},
    )


@partner_required
def redeem_getting_started(request, pk: int):
    """ "Getting started": the way into step 2 of a new customer."""
    redemption = _own_redemption(request, pk)
    if not redemption.is_draft:
        return _closed(request, redemption)
    if redemption.keys_confirmed_at is None:
        return redirect("keys:redeem_review", redemption.pk)
    if _target(redemption) is not None:
        # An existing customer's keys have no "Getting started": an old link or bookmark goes
        # to what they change (by URL name: keys imports no app).
        return redirect("tenants:apply_keys", redemption.pk)
    lines = list(redemption_lines(redemption))
    redemption_step_reach(redemption=redemption, step=Redemption.Step.GETTING_STARTED)
    return render(
        request,
        "keys/redeem_getting_started.html",
        {
            "redemption": redemption,
            "lines": lines,
            "target": None,
            "step2_url": reverse("tenants:create_tenant", args=[pk]),
        },
    )


@partner_required
def redeem_cancel(request, pk: int):
    """Discard a redemption in progress: GET asks for confirmation, POST discards it."""
    redemption = _own_redemption(request, pk)
    if not redemption.is_draft:
        return _closed(request, redemption)
    if request.method == "POST":
        try:
            redemption_cancel(redemption=redemption, user=request.user)
        except RedemptionClosed:
            return _closed(request, redemption)
        messages.success(request, _("The redemption was discarded and its keys are free again."))
        return redirect("tenants:partner_dashboard")
    return render(
        request,
        "keys/redeem_discard.html",
        {
            "redemption": redemption,
            "lines": list(redemption_lines(redemption)),
            "target": _target(redemption),
        },
    )
