"""Delegated administration's pages: the partner's offers and relationships, the customer's
answer and "Partner relationships", and the activity log both sides read and export."""

import datetime

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mfa.step_up import step_up_if, step_up_required
from portal.access import partner_admin_required, partner_required
from portal.audit_labels import action_label
from portal.forms import posted_data
from portal.spreadsheets import csv_response
from tenants.access import (
    Permission,
    customer_required,
    offer_for_answer,
    partner_customers,
    partner_offer,
    partner_relationship,
    tenant_offer,
    tenant_relationship,
)
from tenants.delegation.activity import activity_filter
from tenants.delegation.forms import OfferForm, activity_filter_form, offer_default_message
from tenants.delegation.offers import (
    OfferClosed,
    OfferError,
    offer_answer,
    offer_closed_message,
    offer_eligibility_problem,
    offer_resend,
    offer_send,
    offer_withdraw,
    pending_offer,
    pending_offer_problem,
    replaced_relationship,
)
from tenants.delegation.relationships import relationship_terminate
from tenants.models import ROLE_DESCRIPTIONS, ActivityLog, DelegationOffer, DelegationRelationship
from tenants.tokens import offer_from_token

OFFERS_PER_PAGE = 25
RELATIONSHIPS_PER_PAGE = 25
ACTIVITY_PER_PAGE = 50


def _roles_described(roles) -> list[dict]:
    return [
        {
            "label": role.label,
            "label_html": format_html("<strong>{}</strong>", role.label),
            "description": ROLE_DESCRIPTIONS[role],
        }
        for role in roles
    ]


def _replaces(partner, tenant) -> dict | None:
    """The active relationship a new offer to this tenant would replace, for the sentence
    "This offer replaces your active relationship (roles …, until …)"."""
    if tenant is None:
        return None
    relationship = replaced_relationship(partner, tenant)
    if relationship is None:
        return None
    return {
        "relationship": relationship,
        "roles": ", ".join(str(role.label) for role in relationship.role_choices),
    }


# --- Partner side ---------------------------------------------------------------------------


@partner_required
def partner_delegation(request):
    """The partner's offers (with their states) and relationships."""
    offers = Paginator(
        DelegationOffer.objects.filter(partner=request.partner)
        .select_related("tenant", "created_by")
        .order_by("-created_at", "-id"),
        OFFERS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    # Its own pages (`relationships_page`), so that either list turns without the other.
    relationships = Paginator(
        DelegationRelationship.objects.filter(partner=request.partner)
        .select_related("tenant")
        .order_by("state", "ends_on", "id"),
        RELATIONSHIPS_PER_PAGE,
    ).get_page(request.GET.get("relationships_page"))
    now = timezone.now()
    for offer in offers.object_list:
        # The e-mail goes again at most every few minutes: until then the button says when.
        resend_after = offer.resend_wait_until(now)
        offer.resend_after = timezone.localtime(resend_after) if resend_after else None
    return render(
        request,
        "tenants/delegation.html",
        {
            "offers": offers,
            "relationships": relationships,
            "is_admin": request.membership.is_admin,
            "problem": offer_eligibility_problem(request.membership),
            "today": timezone.localdate(),
        },
    )


@partner_admin_required
@step_up_required
def offer_new(request):
    """ "Send delegated admin offers". Choosing the customer (GET ?tenant=) prefills the message
    in that customer's language; the partner edits it."""
    problem = offer_eligibility_problem(request.membership)
    tenants = _customers_for_offers(request.partner)
    # One customer choice: the GET chooser; then the POST form shows it as text (a hidden field)
    # with a "Change" link back to the chooser.
    chosen = None
    asked = request.GET.get("tenant", "")
    if request.method == "POST" and not asked:
        asked = request.POST.get("tenant", "")
    if asked.isascii() and asked.isdigit() and len(asked) <= 18:
        chosen = tenants.filter(pk=int(asked)).first()
    initial = {"duration_days": 730}
    if chosen is not None:
        initial["tenant"] = chosen.pk
        initial["message"] = offer_default_message(request.partner, chosen.preferred_language)
    data = posted_data(request)
    if data is not None and chosen is not None:
        data = data.copy()
        data["tenant"] = str(chosen.pk)  # the customer chosen, whatever else is posted
    form = OfferForm(data, tenants=tenants, initial=initial)
    if request.method == "POST" and problem is None and form.is_valid():
        try:
            offer = offer_send(
                membership=request.membership,
                tenant=form.cleaned_data["tenant"],
                details=form.details(),
            )
        except OfferError as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(
                request,
                _(
                    "The offer was sent to the administrators of %(name)s. Nothing is granted "
                    "until one of them accepts."
                )
                % {"name": offer.tenant.name},
            )
            return redirect("tenants:delegation")
    return render(
        request,
        "tenants/offer_new.html",
        {
            "form": form,
            "problem": problem,
            "chosen": chosen,
            "tenants": tenants,
            "replaces": _replaces(request.partner, chosen),
            "pending": _pending_problem(request.partner, chosen),
            # Said under the chooser too: an option's mark is hidden until the list opens.
            "offers_pending": ", ".join(t.name for t in tenants if t.offer_pending),
            "relationships_in_force": ", ".join(
                t.name for t in tenants if t.relationship_in_force and not t.offer_pending
            ),
        },
    )


def _customers_for_offers(partner):
    """The partner's customers for the chooser, each marked (in the same query) when an offer
    of the partner's waits for its answer or a relationship of the partner's is in force, so
    that the page says what sending will do before the partner picks one."""
    now = timezone.now()
    mine = {"partner": partner, "tenant": OuterRef("pk")}
    return (
        partner_customers(partner)
        .annotate(
            offer_pending=Exists(DelegationOffer.objects.open(now).filter(**mine)),
            relationship_in_force=Exists(
                DelegationRelationship.objects.in_force(timezone.localdate()).filter(**mine)
            ),
        )
        .order_by("name", "id")
    )


def _pending_problem(partner, tenant) -> str:
    """Why an offer to the chosen customer cannot go yet (one is pending), or ""."""
    offer = pending_offer(partner, tenant) if tenant is not None else None
    return pending_offer_problem(offer) if offer is not None else ""


@partner_admin_required
@step_up_required
def offer_withdraw_view(request, offer_pk: int):
    """GET asks to confirm; POST withdraws the pending offer (its link stops working)."""
    offer = partner_offer(request.membership, offer_pk)
    if request.method == "POST":
        try:
            offer_withdraw(membership=request.membership, offer=offer)
        except OfferClosed as closed:
            messages.info(request, offer_closed_message(closed.state))
        else:
            messages.success(
                request, _("The offer to %(name)s was withdrawn.") % {"name": offer.tenant.name}
            )
        return redirect("tenants:delegation")
    return render(request, "tenants/offer_withdraw.html", {"offer": offer})


@require_POST
@partner_admin_required
def offer_resend_view(request, offer_pk: int):
    offer = partner_offer(request.membership, offer_pk)
    try:
        offer_resend(membership=request.membership, offer=offer)
    except OfferClosed as closed:
        messages.info(request, offer_closed_message(closed.state))
    except OfferError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("The offer's e-mail is on its way again to the administrators of %(name)s.")
            % {"name": offer.tenant.name},
        )
    return redirect("tenants:delegation")


def _terminate(request, relationship, by, done: str):
    if request.method == "POST":
        if relationship_terminate(relationship=relationship, by=by):
            messages.success(
                request, _("The relationship was ended. The partner's access ended now.")
            )
        else:
            messages.info(request, _("This relationship had already ended."))
        return redirect(done)
    return render(
        request,
        "tenants/relationship_terminate.html",
        {"relationship": relationship, "roles": _roles_described(relationship.role_choices)},
    )


@partner_admin_required
@step_up_required
def partner_relationship_terminate(request, relationship_pk: int):
    """ "Terminate relationship": GET asks to confirm, POST ends it now."""
    relationship = partner_relationship(request.membership, relationship_pk)
    return _terminate(request, relationship, request.membership, "tenants:delegation")


# --- Customer side --------------------------------------------------------------------------


@customer_required(Permission.MANAGE)
def customer_relationships(request):
    """ "Partner relationships": pending offers to answer, and the relationships."""
    offers = (
        DelegationOffer.objects.open(timezone.now())
        .filter(tenant=request.tenant)
        .select_related("partner")
        .order_by("-created_at")
    )
    relationships = (
        DelegationRelationship.objects.filter(tenant=request.tenant)
        .select_related("partner")
        .order_by("state", "ends_on", "id")
    )
    active_partners = {
        r.partner_id for r in relationships if r.state == DelegationRelationship.State.ACTIVE
    }
    offers = [(offer, offer.partner_id in active_partners) for offer in offers]
    return render(
        request,
        "tenants/customer_relationships.html",
        {
            "tenant": request.tenant,
            "offers": offers,
            "relationships": relationships,
            "today": timezone.localdate(),
        },
    )


def offer_link(request, token: str):
    """The link in the offer's e-mail. Signed: a tampered one says so. Then the signed-in admin
    of that tenant only (anyone else: 404) goes on to the offer, at a URL without the token."""
    offer_pk = offer_from_token(token)
    if offer_pk is None:
        return render(request, "tenants/offer_link.html", {"problem": "invalid"}, status=400)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    offer, _access = offer_for_answer(request.user, offer_pk)
    if not offer.is_open():
        state = offer.closed_state
        return render(
            request,
            "tenants/offer_link.html",
            {"problem": state, "message": offer_closed_message(state), "offer": offer},
        )
    return redirect("tenants:offer_answer", offer.pk)


@customer_required(Permission.MANAGE)
def offer_answer_view(request, offer_pk: int):
    """The offer: partner, roles with what each allows, duration, end date, auto-extend and the
    message. GET shows; POST **Accept** or **Decline**, each confirmed on a page of its own:
    accepting grants power over the organization, declining is final."""
    offer = tenant_offer(request.access, offer_pk)
    if request.method == "POST":
        return _answer(request, offer)
    return render(request, "tenants/offer_answer.html", _offer_context(offer))


def _offer_context(offer: DelegationOffer) -> dict:
    today = timezone.localdate()
    return {
        "offer": offer,
        "open": offer.is_open(),
        "closed_message": None if offer.is_open() else offer_closed_message(offer.closed_state),
        "roles": _roles_described(offer.role_choices),
        "end_date": today + datetime.timedelta(days=offer.duration_days),
        "replaces": _replaces(offer.partner, offer.tenant) if offer.is_open() else None,
    }


def _answer(request, offer: DelegationOffer):
    answer = request.POST.get("answer")
    if answer not in ("accept", "decline"):
        return redirect("tenants:offer_answer", offer.pk)
    accept = answer == "accept"
    step_up = step_up_if(request, accept and offer.is_open())  # accepting grants power
    if step_up is not None:
        return step_up
    if offer.is_open() and request.POST.get("confirm") != "1":
        # The consent step (what is granted, to whom, until when) or the decline's confirmation.
        template = "tenants/offer_accept.html" if accept else "tenants/offer_decline.html"
        return render(request, template, _offer_context(offer))
    try:
        offer_answer(access=request.access, offer=offer, accept=accept)
    except OfferClosed as closed:
        messages.error(request, offer_closed_message(closed.state))
        return redirect("tenants:customer_relationships")
    if accept:
        done = _("You accepted the offer of %(partner)s. You can remove its roles at any time.")
    else:
        done = _("You declined the offer of %(partner)s. Nothing was granted.")
    messages.success(request, done % {"partner": offer.partner.name})
    return redirect("tenants:customer_relationships")


@customer_required(Permission.MANAGE)
@step_up_required
def customer_relationship_terminate(request, relationship_pk: int):
    """ "Remove roles": GET asks to confirm, POST ends the relationship now."""
    relationship = tenant_relationship(request.access, relationship_pk)
    return _terminate(request, relationship, request.access, "tenants:customer_relationships")


# --- The activity log -----------------------------------------------------------------------


def _activity(request, entries):
    form = activity_filter_form(entries, request.GET)
    if form.is_valid():
        entries = activity_filter(entries, form.cleaned_data)
    elif form.is_bound:
        entries = entries.none()
    return form, entries.select_related("tenant", "partner", "relationship")


def _activity_page(request, entries, template_context: dict):
    form, entries = _activity(request, entries)
    page = Paginator(entries, ACTIVITY_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tenants/activity.html",
        {
            **template_context,
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "filtered": any(query.get(name) for name in ("start", "end", "action")),
            "rows": [(entry, action_label(entry.action)) for entry in page.object_list],
        },
    )


def _activity_csv(request, entries, filename: str) -> HttpResponse:
    _form, entries = _activity(request, entries)
    # The rows are read in chunks through a server-side cursor (unless
    # DISABLE_SERVER_SIDE_CURSORS), declared inside this transaction so that it ends with it:
    # outside one it would be declared WITH HOLD and outlive it, and behind PgBouncer in
    # transaction mode its next chunk could be asked of another server connection.
    with transaction.atomic():
        return _activity_rows_csv(entries, filename)


def _activity_rows_csv(entries, filename: str) -> HttpResponse:
    return csv_response(
        filename,
        [_("When (UTC)"), _("Customer"), _("Partner"), _("Relationship"), _("Who"), _("Action"),
         _("On"), _("Details"), _("Via API")],
        (
            (
                entry.at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                entry.tenant.name,
                f"{entry.partner.name} ({entry.partner.partner_id})",
                entry.relationship_id,
                entry.actor_label,
                action_label(entry.action),
                entry.target_label,
                "; ".join(f"{key}: {value}" for key, value in entry.details.items()),
                _("Yes") if entry.via_api else _("No"),
            )
            for entry in entries.iterator(chunk_size=500)
        ),
    )  # fmt: skip


@partner_required
def partner_activity(request):
    """What the partner's users did under its relationships, in every customer."""
    return _activity_page(
        request,
        ActivityLog.objects.filter(partner=request.partner),
        {
            "side": "partner",
            "may_export": request.membership.is_admin,
            "export_url_name": "tenants:partner_activity_export",
        },
    )


@partner_admin_required
def partner_activity_export(request):
    return _activity_csv(
        request, ActivityLog.objects.filter(partner=request.partner), "activity-log.csv"
    )


@customer_required(Permission.MANAGE)
def customer_activity(request):
    """What partners did in the organization under delegated administration."""
    return _activity_page(
        request,
        ActivityLog.objects.filter(tenant=request.tenant),
        {
            "side": "customer",
            "tenant": request.tenant,
            "may_export": True,
            "export_url_name": "tenants:customer_activity_export",
        },
    )


@customer_required(Permission.MANAGE)
def customer_activity_export(request):
    return _activity_csv(
        request, ActivityLog.objects.filter(tenant=request.tenant), "activity-log.csv"
    )
