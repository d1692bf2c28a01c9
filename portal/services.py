"""Writers shared by every app: the audit log."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone, translation

from portal.identity import email_normalize
from portal.middleware import actor_label_for, current_api_key, current_client_address
from portal.models import AuditEvent, Partner, User
from portal.throttle import Attempt, Counter, attempt_start

SYSTEM_ACTOR = "system"


def audit_log(
    *,
    action: str,
    actor: User | None = None,
    target: models.Model | None = None,
    partner: Partner | None = None,
    tenant: models.Model | None = None,
    details: dict[str, Any] | None = None,
    client_address: str | None = None,
) -> AuditEvent:
    """Record one state change. Every service that changes state calls this, in its transaction.

    `tenant` is any object with `pk` and a `str()`; it is stored as plain values so the trail
    survives the tenant's deletion. The client address defaults to the current request's.
    """
    if actor is not None and not actor.is_authenticated:
        actor = None
    # Labels are stored in the default language, whatever language the actor is using.
    with translation.override(settings.LANGUAGE_CODE):
        target_label = str(target)[:300] if target is not None else ""
        tenant_label = str(tenant)[:300] if tenant is not None else ""
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=actor_label_for(actor) if actor is not None else SYSTEM_ACTOR,
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=target_label,
        partner=partner,
        tenant_id=tenant.pk if tenant is not None else None,
        tenant_label=tenant_label,
        details=details or {},
        client_address=client_address or current_client_address.get(),
        api_key=current_api_key.get() if actor is not None else None,
    )


def partner_enrolment_set(*, partner: Partner, enrolled: bool, actor: User) -> bool:
    """Enrol a partner in the cloud program, or remove it. Returns whether anything changed."""
    changed = (
        Partner.objects.filter(pk=partner.pk)
        .exclude(cloud_program_enrolled=enrolled)
        .update(cloud_program_enrolled=enrolled)
    )
    partner.cloud_program_enrolled = enrolled
    if changed:
        audit_log(
            action="partner.enrolled" if enrolled else "partner.unenrolled",
            actor=actor,
            target=partner,
            partner=partner,
        )
    return bool(changed)


def user_language_set(*, user: User, language: str) -> None:
    """The language a person picked in the header: their e-mails use it from now on, whatever
    the pages they read later."""
    if language not in dict(settings.LANGUAGES):
        return
    if user.language == language and user.language_chosen_at is not None:
        return
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(language=language, language_chosen_at=now)
    user.language, user.language_chosen_at = language, now
    audit_log(
        action="user.language_changed", actor=user, target=user, details={"language": language}
    )


def user_language_follow(*, user: User, language: str) -> bool:
    """A person who never picked a language gets their e-mails in the language of the pages they
    read: True when that changed it. A choice made meanwhile (another tab) wins: the UPDATE only
    touches an account still without one."""
    if (
        user.language_chosen_at is not None
        or user.language == language
        or language not in dict(settings.LANGUAGES)
    ):
        return False
    if not User.objects.filter(pk=user.pk, language_chosen_at__isnull=True).update(
        language=language
    ):
        return False
    previous, user.language = user.language, language
    audit_log(
        action="user.language_followed",
        actor=user,
        target=user,
        details={"language": language, "previous": previous},
    )
    return True


def _signin_counters(email: str, client_address: str | None) -> list[Counter]:
    counters = [
        # Per person, not per spelling: "TESS@…" and its look-alikes count against "tess@…".
        Counter(f"signin:account:{email_normalize(email)}", settings.SIGNIN_LIMIT_PER_ACCOUNT)
    ]
    if client_address:
        counters.append(Counter(f"signin:addr:{client_address}", settings.SIGNIN_LIMIT_PER_ADDRESS))
    return counters


def signin_attempt_start(*, email: str, client_address: str | None) -> Attempt:
    """Count a sign-in try before checking the password; `blocked` when past the limits."""
    return attempt_start(
        _signin_counters(email, client_address), timedelta(minutes=settings.SIGNIN_WINDOW_MINUTES)
    )


def signin_attempt_failed(*, attempt: Attempt, email: str, client_address: str | None) -> None:
    attempt_settle(
        attempt,
        failed=True,
        action="signin.limit_reached",
        client_address=client_address,
        details={"account": email_normalize(email)},
    )


def attempt_settle(
    attempt: Attempt,
    *,
    failed: bool,
    action: str,
    client_address: str | None,
    actor: User | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """End a counted try (portal.throttle.attempt_start): a failure stays counted, with the
    `action` audit event for each limit it has just reached; anything else is given back."""
    if failed:
        audit_limits_reached(
            action=action,
            counters=attempt.reached(),
            client_address=client_address,
            actor=actor,
            details=details,
        )
    else:
        attempt.refund()


def _email_link_counters(email: str, client_address: str | None) -> list[Counter]:
    counters = [
        Counter(
            f"emaillink:account:{email_normalize(email)}", settings.EMAIL_LINK_LIMIT_PER_ACCOUNT
        )
    ]
    if client_address:
        counters.append(
            Counter(f"emaillink:addr:{client_address}", settings.EMAIL_LINK_LIMIT_PER_ADDRESS)
        )
    return counters


def email_link_attempt_start(
    *, email: str, client_address: str | None, actor: User | None = None
) -> Attempt:
    """Count one link e-mail (password reset, activation resent) asked for this address.

    Every ask counts, whether or not an account uses the address: the limit then says nothing
    about which addresses have accounts. `blocked` when past a limit: send nothing.
    """
    attempt = attempt_start(
        _email_link_counters(email, client_address),
        timedelta(minutes=settings.EMAIL_LINK_WINDOW_MINUTES),
    )
    audit_limits_reached(
        action="email_link.limit_reached",
        counters=attempt.reached(),
        client_address=client_address,
        actor=actor,
        details={"account": email_normalize(email)},
    )
    return attempt


def audit_limits_reached(
    *,
    action: str,
    counters: list[Counter],
    client_address: str | None,
    actor: User | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One audit event for each guessing counter that has just reached its limit."""
    for counter in counters:
        audit_log(
            action=action,
            actor=actor,
            client_address=client_address,
            details={
                **(details or {}),
                "counter": counter.name.split(":")[1],
                "limit": counter.limit,
            },
        )
