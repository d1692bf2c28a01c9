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
        {"action": "requeue", "_selected_action": [email.pk]},
    )
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.status == STATUS.queued
    assert outbox_deliver() == 1
    assert [m.to for m in mailoutbox] == [["megan@contoso.example"]]


def test_partner_users_do_not_see_the_outbox(client, partner_admin):
    client.force_login(partner_admin)
    response = client.get("/admin/post_office/email/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
