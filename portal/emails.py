"""E-mails: rendered from templates/emails/<name>_subject.txt, _body.txt and _body.html in the
recipient's language, and written to the outbox (django-post-office's Email table) in the
transaction of the change that causes them. portal.outbox delivers them from there."""

import re
from email.headerregistry import Address
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext
from post_office.models import PRIORITY, STATUS, Email
from post_office.settings import get_message_id_fqdn

from portal.elision import french_elision, french_elision_html
from portal.outbox import outbox_kick

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


def email_queue(*, template: str, to: list[str], language: str, context: dict) -> Email:
    """Write one e-mail to the outbox, in the caller's transaction; it is sent after commit.

    A rollback of the caller takes the e-mail with it (nothing is sent about a change that did not
    happen), and a commit keeps it even when the broker, the mail server or the worker is down.
    """
    with translation.override(language):
        sender = email_sender()
        context = {**context, "portal_url": settings.PORTAL_BASE_URL}
        # The .txt parts are plain text: rendered without HTML escaping ("text" engine).
        subject = render_to_string(f"emails/{template}_subject.txt", context, using="text")
        text = render_to_string(f"emails/{template}_body.txt", context, using="text")
        html = render_to_string(f"emails/{template}_body.html", context, using="django")
    if language == "fr":  # the names put into French sentences: "d'Adatum", not "de Adatum"
        subject, text, html = (
            french_elision(subject),
            french_elision(text),
            french_elision_html(html),
        )
    # Written directly rather than through post_office.mail.send, which renders the finished
    # subject and bodies once more as Django templates: a "{{" or "{%" typed in an organization
    # name would then be template code.
    email = Email.objects.create(
        from_email=sender,
        to=to,
        subject=header_line(subject),
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
    transaction.on_commit(outbox_kick, robust=True)
    return email
