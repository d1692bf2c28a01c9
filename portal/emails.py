"""E-mails: rendered from templates/emails/<name>_subject.txt, _body.txt and _body.html in the
recipient's language, and sent by Celery tasks queued on commit."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation


def email_send(*, template: str, to: list[str], language: str, context: dict) -> None:
    with translation.override(language):
        context = {**context, "portal_url": settings.PORTAL_BASE_URL}
        subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
        text = render_to_string(f"emails/{template}_body.txt", context)
        html = render_to_string(f"emails/{template}_body.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(html, "text/html")
    message.send()
