from django import template
from django.templatetags.static import static
from django.utils.html import format_html, json_script
from django.utils.translation import gettext as _

from keys.codec import MESSAGES
from keys.services.lookup import character_hint

register = template.Library()


@register.simple_tag
def key_input_assets():
    """The key-input script and its messages, translated on the server (one source of text)."""
    messages = {name: _(text) for name, text in MESSAGES.items()}
    messages["character_hint"] = character_hint()
    messages["looks_right"] = _("The characters look right.")
    messages["progress"] = _("%(length)d of 25 characters")
    return format_html(
        '{}<script src="{}"></script>',
        json_script(messages, "key-messages"),
        static("keys/key_input.js"),
    )


@register.simple_tag
def resume_url(redemption) -> str:
    """Where Resume opens a draft (its `active_lines` prefetched: with_active_lines)."""
    return redemption.resume_url(holds_keys=bool(redemption.active_lines))


@register.simple_tag
def resume_step_label(redemption) -> str:
    step = redemption.resume_step(holds_keys=bool(redemption.active_lines))
    if step >= redemption.Step.GETTING_STARTED and getattr(redemption, "target", None):
        # An existing customer's confirmed keys wait on what they change, not on step 2.
        return _("Check what changes")
    return redemption.Step(step).label


@register.simple_tag
def redemption_name(redemption) -> str:
    """A redemption in progress by what the partner typed: the organization named in step 2,
    else the customer it is for, else its first product; its number only when it has none.

    Reads only what the list loaded: `active_lines` (with_active_lines) and the customer
    (select_related("target__tenant"), tenants' RedemptionTarget, followed by name)."""
    name = str((redemption.customer_details or {}).get("name", "")).strip()
    if name:
        return name
    target = getattr(redemption, "target", None)
    if target is not None:
        return target.tenant.name
    if redemption.active_lines:
        return redemption.active_lines[0].product_key.batch.product.name
    return str(redemption)
