"""E-mails: rendered from templates/emails/<name>_subject.txt, _body.txt and _body.html in the
recipient's language, and written to the outbox (django-post-office's Email table) in the
transaction of the change that causes them. portal.outbox delivers them from there.

`email_queue` writes one e-mail. `EmailBatch` writes a sweep's many (issue 20): the templates are
rendered once per shape — language and whatever else changes the words — with placeholders for
the per-recipient values (names, links), which are filled in per e-mail exactly as the template
engine would have written them, and the rows go in with one INSERT.
"""

import re
from collections.abc import Callable, Hashable, Mapping
from email.headerregistry import Address
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.translation import gettext
from post_office.models import PRIORITY, STATUS, Email
from post_office.settings import get_message_id_fqdn

from portal.elision import french_elision, french_elision_html
from portal.outbox import DELIVER_LIMIT, outbox_kick

# The sender's display name when DEFAULT_FROM_EMAIL has none or this one: it is then written in
# the recipient's language ("Portail des clés partenaires"). A different name configured by ops is
# a brand and is kept as it is.
PORTAL_NAME = "Partner Key Portal"


def email_sender() -> str:
    """DEFAULT_FROM_EMAIL with its display name in the active language; the address unchanged.

    Kept unencoded ("Portail des clés partenaires <no-reply@…>"): Django encodes the header when
    the message is built.
    """
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if not name or name == PORTAL_NAME:
        name = gettext("Partner Key Portal")
    return str(Address(display_name=name, addr_spec=address))


def header_line(text: str) -> str:
    """A subject on one line. Only ASCII white space is folded: the no-break spaces of French
    typography ("Compte créé\u00a0: …") are part of the text (str.split() would drop them)."""
    return re.sub(r"[ \t\r\n\f\v]+", " ", text).strip(" ")


def _render(template: str, language: str, context: dict) -> tuple[str, str, str, str]:
    """Sender, subject, text and HTML of an e-mail, in `language`, before French elision."""
    with translation.override(language):
        sender = email_sender()
        context = {**context, "portal_url": settings.PORTAL_BASE_URL}
        # The .txt parts are plain text: rendered without HTML escaping ("text" engine).
        subject = render_to_string(f"emails/{template}_subject.txt", context, using="text")
        text = render_to_string(f"emails/{template}_body.txt", context, using="text")
        html = render_to_string(f"emails/{template}_body.html", context, using="django")
    return sender, subject, text, html


def _finish(language: str, subject: str, text: str, html: str) -> tuple[str, str, str]:
    if language == "fr":  # the names put into French sentences: "d'Adatum", not "de Adatum"
        subject, text, html = (
            french_elision(subject),
            french_elision(text),
            french_elision_html(html),
        )
    return header_line(subject), text, html


def _email(*, sender: str, to: list[str], language: str, parts: tuple[str, str, str]) -> Email:
    subject, text, html = parts
    return Email(
        from_email=sender,
        to=to,
        subject=subject,
        message=text,
        html_message=html,
        # Tells mail programs (and their screen readers) which language the text is in.
        headers={"Content-Language": language},
        status=STATUS.queued,
        priority=PRIORITY.medium,
        # Fixed now, stored with the row: a copy sent again after a worker died mid-send carries
        # the same Message-ID, so mail systems can drop it.
        message_id=make_msgid(domain=get_message_id_fqdn()),
    )


def email_queue(*, template: str, to: list[str], language: str, context: dict) -> Email:
    """Write one e-mail to the outbox, in the caller's transaction; it is sent after commit.

    A rollback of the caller takes the e-mail with it (nothing is sent about a change that did not
    happen), and a commit keeps it even when the broker, the mail server or the worker is down.
    """
    sender, subject, text, html = _render(template, language, context)
    # Written directly rather than through post_office.mail.send, which renders the finished
    # subject and bodies once more as Django templates: a "{{" or "{%" typed in an organization
    # name would then be template code.
    email = _email(
        sender=sender, to=to, language=language, parts=_finish(language, subject, text, html)
    )
    email.save()  # post_office's save() validates the row first (full_clean)
    transaction.on_commit(outbox_kick, robust=True)
    return email


# --- Many e-mails of one template (a sweep's batch) --------------------------------------------

# A placeholder is a name between two characters of Unicode's private use area: no template or
# translation writes them, and HTML escaping leaves them alone.
_OPEN, _CLOSE = "\ue000", "\ue001"
_SLOT = re.compile(f"{_OPEN}([a-z_]+){_CLOSE}")


def slot(name: str) -> str:
    """Stands for a per-recipient value, `fill[name]`, in a template EmailBatch renders once."""
    return f"{_OPEN}{name}{_CLOSE}"


class FieldMissing(RuntimeError):
    """A batch's template read a field its context does not give (see Fields)."""


class Fields(dict):
    """An object as a batch's template sees it, e.g. Fields(name=slot("tenant_name")). Reading a
    field it does not give is an error rather than an empty string: the template changed, and the
    caller must give that field too (a value of the shape, or one more placeholder)."""

    def __missing__(self, key):
        raise FieldMissing(key)

    def __bool__(self) -> bool:
        return True  # an object, as the model instance it stands for ("{% if tenant %}")


def _pieces(rendered: str) -> list[str]:
    """The text split at its placeholders: literal, name, literal, … literal."""
    pieces = _SLOT.split(rendered)
    if any(_OPEN in piece or _CLOSE in piece for piece in pieces[::2]):
        # A filter changed a placeholder (|upper, |truncatechars…): it cannot be filled in.
        raise ValueError("a placeholder was altered by the template")
    return pieces


def _fill(pieces: list[str], values: Mapping[str, str]) -> str:
    filled = pieces.copy()
    for index in range(1, len(filled), 2):
        filled[index] = values[filled[index]]
    # One pass over the template's own text: a value is never searched for placeholders, so a
    # name that looks like one stays as it is.
    return "".join(filled)


class EmailBatch:
    """E-mails of one template to many recipients (a sweep), written to the outbox together.

    Each e-mail has a `shape`: everything its words depend on besides the language and `fill`
    (which branch of the template, the dates…). The first e-mail of a shape renders the
    templates with `context()`, where slot(name) stands for each per-recipient value; every
    e-mail of that shape is then that text with its own `fill` put in — escaped in the HTML
    part as the template engine escapes it, as it is in the plain-text parts — then given its
    French elision and its one-line subject, as `email_queue` does. The rendered shapes are kept
    for the batch's life (one sweep run); `queue()` writes what was added since the last call.
    """

    def __init__(self, template: str):
        self.template = template
        self._shapes: dict[Hashable, tuple[str, list[list[str]]]] = {}
        self._emails: list[Email] = []

    def add(
        self,
        *,
        to: str,
        language: str,
        shape: Hashable,
        context: Callable[[], dict],
        fill: Mapping[str, str],
    ) -> Email:
        """One more e-mail (written by `queue()`)."""
        rendered = self._shapes.get((language, shape))
        if rendered is None:
            sender, *parts = _render(self.template, language, context())
            rendered = self._shapes[language, shape] = (sender, [_pieces(p) for p in parts])
        sender, (subject, text, html) = rendered
        escaped = {name: conditional_escape(value) for name, value in fill.items()}
        parts = _finish(language, _fill(subject, fill), _fill(text, fill), _fill(html, escaped))
        email = _email(sender=sender, to=[to], language=language, parts=parts)
        self._emails.append(email)
        return email

    def queue(self) -> list[Email]:
        """Write the e-mails added since the last call with one INSERT, in the caller's
        transaction (sent after it commits, as `email_queue`'s); they are returned with their
        ids, in the order they were added.

        Unlike `email_queue` (Email.save), this skips post_office's full_clean, as its own
        send_many does: the addresses are the accounts', validated where they were entered,
        and PostgreSQL checks the lengths. (It would cost 36 µs an e-mail, a tenth of one.)"""
        emails, self._emails = self._emails, []
        if emails:
            Email.objects.bulk_create(emails)
            # As many deliveries as these e-mails need (a run sends DELIVER_LIMIT at most), as
            # `email_queue`'s one kick an e-mail would: the periodic pickup is for what the
            # broker lost, not the normal path.
            for _ in range(0, len(emails), DELIVER_LIMIT):
                transaction.on_commit(outbox_kick, robust=True)
        return emails
