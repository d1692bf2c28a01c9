import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from keys.codec import format_key, generate_key, validate_key
from keys.models import KeyBatch, KeyJob, ProductKey
from keys.services import key_digest
from portal.models import AuditEvent
from tests.helpers import generate_form, stored_digests, xlsx_bytes


def upload(name, content: str):
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def test_ops_import_a_file_from_the_admin(client, staff, products, northwind):
    client.force_login(staff)
    keys = [generate_key() for _ in range(3)]
    response = client.post(
        "/admin/keys/keybatch/import/",
        {
            "product": products["BUS-STD"].pk,
            "seats_per_key": 2,
            "partner": northwind.pk,
            "note": "distributor order 42",
            "file": upload("order42.csv", "key\n" + "\n".join(map(format_key, keys))),
        },
    )
    batch = KeyBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/keys/keybatch/{batch.pk}/change/"
    assert (batch.key_count, batch.partner, batch.note) == (3, northwind, "distributor order 42")
    assert AuditEvent.objects.get(action="key_batch.imported").actor == staff


def test_the_admin_import_lists_every_bad_line_and_keeps_the_choices(client, staff, products):
    client.force_login(staff)
    good = generate_key()
    response = client.post(
        "/admin/keys/keybatch/import/",
        {
            "product": products["BUS-PREM"].pk,
            "seats_per_key": 7,
            "file": upload("bad.txt", f"{format_key(good)}\nBCDFG\n{good}\n"),
        },
    )
    assert response.status_code == 200
    assert KeyBatch.objects.count() == 0
    rows = response.context["bad_lines"]
    assert [(r.number, r.reason) for r in rows] == [
        (2, "This key has 5 characters; a product key has 25."),
        (3, "This key appears earlier in the file, on line 1."),
    ]
    assert b"2 bad lines: nothing was imported." in response.content
    assert b'name="seats_per_key" value="7"' in response.content


def test_the_admin_import_refuses_a_spreadsheet_in_one_line(client, staff, products):
    client.force_login(staff)
    keys = [format_key(generate_key()) for _ in range(40)]
    for name, content in (("keys.xlsx", xlsx_bytes(keys)), ("keys.csv", b"key\x00\n" * 40)):
        response = client.post(
            "/admin/keys/keybatch/import/",
            {
                "product": products["BUS-STD"].pk,
                "seats_per_key": 1,
                "file": SimpleUploadedFile(name, content),
            },
        )
        page = response.content.decode()
        assert response.status_code == 200
        assert page.count("This is not a text or CSV file.") == 1
        assert response.context["bad_lines"] == []
        assert 'id="bad-lines"' not in page
    assert KeyBatch.objects.count() == 0


GENERATE = "/admin/keys/keybatch/generate/"


def test_ops_generate_keys_see_the_batch_and_get_the_keys_back_once(client, staff, products):
    client.force_login(staff)
    posted = generate_form(client, product=products["BUS-BASIC"].pk, count=12)
    response = client.post(GENERATE, posted, follow=True)
    batch = KeyBatch.objects.get()
    job = KeyJob.objects.get()
    assert response.redirect_chain == [(f"/admin/keys/keyjob/{job.pk}/change/", 302)]
    page = response.content.decode()
    assert f"Generated 12 keys in batch #{batch.pk}." in page
    assert 'name="count"' not in page  # the form is gone, not refilled for a second click
    fresh = client.get(GENERATE).context["form"]
    assert fresh["count"].value() is None
    assert fresh["submission"].value() != posted["submission"]

    download = client.post(f"/admin/keys/keyjob/{job.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert "attachment;" in download["Content-Disposition"]
    assert "no-store" in download["Cache-Control"]
    keys = [
        validate_key(row["key"]) for row in csv.DictReader(io.StringIO(download.content.decode()))
    ]
    assert len(keys) == 12
    assert stored_digests() == {key_digest(k) for k in keys}
    # Handed back once: a second download is refused, and says why.
    again = client.post(f"/admin/keys/keyjob/{job.pk}/download/", follow=True)
    assert not again["Content-Type"].startswith("text/csv")
    assert "These keys were already downloaded" in again.content.decode()
    # The batch and job pages afterwards show no plain key.
    for url in (f"/admin/keys/keybatch/{batch.pk}/change/", f"/admin/keys/keyjob/{job.pk}/change/"):
        shown = client.get(url).content.decode()
        assert all(key not in shown and format_key(key) not in shown for key in keys)


def test_posting_the_same_generate_form_twice_makes_one_batch(client, staff, products):
    client.force_login(staff)
    posted = generate_form(client, product=products["BUS-STD"].pk, count=3)
    first = client.post(GENERATE, posted)
    second = client.post(GENERATE, posted, follow=True)
    job = KeyJob.objects.get()
    assert KeyBatch.objects.count() == 1
    page = f"/admin/keys/keyjob/{job.pk}/change/"
    assert first["Location"] == second.redirect_chain[0][0] == page
    assert "This form was already sent" in second.content.decode()
    # The second answer does not replace the browser's key to the first one's keys.
    assert f"keyjob{job.pk}" in first.cookies
    assert f"keyjob{job.pk}" not in second.cookies
    assert client.post(f"/admin/keys/keyjob/{job.pk}/download/").status_code == 200


def test_the_key_list_masks_keys_and_searches_by_the_last_five(client, staff, make_keys):
    keys = make_keys(3)
    client.force_login(staff)
    listing = client.get("/admin/keys/productkey/").content.decode()
    assert f"•••••-•••••-•••••-•••••-{keys[0][-5:]}" in listing
    assert all(key not in listing for key in keys)
    by_tail = client.get("/admin/keys/productkey/", {"q": keys[2][-5:].lower()})
    assert ProductKey.objects.get(digest=key_digest(keys[2])) in by_tail.context["cl"].result_list
    # A whole key is not searched through the address bar (it would land in access logs).
    whole = client.get("/admin/keys/productkey/", {"q": format_key(keys[1])})
    assert list(whole.context["cl"].result_list) == []


def test_ops_look_a_key_up_by_typing_it_whole(client, staff, make_keys):
    key = make_keys(1)[0]
    client.force_login(staff)
    assert b"Look up a key" in client.get("/admin/keys/productkey/").content
    response = client.post("/admin/keys/productkey/lookup/", {"key": format_key(key).lower()})
    stored = ProductKey.objects.get(digest=key_digest(key))
    assert response["Location"] == f"/admin/keys/productkey/{stored.pk}/change/"
    missing = client.post("/admin/keys/productkey/lookup/", {"key": generate_key()})
    assert b"No key in the inventory matches this one." in missing.content
    typo = client.post("/admin/keys/productkey/lookup/", {"key": key[:24]})
    assert b"This key has 24 characters" in typo.content


def test_the_key_list_filters_by_state_product_and_partner(client, staff, make_keys, northwind):
    make_keys(2, sku="BUS-STD")
    make_keys(1, sku="BUS-PREM", partner=northwind)
    client.force_login(staff)
    by_partner = client.get("/admin/keys/productkey/", {"partner": northwind.pk})
    assert len(by_partner.context["cl"].result_list) == 1
    unowned = client.get("/admin/keys/productkey/", {"partner": "none"})
    assert len(unowned.context["cl"].result_list) == 2
    available = client.get("/admin/keys/productkey/", {"state__exact": "available"})
    assert len(available.context["cl"].result_list) == 3


def test_partner_users_cannot_reach_the_key_admin(client, partner_admin):
    client.force_login(partner_admin)
    for url in ("/admin/keys/productkey/", "/admin/keys/keybatch/import/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_looking_a_key_up_needs_the_view_permission(client, make_keys, db):
    from django.contrib.auth.models import Permission

    from portal.models import User

    clerk = User.objects.create_user("clerk@example.com", "portal-demo", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_keybatch"))
    client.force_login(clerk)
    key = make_keys(1)[0]
    assert client.post("/admin/keys/productkey/lookup/", {"key": key}).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_productkey"))
    assert client.post("/admin/keys/productkey/lookup/", {"key": key}).status_code == 302


def test_looking_keys_up_in_the_admin_counts_against_the_guessing_limit(client, staff, products):
    client.force_login(staff)
    for _ in range(10):
        response = client.post("/admin/keys/productkey/lookup/", {"key": generate_key()})
        assert response.status_code == 200
    blocked = client.post("/admin/keys/productkey/lookup/", {"key": generate_key()})
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert "no-store" in blocked["Cache-Control"]
    assert AuditEvent.objects.filter(action="key.guess_limit_reached", actor=staff).count() == 1
