"""The activity log (design §4): what a partner's user did in a tenant under a delegated-admin
relationship. Services call `activity_record` next to their audit event, in the same transaction;
it writes nothing for anyone acting in another capacity."""

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import translation

from tenants.models import ActivityLog


def activity_record(
    access,
    *,
    action: str,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
    person=None,
) -> ActivityLog | None:
    """`person`: the user the action was about, when the target is something else (a license
    of a subscription): the label then names them, "Business Standard · Adatum → Léa Martin"."""
    relationship = getattr(access, "relationship", None)
    if relationship is None:
        return None
    with translation.override(settings.LANGUAGE_CODE):
        target_label = str(target) if target is not None else ""
        if person is not None:
            target_label = f"{target_label} → {person.full_name}"
        target_label = target_label[:300]
    return ActivityLog.objects.create(
        tenant=access.tenant,
        relationship=relationship,
        partner=access.partner,
        actor=access.user,
        actor_label=access.user.email,
        action=action,
        target_label=target_label,
        details=details or {},
    )
