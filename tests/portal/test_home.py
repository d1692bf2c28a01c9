from tests.second_factor import app_of, second_step


def test_it_sends_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_sends_partner_admins_to_the_partner_dashboard(client, partner_admin):
    client.force_login(partner_admin)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/partner/"


def test_it_sends_partner_agents_to_the_partner_dashboard(client, partner_agent):
    client.force_login(partner_agent)
    assert client.get("/")["Location"] == "/partner/"


def test_it_sends_staff_to_the_admin(client, staff):
    client.force_login(staff)
    assert client.get("/")["Location"] == "/admin/"


def test_it_tells_users_without_a_role_that_they_have_no_access(client, nobody):
    client.force_login(nobody)
    response = client.get("/")
    assert response.status_code == 403
    assert b"no access to the portal yet" in response.content


def test_it_keeps_people_without_a_partner_out_of_the_partner_dashboard(client, nobody, staff):
    client.force_login(nobody)
    assert client.get("/partner/").status_code == 403
    client.force_login(staff)
    assert client.get("/partner/").status_code == 403


def test_it_shows_the_partner_its_own_identity(client, partner_admin, other_partner_admin):
    client.force_login(other_partner_admin)
    response = client.get("/partner/")
    assert response.status_code == 200
    assert b"Fabrikam Resellers" in response.content
    assert b"Northwind" not in response.content


def test_it_signs_in_by_email_case_insensitively(client, partner_admin):
    app_of(partner_admin)
    response = client.post(
        "/accounts/login/",
        {"username": "Partner@Northwind.EXAMPLE", "password": "portal-demo"},
    )
    assert response.status_code == 302
    # The password step signed in Northwind's admin: next comes the code of their app.
    assert client.get("/")["Location"] == "/accounts/verify/?next=%2F"
    second_step(client, partner_admin)
    assert client.get("/")["Location"] == "/partner/"


def test_it_keeps_the_typed_email_after_a_wrong_password(client, partner_admin):
    response = client.post(
        "/accounts/login/", {"username": "partner@northwind.example", "password": "wrong"}
    )
    assert response.status_code == 200
    assert b'value="partner@northwind.example"' in response.content
    assert b"correct" in response.content  # Django's "Please enter a correct e-mail address…"


def test_it_serves_the_sign_in_page_in_french(client, db):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert b"Se connecter" in response.content


def test_the_language_switch_is_remembered_for_e_mails(client, partner_admin):
    from portal.models import AuditEvent

    client.force_login(partner_admin)
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "/partner/"})
    assert response.status_code == 302
    partner_admin.refresh_from_db()
    assert partner_admin.language == "fr"
    assert AuditEvent.objects.filter(action="user.language_changed").count() == 1
    assert "Présentation du partenaire" in client.get("/partner/").content.decode()
    client.post("/i18n/setlang/", {"language": "xx", "next": "/partner/"})
    partner_admin.refresh_from_db()
    assert partner_admin.language == "fr"


def test_the_audit_log_stores_labels_in_one_language(client, partner_admin, make_keys):
    from django.utils import translation

    from keys.models import KeyBatch
    from portal.models import AuditEvent
    from portal.services import audit_log

    make_keys(1)
    batch = KeyBatch.objects.get()
    with translation.override("fr"):
        audit_log(action="test", target=batch)
    assert AuditEvent.objects.get(action="test").target_label.startswith("Batch ")
