"""Ops see the outbox in the admin (post_office's own pages) and requeue what failed."""

from post_office.models import STATUS, Email

from portal.emails import email_queue
from portal.outbox import outbox_deliver


def failed_email():
    email = email_queue(
        template="password_reset",
        to=["megan@contoso.example"],
        language="en",
        context={"url": "http://127.0.0.1:8000/x/"},
    )
    Email.objects.filter(pk=email.pk).update(status=STATUS.failed, number_of_retries=21)
    return email


def test_it_lists_the_emails_with_their_status(client, staff):
    email = failed_email()
    client.force_login(staff)
    page = client.get("/admin/post_office/email/?status__exact=1")
    assert page.status_code == 200
    assert b"megan@contoso.example" in page.content
    detail = client.get(f"/admin/post_office/email/{email.pk}/change/")
    assert detail.status_code == 200
    assert b"Choose a new password for the Partner Key Portal" in detail.content


def test_ops_requeue_a_failed_email_and_the_next_run_sends_it(client, staff, mailoutbox):
    email = failed_email()
    client.force_login(staff)
    response = client.post(
        "/admin/post_office/email/",
        {"action": "outbox_requeue_action", "_selected_action": [email.pk]},
    )
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.status == STATUS.requeued
    assert outbox_deliver() == 1
    assert [m.to for m in mailoutbox] == [["megan@contoso.example"]]


def test_partner_users_do_not_see_the_outbox(client, partner_admin):
    client.force_login(partner_admin)
    response = client.get("/admin/post_office/email/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_requeue_action_gives_a_new_series_of_tries_and_is_audited(client, staff):
    from portal.models import AuditEvent

    email = failed_email()
    client.force_login(staff)
    client.post(
        "/admin/post_office/email/",
        {"action": "outbox_requeue_action", "_selected_action": [email.pk]},
    )
    email.refresh_from_db()
    assert (email.status, email.number_of_retries) == (STATUS.requeued, 0)
    event = AuditEvent.objects.get(action="outbox.requeued")
    assert (event.actor, event.details) == (staff, {"status_was": "failed"})


def test_resend_asks_first_and_then_queues_instead_of_sending_from_the_page(
    client, staff, mailoutbox, django_capture_on_commit_callbacks
):
    email = failed_email()
    Email.objects.filter(pk=email.pk).update(status=STATUS.sent)
    client.force_login(staff)
    url = f"/admin/post_office/email/{email.pk}/resend/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"Send this e-mail again?" in page.content
    email.refresh_from_db()
    assert email.status == STATUS.sent and mailoutbox == []  # a GET changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.status == STATUS.sent  # sent again by the outbox (tests run tasks eagerly)
    assert [m.to for m in mailoutbox] == [["megan@contoso.example"]]


def test_partner_users_cannot_resend(client, partner_admin):
    email = failed_email()
    client.force_login(partner_admin)
    response = client.post(f"/admin/post_office/email/{email.pk}/resend/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    email.refresh_from_db()
    assert email.status == STATUS.failed
