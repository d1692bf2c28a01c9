"""What the audit log's codes mean, in the reader's language.

The log stores stable codes (`key.redeemed`, `keys.KeyBatch`): scripts, searches and the trail
of past years rely on them not changing. People read the labels below instead. Every action the
code writes has its label here; tests/portal/test_audit_labels.py reads the code to check it.
"""

from django.apps import apps
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    # keys
    "key_batch.generated": _("Key batch generated"),
    "key_batch.imported": _("Key batch imported"),
    "key.revoked": _("Key revoked"),
    "key.reserved": _("Key reserved"),
    "key.released": _("Key removed from a redemption"),
    "key.reservation_released": _("Key reservation ran out"),
    "key.redeemed": _("Key redeemed"),
    "key.guess_limit_reached": _("Key look-up limit reached"),
    "key_job.queued": _("Key job queued"),
    "key_job.started": _("Key job started"),
    "key_job.succeeded": _("Key job finished"),
    "key_job.failed": _("Key job failed"),
    "key_job.downloaded": _("Generated keys downloaded"),
    "key_job.download_expired": _("Generated keys deleted undownloaded"),
    "redemption.started": _("Redemption started"),
    "redemption.keys_confirmed": _("Product keys confirmed"),
    "redemption.cancelled": _("Redemption discarded"),
    "redemption.completed": _("Redemption completed"),
    # tenants
    "tenant.created": _("Customer account created"),
    "subscription.created": _("Subscription created"),
    "subscription.key_added": _("Key added to a subscription"),
    "subscription.licenses_added": _("Licenses added"),
    "subscription.renewed": _("Subscription renewed"),
    "subscription.expired": _("Subscription expired"),
    "subscription.disabled": _("Subscription disabled"),
    "subscription.deleted": _("Subscription deleted"),
    "subscription.direct_billing": _("Subscription switched to direct billing"),
    "tenant_user.created": _("Customer user created"),
    "tenant_user.activated": _("Customer user activated"),
    "tenant_user.activation_resent": _("Activation e-mail sent again"),
    "tenant_user.activation_renewed": _("New activation link asked for"),
    "tenant_user.changed": _("Customer user changed"),
    "tenant_user.removed": _("Customer user removed"),
    "subscription.partner_of_record_set": _("Partner of record set"),
    "subscription.partner_of_record_removed": _("Partner of record removed"),
    "license.assigned": _("License assigned"),
    "license.unassigned": _("License unassigned"),
    "delegation_offer.sent": _("Delegated admin offer sent"),
    "delegation_offer.resent": _("Delegated admin offer e-mailed again"),
    "delegation_offer.withdrawn": _("Delegated admin offer withdrawn"),
    "delegation_offer.accepted": _("Delegated admin offer accepted"),
    "delegation_offer.declined": _("Delegated admin offer declined"),
    "delegation_offer.expired": _("Delegated admin offer expired"),
    "delegation_relationship.extended": _("Delegated admin relationship extended"),
    "delegation_relationship.expired": _("Delegated admin relationship expired"),
    "delegation_relationship.terminated": _("Delegated admin relationship ended"),
    "delegation_relationship.replaced": _("Delegated admin relationship replaced by a new offer"),
    # portal
    "partner.enrolled": _("Enrolled in the cloud program"),
    "partner.unenrolled": _("Removed from the cloud program"),
    "partner.lookup_limit_reached": _("Partner ID look-up limit reached"),
    "user.language_changed": _("Language changed"),
    "user.language_followed": _("E-mail language follows the pages read"),
    "user_import.lost": _("Import of users stopped (its process died)"),
    "user_import.deleted": _("Unconfirmed import of users deleted"),
    "signin.limit_reached": _("Sign-in limit reached"),
    "email_link.limit_reached": _("E-mail link limit reached"),
    # the second factor
    "mfa.factor_added": _("Second factor added"),
    "mfa.factor_removed": _("Second factor removed"),
    "mfa.passkey_renamed": _("Passkey renamed"),
    "mfa.recovery_codes_generated": _("Recovery codes made"),
    "mfa.recovery_code_used": _("Recovery code used to sign in"),
    "mfa.factors_reset": _("Second factors removed for a new enrolment"),
    "mfa.limit_reached": _("Second-factor code limit reached"),
    # the REST API
    "api_key.created": _("API key created"),
    "api_key.revoked": _("API key revoked"),
    "webhook_endpoint.created": _("Webhook endpoint added"),
    "webhook_endpoint.changed": _("Webhook endpoint changed"),
    "webhook_endpoint.secret_rotated": _("Webhook signing secret replaced"),
    "webhook_endpoint.enabled": _("Webhook endpoint enabled"),
    "webhook_endpoint.disabled": _("Webhook endpoint disabled"),
    "webhook_endpoint.deleted": _("Webhook endpoint deleted"),
    "webhook_endpoint.tested": _("Webhook test event sent"),
    "webhook_delivery.resent": _("Webhook sent again"),
    "outbox.cleaned": _("Sent e-mails deleted from the outbox"),
    "outbox.requeued": _("E-mail queued again"),
}

# portal.admin.AuditedAdmin writes `admin.<app>.<model>.<verb>` for every change made in the admin.
ADMIN_VERB_LABELS = {
    "added": _("Added in the admin"),
    "changed": _("Changed in the admin"),
    "deleted": _("Deleted in the admin"),
}


def _model_name(target_type: str) -> str | None:
    try:
        return str(apps.get_model(target_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return None


def target_type_label(target_type: str) -> str:
    """`keys.KeyBatch` -> "Key batch" ("Lot de clés"): the model's own name for itself."""
    name = _model_name(target_type) if target_type else ""
    # A model since removed: its code still says something.
    return target_type if name is None else capfirst(name)


def action_label(action: str) -> str:
    """`key.redeemed` -> "Key redeemed" ("Clé récupérée"); an unknown code is shown as it is."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    prefix, _dot, rest = action.partition(".")
    model, _dot, verb = rest.rpartition(".")
    if prefix == "admin" and model and verb in ADMIN_VERB_LABELS:
        return gettext("%(change)s: %(model)s") % {
            "change": ADMIN_VERB_LABELS[verb],
            "model": _model_name(model) or model,
        }
    return action


def actions_matching(text: str) -> list[str]:
    """The codes whose label contains `text` (in the active language), for the admin's search."""
    text = text.strip().casefold()
    if not text:
        return []
    return [code for code, label in ACTION_LABELS.items() if text in str(label).casefold()]
