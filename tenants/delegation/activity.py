"""The activity log (design §4): what a partner's user did in a tenant under a delegated-admin
relationship. Both sides read it and export it. Rows are written by the service that acted, in
its transaction, through `tenants.audit.act_record`; they are never changed."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import translation

from portal.middleware import actor_label_for, current_api_key
from portal.models import User
from tenants.models import ActivityLog, DelegationRelationship


def activity_write(
    relationship: DelegationRelationship,
    *,
    actor: User,
    action: str,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
    person=None,
) -> ActivityLog:
    """`person`: the user the action was about, when the target is something else (a license
    of a subscription): the label then names them, "Business Standard · Adatum → Léa Martin"."""
    with translation.override(settings.LANGUAGE_CODE):
        target_label = str(target) if target is not None else ""
        if person is not None:
            target_label = f"{target_label} → {person.full_name}"
        target_label = target_label[:300]
    return ActivityLog.objects.create(
        tenant_id=relationship.tenant_id,
        relationship=relationship,
        partner_id=relationship.partner_id,
        actor=actor,
        # With an API key: "who" names the key too, and the row is marked "via API".
        actor_label=actor_label_for(actor),
        via_api=current_api_key.get() is not None,
        action=action,
        target_label=target_label,
        details=details or {},
    )


def activity_filter(entries, data: dict):
    """The activity log's filters (a date range and an action), from a valid filter form."""
    if data.get("start"):
        entries = entries.filter(at__date__gte=data["start"])
    if data.get("end"):
        entries = entries.filter(at__date__lte=data["end"])
    if data.get("action"):
        entries = entries.filter(action=data["action"])
    return entries
