"""One call per act (STYLE 13): a service that changes a tenant records its audit event and,
under a delegated-admin relationship, its activity-log row, in its transaction."""

from typing import Any

from django.db import models

from portal.models import AuditEvent
from portal.services import audit_log
from tenants.access import TenantAccess
from tenants.delegation.activity import activity_write


def act_record(
    access: TenantAccess,
    *,
    action: str,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
    activity_details: dict[str, Any] | None = None,
    person=None,
) -> AuditEvent:
    """The audit event says who acted in which capacity (`access.audit_details`); the activity
    row, written only when the access is a relationship's, gets `activity_details` (by default
    the same details: some audit details, such as addresses, are for ops only)."""
    event = audit_log(
        action=action,
        actor=access.user,
        target=target,
        partner=access.partner,
        tenant=access.tenant,
        details={**access.audit_details, **(details or {})},
    )
    if access.relationship is not None:
        activity_write(
            access.relationship,
            actor=access.user,
            action=action,
            target=target,
            details=details if activity_details is None else activity_details,
            person=person,
        )
    return event
