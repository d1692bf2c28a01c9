"""Add users from a file (issue 16): upload a CSV, see every line with its problems, then add
them all or none; large files through a worker with a progress bar; the same for a partner
acting under a relationship that allows managing users."""

import datetime
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from post_office.models import Email

from portal.models import AuditEvent, User
from tenants.access import Capacity, TenantAccess
from tenants.models import ActivityLog, License, TenantUser, UserImport
from tenants.services import user_imports
from tenants.services.user_imports import (
    UserImportFileError,
    user_import_create,
    user_import_lines,
    user_import_read,
    user_import_start,
)
from tests.factories import DelegationRelationshipFactory, ProductFactory, SubscriptionFactory

HEADER = ["first name", "last name", "user name", "contact e-mail", "language", "products"]


def people(count: int, products: str = "BUS-STD") -> list[list[str]]:
    return [
        [f"First{n}", f"Last{n}", f"user{n}", f"user{n}@contoso.example", "en", products]
        for n in range(1, count + 1)
    ]


def csv_file(rows, header=HEADER, sep=",", bom=False, name="users.csv") -> SimpleUploadedFile:
    def cell(value):
        return f'"{value}"' if sep in value else value

    text = "\r\n".join(sep.join(cell(c) for c in row) for row in [header, *rows]) + "\r\n"
    return SimpleUploadedFile(name, (("\ufeff" if bom else "") + text).encode(), "text/csv")


@pytest.fixture
def seats(contoso):
    """Business Standard with 60 seats (Megan has one), Business Premium with 1 free seat."""
    today = timezone.localdate()
    dates = {"start_date": today - datetime.timedelta(days=10), "end_date": today.replace(
        year=today.year + 1)}  # fmt: skip
    megan = TenantUser.objects.get(tenant=contoso, is_admin=True)
    standard = SubscriptionFactory(tenant=contoso, seats=60, **dates)
    premium = SubscriptionFactory(
        tenant=contoso, seats=1, product=ProductFactory(sku="BUS-PREM", name="Business Premium"),
        **dates,
    )  # fmt: skip
    License.objects.create(subscription=standard, tenant_user=megan)
    return {"standard": standard, "premium": premium, "megan": megan}


@pytest.fixture
def admin_client(client, contoso_admin):
    client.force_login(contoso_admin)
    return client


def upload(client, file, base="/customer/users/import/"):
    response = client.post(base, {"file": file})
    assert response.status_code == 302, response.context["form"].errors
    return response["Location"]


def test_fifty_users_with_two_bad_lines_are_refused_naming_both_then_added_when_fixed(
    admin_client, seats
):
    rows = people(50)
    rows[10][3] = "not-an-address"  # line 12 (the header is line 1)
    rows[28][2] = "user5"  # line 30: the user name of line 6
    preview = upload(admin_client, csv_file(rows))
    page = admin_client.get(preview)
    bad = {line.number: line.problems for line in page.context["bad"]}
    assert bad == {
        12: ["not-an-address is not a valid e-mail address."],
        30: ["The user name user5 is also on line 6."],
    }
    content = page.content.decode()
    assert "2 lines have a problem. Nothing was added." in content
    assert 'href="#line-12"' in content and 'href="#line-30"' in content
    assert 'data-testid="import-add"' not in content
    # Posting anyway (a stale page) adds nobody.
    admin_client.post(preview)
    assert TenantUser.objects.count() == 1

    rows[10][3], rows[28][2] = "user11@contoso.example", "user29"
    Email.objects.all().delete()
    preview = upload(admin_client, csv_file(rows))
    page = admin_client.get(preview)
    assert page.context["bad"] == []
    assert "Add 50 users" in page.content.decode()
    response = admin_client.post(preview, follow=True)
    assert response.redirect_chain[-1][0] == "/customer/users/"
    assert "50 users were added. Each one gets an activation e-mail." in response.content.decode()
    assert TenantUser.objects.filter(tenant=seats["megan"].tenant).count() == 51
    assert License.objects.filter(subscription=seats["standard"]).count() == 51
    assert Email.objects.count() == 50
    assert AuditEvent.objects.filter(action="tenant_user.created").count() == 50
    done = UserImport.objects.get(pk=preview.rstrip("/").rsplit("/", 1)[1])
    assert (done.state, done.total, done.rows) == ("succeeded", 50, [])
    # A second click (or the back button) adds nobody twice.
    admin_client.post(preview)
    assert TenantUser.objects.count() == 51


def test_it_reads_what_french_excel_writes_semicolons_a_bom_and_french_headers(admin_client, seats):
    header = ["Prénom", "Nom", "Nom d’utilisateur", "Adresse e-mail de contact", "Langue",
              "Produits"]  # fmt: skip
    rows = [
        ["Élodie", "Süß", "elodie", "elodie@contoso.example", "FR", "Business Standard;BUS-PREM"],
        ["Noé", "Lefèvre", "noe", "noe@contoso.example", "fr", ""],
    ]
    preview = upload(admin_client, csv_file(rows, header=header, sep=";", bom=True))
    page = admin_client.get(preview)
    assert page.context["bad"] == []
    assert page.context["lines"][0].products == ["Business Standard", "Business Premium"]
    admin_client.post(preview)
    elodie = TenantUser.objects.get(username="elodie")
    assert (elodie.first_name, elodie.last_name, elodie.user.language) == ("Élodie", "Süß", "fr")
    assert elodie.licenses.count() == 2


def test_products_left_unquoted_in_a_semicolon_file_are_still_products():
    data = (
        b"first name;last name;user name;contact e-mail;language;products\n"
        b"Ann;Lee;ann;ann@contoso.example;en;BUS-STD;BUS-PREM\n"
    )
    (row,) = user_import_read(data)
    assert row["products"] == ["BUS-STD", "BUS-PREM"]
    assert row["line"] == 2


def test_every_kind_of_bad_line_is_numbered_and_explained(admin_client, seats, alex):
    rows = [
        ["Ann", "Lee", "ann", "ann@contoso.example", "en", "BUS-PREM"],  # 2: takes the seat
        ["Bo", "Ng", "bo", "ANN@contoso.example", "en", ""],  # 3: same address as line 2
        ["Cy", "Ro", "megan", "cy@contoso.example", "en", ""],  # 4: existing user name
        ["Di", "Po", "di", "alex@contoso.example", "en", ""],  # 5: existing address
        ["Ed", "Wu", "-ed", "ed@contoso.example", "en", ""],  # 6: bad user name
        ["Fa", "Yu", "fa", "fa@contoso.example", "en", "Visio"],  # 7: unknown product
        ["Gu", "Xi", "gu", "gu@contoso.example", "en", "BUS-PREM"],  # 8: no seat left
        ["Hu", "Oz", "hu", "hu@contoso.example", "de", ""],  # 9: language
        ["", "Pi", "", "iv@contoso.example", "", ""],  # 10: missing cells
        ["Jo", "Ka", "jo", "jo@contoso", "en", ""],  # 11: bad address
    ]
    page = admin_client.get(upload(admin_client, csv_file(rows)))
    bad = {line.number: " ".join(line.problems) for line in page.context["bad"]}
    assert sorted(bad) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert bad[3] == "The e-mail address ann@contoso.example is also on line 2."
    assert bad[4] == "megan@contoso.cloudsuite.example is already taken."
    assert bad[5] == "An account already uses this e-mail address. Enter another address."
    assert "starts and ends with a letter or a digit" in bad[6]
    assert bad[7] == "Visio is not a product of your organization’s subscriptions."
    assert bad[8] == (
        "No seat left for this user: the file asks for 2 licenses of Business Premium and 1 "
        "seats are free."
    )
    assert bad[9] == "The language is “de”: write en or fr."
    assert bad[10] == "Missing: first name, user name, language."
    assert bad[11] == "jo@contoso is not a valid e-mail address."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file is empty."),
        (b"\xff\xfe\x00n\x00a\x00m\x00e", "This is not a CSV file in UTF-8."),
        (b"name,email\nAnn,ann@x.example\n", "missing: first name, last name, user name"),
        (b"first name,last name,user name,contact e-mail,language\n", "no user below its header"),
        (b'first name,last name,user name,contact e-mail,language\n"Ann,Lee\n', "not valid CSV"),
    ],
)
def test_a_file_it_cannot_read_is_refused_as_a_whole(admin_client, seats, data, message):
    response = admin_client.post(
        "/customer/users/import/", {"file": SimpleUploadedFile("u.csv", data)}
    )
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])
    assert not UserImport.objects.exists()


def test_it_limits_the_size_and_the_number_of_users(admin_client, seats, monkeypatch):
    monkeypatch.setattr(user_imports, "MAX_ROWS", 3)
    response = admin_client.post("/customer/users/import/", {"file": csv_file(people(4))})
    assert "more than 3 users" in " ".join(response.context["form"].errors["file"])
    monkeypatch.setattr(user_imports, "MAX_FILE_BYTES", 100)
    with pytest.raises(UserImportFileError, match="larger than 100"):
        user_import_read(b"x" * 101)


def test_the_template_is_in_the_readers_language_and_separator(admin_client, seats):
    english = admin_client.get("/customer/users/import/template.csv")
    assert english["Content-Type"] == "text/csv; charset=utf-8"
    assert english.content.decode() == (
        "\ufefffirst name,last name,user name,contact e-mail,language,products\r\n"
    )
    french = admin_client.get(
        "/customer/users/import/template.csv", headers={"accept-language": "fr"}
    )
    assert french.content.decode().count(";") == 5
    (row,) = user_import_read(french.content + b"Ann;Lee;ann;ann@contoso.example;fr;\n")
    assert row["username"] == "ann"


def test_a_partner_under_a_relationship_adds_users_and_the_activity_log_says_so(
    client, partner_admin, northwind, contoso, seats
):
    DelegationRelationshipFactory(
        partner=northwind, tenant=contoso, roles=["user_admin", "license_admin"]
    )
    client.force_login(partner_admin)
    base = f"/partner/customers/{contoso.pk}/users/import/"
    preview = upload(client, csv_file(people(3)), base=base)
    assert preview.startswith(base)
    response = client.post(preview)
    assert response["Location"] == f"/partner/customers/{contoso.pk}/users/"
    assert ActivityLog.objects.filter(action="tenant_user.created").count() == 3
    assert ActivityLog.objects.filter(action="license.assigned").count() == 3
    email = Email.objects.get(to=["user1@contoso.example"])
    assert "partner@northwind.example (Northwind Partners) added you to Contoso" in email.message


def test_a_user_administrator_without_licenses_cannot_give_licenses_from_a_file(
    client, partner_admin, northwind, contoso, seats
):
    DelegationRelationshipFactory(partner=northwind, tenant=contoso, roles=["user_admin"])
    client.force_login(partner_admin)
    base = f"/partner/customers/{contoso.pk}/users/import/"
    assert "Business Standard" not in client.get(base).content.decode()
    template = client.get(base + "template.csv").content.decode()
    assert "products" not in template
    page = client.get(upload(client, csv_file(people(2)), base=base))
    assert [line.number for line in page.context["bad"]] == [2, 3]
    assert "You may not assign licenses here" in page.content.decode()
    page = client.get(upload(client, csv_file(people(2, products="")), base=base))
    assert page.context["bad"] == []


def test_a_large_file_is_added_by_a_worker_with_its_progress(
    admin_client, seats, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(user_imports, "BACKGROUND_ROWS", 3)
    preview = upload(admin_client, csv_file(people(5)))
    user_import = UserImport.objects.get()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client.post(preview)
    assert response["Location"] == preview  # the progress page
    user_import.refresh_from_db()
    assert user_import.state == "queued"
    page = admin_client.get(preview).content.decode()
    assert 'id="user-import"' in page and "0 of 5 users added (0%)." in page
    progress = admin_client.get(preview + "progress/").json()
    assert progress == {
        "state": "queued", "finished": False, "done": 0, "total": 5,
        "text": "0 of 5 users added (0%).",
    }  # fmt: skip
    for callback in queued:  # the broker hands the task to a worker (eager in the tests)
        callback()
    user_import.refresh_from_db()
    assert user_import.state == "succeeded"
    assert TenantUser.objects.count() == 6
    assert admin_client.get(preview + "progress/").json()["finished"] is True
    page = admin_client.get(preview).content.decode()
    assert "5 users were added." in page


def test_the_worker_checks_the_access_again(
    client, partner_admin, northwind, contoso, seats, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    monkeypatch.setattr(user_imports, "BACKGROUND_ROWS", 1)
    relationship = DelegationRelationshipFactory(
        partner=northwind, tenant=contoso, roles=["user_admin", "license_admin"]
    )
    client.force_login(partner_admin)
    preview = upload(
        client, csv_file(people(2)), base=f"/partner/customers/{contoso.pk}/users/import/"
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(preview)
    relationship.state = "terminated"
    relationship.save()
    for callback in queued:
        callback()
    user_import = UserImport.objects.get()
    assert (user_import.state, user_import.error) == ("failed", "access_ended")
    assert TenantUser.objects.count() == 1


def test_a_seat_taken_after_the_preview_sends_back_to_the_preview(admin_client, seats, alex):
    preview = upload(admin_client, csv_file(people(1, products="BUS-PREM")))
    License.objects.create(subscription=seats["premium"], tenant_user=alex)
    response = admin_client.post(preview, follow=True)
    content = response.content.decode()
    assert "Something changed since the preview" in content
    assert "No seat left for this user" in content
    assert not TenantUser.objects.filter(username="user1").exists()
    assert UserImport.objects.get().state == "preview"


@pytest.mark.postgres
def test_two_imports_racing_for_the_last_seats_cannot_exceed_them(transactional_db, seats):
    """Two admins add a file each, both asking for Business Premium's one free seat, at the same
    moment: the tenant's lock makes them take turns; the second is sent back to its preview."""
    megan = seats["megan"]
    tenant = megan.tenant
    other = User.objects.create_user("nestor@contoso.example", "x")
    nestor = TenantUser.objects.create(
        tenant=tenant, user=other, first_name="N", last_name="W", email=other.email,
        username="nestor", is_admin=True,
    )  # fmt: skip
    accesses = [
        TenantAccess(user=a.user, tenant=tenant, capacity=Capacity.TENANT_ADMIN, tenant_user=a)
        for a in (megan, nestor)
    ]
    imports = [
        user_import_create(
            access=access,
            data=csv_file(
                [[f"P{n}", "Q", f"p{n}", f"p{n}@contoso.example", "en", "BUS-PREM"]]
            ).read(),
        )
        for n, access in enumerate(accesses)
    ]
    for user_import, access in zip(imports, accesses, strict=True):
        assert not any(line.problems for line in user_import_lines(user_import=user_import,
                                                                    access=access))  # fmt: skip
    barrier = threading.Barrier(2)
    states, failures = [], []

    def race(user_import, access):
        try:
            barrier.wait(timeout=30)
            states.append(user_import_start(access=access, user_import=user_import).state)
        except Exception as error:  # any exception is a failure of the test
            failures.append(repr(error))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=race, args=pair) for pair in zip(imports, accesses, strict=False)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sorted(states) == ["preview", "succeeded"]
    assert License.objects.filter(subscription=seats["premium"]).count() == 1
    assert TenantUser.objects.filter(username__in=["p0", "p1"]).count() == 1


# --- The sweep (the process that was adding the users died; the broker lost the message) -----


def _import(contoso, contoso_admin) -> UserImport:
    from tenants.access import customer_access

    return user_import_create(
        access=customer_access(contoso_admin), data=csv_file(people(2)).read()
    )


def test_the_sweep_returns_a_dead_import_to_its_preview(seats, contoso, contoso_admin, settings):
    from tenants.services.user_imports import user_imports_sweep

    user_import = _import(contoso, contoso_admin)
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 61)
    UserImport.objects.filter(pk=user_import.pk).update(
        state=UserImport.State.RUNNING, started_at=long_ago, done=1
    )
    assert user_imports_sweep()["lost"] == 1
    user_import.refresh_from_db()
    assert user_import.state == UserImport.State.PREVIEW and user_import.done == 0
    assert user_import.error == UserImport.Error.UNEXPECTED  # the page says so; confirm again
    assert AuditEvent.objects.filter(action="user_import.lost").count() == 1
    assert user_imports_sweep()["lost"] == 0  # once


def test_the_sweep_queues_again_an_import_the_broker_lost(seats, contoso, contoso_admin):
    from tenants.services.user_imports import user_imports_sweep

    user_import = _import(contoso, contoso_admin)
    UserImport.objects.filter(pk=user_import.pk).update(
        state=UserImport.State.QUEUED,
        started_at=timezone.now() - datetime.timedelta(minutes=11),
    )
    assert user_imports_sweep()["requeued"] == 1  # tests run the task at once: it adds them
    user_import.refresh_from_db()
    assert user_import.state == UserImport.State.SUCCEEDED
    assert TenantUser.objects.filter(tenant=contoso, username__in=["user1", "user2"]).count() == 2


def test_the_sweep_deletes_week_old_unconfirmed_imports(seats, contoso, contoso_admin):
    from tenants.services.user_imports import user_imports_sweep

    old, fresh = _import(contoso, contoso_admin), _import(contoso, contoso_admin)
    UserImport.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=8)
    )
    assert user_imports_sweep()["deleted"] == 1
    assert list(UserImport.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert AuditEvent.objects.filter(action="user_import.deleted").count() == 1
