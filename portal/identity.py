"""One identity per e-mail address (design, "E-mail"): normalized once, wherever it enters.

Comparing addresses "case-insensitively" in several places gave several answers: Python's
`lower()` keeps U+017F (long s) while PostgreSQL's `UPPER()` makes it `S`, and Django's
EmailValidator, a regular expression with IGNORECASE, accepts the long s, U+0131 (dotless i) and
U+212A (Kelvin sign) as letters of the part before the @. So "te\u017fs@…" escaped the sign-in
counter of "tess@…" yet signed in as that account, and "\u017fam0@…" could become a second
account next to "sam0@…". Now every address is stored, looked up and counted in one form,
`email_normalize`'s, and the part before the @ must be plain ASCII once normalized (the dotless i
has no ASCII form).
"""

import re
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Iterable

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils.translation import gettext_lazy as _

# What a normalized address looks like, as far as a database can tell: printable ASCII without
# capitals before the last @ (quoted local parts may hold an @), no ASCII capitals after it.
# The CHECK constraints use it, so a write that skips `email_normalize` fails instead of
# storing a second spelling of an address.
NORMALIZED_EMAIL_PATTERN = r"^[ -@\[-~]+@[^@A-Z]+$"


def email_normalize(value: str) -> str:
    """The one form of an address: NFKC, then casefold (long s to `s`, Kelvin sign to `k`, `ß`
    to `ss`, full-width letters to ASCII), without surrounding spaces.

    Repeated until nothing changes, and stripped last: NFKC can start a result with a space
    (`¨`) and casefolding can leave letters that NFKC composes further (Greek iota subscripts),
    and the form must not change when normalized again.
    """
    for _attempt in range(4):
        normalized = unicodedata.normalize("NFKC", value).casefold().strip()
        if normalized == value:
            break
        value = normalized
    return value


def validate_email_local_part(value: str) -> None:
    """Refuse a part before the @ that is not printable ASCII once normalized (dotless i, `é`)."""
    local = value.rpartition("@")[0]
    if not all(" " <= ch <= "~" for ch in local):
        raise ValidationError(
            _(
                "Before the @, use only unaccented Latin letters, digits and punctuation, for "
                "example “name@example.com”."
            ),
            code="invalid_local_part",
        )


class NormalizedEmailField(forms.EmailField):
    """A form's e-mail address, in its normalized form (validated after normalizing, so the
    length limit applies to what will be stored)."""

    default_validators = [validate_email, validate_email_local_part]

    def to_python(self, value):
        value = super().to_python(value)
        return email_normalize(value) if value else value


class NormalizedEmailModelField(models.EmailField):
    """An e-mail column that only holds normalized addresses.

    Normalizes on every write (`save()`, but also `update()` and `bulk_create()`, which skip
    `save()`) and in exact and `in` look-ups, so a caller that forgets to normalize can neither
    store a second spelling of an address nor miss the row of the first. Model forms (the
    admin's) get a `NormalizedEmailField`.
    """

    default_validators = [validate_email, validate_email_local_part]

    def to_python(self, value):
        # Model validation (`full_clean()`, `createsuperuser`) and fixtures see the stored form.
        value = super().to_python(value)
        return email_normalize(value) if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = email_normalize(value)
            setattr(model_instance, self.attname, value)
        return value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return email_normalize(value) if isinstance(value, str) else value

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": NormalizedEmailField, **kwargs})


def normalization_problems(rows: Iterable[tuple[Hashable, str]], *, unique: bool) -> list[str]:
    """For the data migrations that normalize stored addresses: what stops `rows` ((scope,
    address) pairs; the scope, if any, names where an address must be unique) from taking the
    normalized form. Look-alikes that become one address within a scope (when `unique`:
    accounts are never merged silently), and addresses with no usable normalized form (a
    dotless i before the @)."""
    by_form = defaultdict(list)
    for scope, address in rows:
        by_form[scope, email_normalize(address)].append(address)
    problems = []
    for (scope, form), addresses in by_form.items():
        where = f"{scope}: " if scope else ""
        if unique and len(addresses) > 1:
            named = " and ".join(f"“{address}”" for address in sorted(addresses))
            problems.append(f"{where}{named} would both become “{form}”")
        if not re.search(NORMALIZED_EMAIL_PATTERN, form):
            problems.extend(
                f"{where}“{address}” has no usable normalized form" for address in addresses
            )
    return sorted(problems)
