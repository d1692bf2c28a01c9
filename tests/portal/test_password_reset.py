"""Password reset: the link goes through the outbox, in the person's language."""

from django.core import mail
from post_office.models import STATUS, Email

from portal.models import User
from portal.outbox import outbox_deliver

URL = "/accounts/password_reset/"


def ask(client, email="partner@northwind.example", address="198.51.100.3", **extra):
    return client.post(URL, {"email": email}, REMOTE_ADDR=address, **extra)


def test_it_queues_the_link_instead_of_sending_it_during_the_request(
    client, partner_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as kicks:
        response = ask(client)
        assert mail.outbox == []
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    email = Email.objects.get()
    assert (email.to, email.status) == (["partner@northwind.example"], STATUS.queued)
    assert "http://127.0.0.1:8000/accounts/reset/" in email.message  # PORTAL_BASE_URL
    assert len(kicks) == 1  # a worker is asked to deliver after commit
    outbox_deliver()
    assert mail.outbox[0].subject == "Choose a new password for the Partner Key Portal"


def test_it_writes_in_the_persons_language(client, partner_admin):
    User.objects.filter(pk=partner_admin.pk).update(language="fr")
    ask(client)  # the page itself is in English
    outbox_deliver()
    message = mail.outbox[0]
    assert message.subject == (
        "Choisissez un nouveau mot de passe pour le Portail des clés partenaires"
    )
    assert "Portail des clés partenaires" in message.body


def test_it_says_the_link_is_on_its_way_while_the_mail_server_is_down(
    client, partner_admin, settings, django_capture_on_commit_callbacks
):
    # Django's SMTP backend, at a port where nothing listens: a real refused connection.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    with django_capture_on_commit_callbacks(execute=True):  # the delivery runs and fails
        response = ask(client, follow=True)
    assert response.status_code == 200
    assert b"Check your e-mail" in response.content
    email = Email.objects.get()
    assert (email.status, email.number_of_retries) == (STATUS.requeued, 1)
    assert email.scheduled_time is not None
    assert mail.outbox == []


def test_it_answers_the_same_for_an_address_without_an_account(client, partner_admin):
    known = ask(client)
    unknown = ask(client, email="nobody-here@example.com")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert list(Email.objects.values_list("to", flat=True)) == [["partner@northwind.example"]]
