from django import template
from django.forms import BaseFormSet
from django.template import defaulttags
from django.utils.translation import gettext as _

register = template.Library()


@register.inclusion_tag("portal/error_summary.html")
def error_summary(form):
    """The errors of a form (or of a formset and its rows) at the top of the page, each linked to
    its field, so that a person using a screen reader or a magnifier learns what went wrong
    before reading the whole form again."""
    errors = []
    if isinstance(form, BaseFormSet):
        errors += [{"message": message} for message in form.non_form_errors()]
        several = len(form.forms) > 1
        for number, row in enumerate(form.forms, start=1):
            errors += _form_errors(row, number if several else None)
    elif form is not None:
        errors += _form_errors(form, None)
    return {"errors": errors}


def _form_errors(form, number: int | None) -> list[dict]:
    errors = [{"message": message} for message in form.non_field_errors()]
    for field in form:
        if not field.errors:
            continue
        label = field.label
        if number is not None:
            label = _("%(label)s, line %(number)d") % {"label": label, "number": number}
        for message in field.errors:
            if field.is_hidden:
                errors.append({"message": message})
            else:
                # A group of checkboxes or radios has no single id: link to its first box.
                target = field.id_for_label or (field.auto_id and f"{field.auto_id}_0")
                errors.append({"id": target, "label": label, "message": message})
    return errors


@register.simple_tag(takes_context=True)
def page_query(context, parameter: str, number: int) -> str:
    """The current query with `parameter` set to page `number` and every other parameter kept
    (another list's page, filters): Django's `{% querystring %}` for a parameter whose name is
    in a variable, as when one include turns the pages of two lists."""
    return defaulttags.querystring(context, **{parameter: number})
