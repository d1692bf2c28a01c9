"""Password reset: the link goes through the outbox, in the person's language, under limits."""

import time_machine
from django.core import mail
from post_office.models import STATUS, Email

from portal.models import AuditEvent, User
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


def test_it_refuses_a_sixth_link_for_one_account_in_the_window(client, partner_admin):
    with time_machine.travel("2026-11-25 09:00:00Z", tick=False):
        for n in range(5):
            assert ask(client, address=f"198.51.100.{n + 10}").status_code == 302
    with time_machine.travel("2026-11-25 09:20:00Z", tick=False):
        blocked = ask(client, address="203.0.113.1")
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == str(40 * 60)
    assert b"You can ask again at 10:00 UTC" in blocked.content
    assert Email.objects.count() == 5
    event = AuditEvent.objects.get(action="email_link.limit_reached")
    assert event.details == {
        "account": "partner@northwind.example",
        "counter": "account",
        "limit": 5,
    }
    with time_machine.travel("2026-11-25 10:00:01Z", tick=False):
        assert ask(client).status_code == 302


def test_it_refuses_more_links_from_one_client_address(client, partner_admin):
    for n in range(20):
        ask(client, email=f"someone{n}@example.com")
    assert ask(client).status_code == 429
    assert not Email.objects.exists()  # none of the 20 had an account; the 21st was refused
    assert AuditEvent.objects.filter(
        action="email_link.limit_reached", details__counter="addr"
    ).exists()


def test_it_limits_addresses_without_an_account_the_same_way(client, db):
    for _ in range(5):
        assert ask(client, email="nobody-here@example.com").status_code == 302
    assert ask(client, email="nobody-here@example.com").status_code == 429


def test_it_explains_the_limit_in_french(client, partner_admin):
    for _ in range(5):
        ask(client)
    blocked = ask(client, HTTP_ACCEPT_LANGUAGE="fr")
    assert blocked.status_code == 429
    assert "Trop d’e-mails demandés".encode() in blocked.content
    assert b"Vous pourrez redemander" in blocked.content
