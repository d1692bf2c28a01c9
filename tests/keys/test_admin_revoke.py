"""Revoking keys in the admin: "Go" shows what would be revoked and asks why; only the page's
own button, with a reason, revokes (keys/admin_revoke.py)."""

from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.utils import timezone

from keys.codec import format_key
from keys.models import ProductKey
from keys.services import key_digest
from portal.models import AuditEvent, User

KEYS = "/admin/keys/productkey/"


def key_ids(keys):
    return [ProductKey.objects.get(digest=key_digest(key)).pk for key in keys]


def go(client, ids, **extra):
    """The change list's "Go" with "Revoke the selected keys" chosen."""
    return client.post(KEYS, {"action": "revoke", "index": 0, "_selected_action": ids, **extra})


def confirm(client, ids, reason, expected, **extra):
    """The confirmation page's button."""
    data = {"action": "revoke", "_selected_action": ids, "post": "yes", "reason": reason}
    return client.post(KEYS, {**data, "expected": expected, **extra})


def revoked():
    return ProductKey.objects.filter(state=ProductKey.State.REVOKED).count()


def test_it_asks_first_and_lists_the_keys_masked(client, staff, make_keys):
    keys = make_keys(4)
    client.force_login(staff)
    response = go(client, key_ids(keys[:3]))
    page = response.content.decode()
    assert response.status_code == 200
    assert response.templates[0].name == "admin/keys/productkey/revoke_confirmation.html"
    assert "You are about to revoke 3 product keys." in page
    assert "Revoking cannot be undone." in page
    for key in keys[:3]:
        assert f"•••••-•••••-•••••-•••••-{key[-5:]}" in page
    assert f"•••••-{keys[3][-5:]}" not in page
    # Never a whole key, in any form, nor its start.
    assert all(key not in page and format_key(key) not in page for key in keys)
    assert all(format_key(key)[:23] not in page for key in keys)
    assert 'name="reason"' in page
    assert revoked() == 0
    assert not AuditEvent.objects.filter(action="key.revoked").exists()


def test_it_names_the_keys_it_would_skip(client, staff, make_keys):
    keys = make_keys(3)
    ids = key_ids(keys)
    ProductKey.objects.filter(pk=ids[0]).update(state="revoked", revoked_at=timezone.now())
    client.force_login(staff)
    page = go(client, ids).content.decode()
    assert "You are about to revoke 2 product keys." in page
    assert "1 selected key is already redeemed or revoked: it stays as it is." in page
    skipped = page.split('id="revoke-skipped"')[1].split("</ul>")[0]
    assert f"•••••-{keys[0][-5:]}" in skipped
    assert f"•••••-{keys[1][-5:]}" not in skipped
    assert 'value="2"' in page.split('name="expected"')[1][:20]


def test_an_empty_reason_changes_nothing_and_keeps_the_selection(client, staff, make_keys):
    ids = key_ids(make_keys(2))
    client.force_login(staff)
    response = confirm(client, ids, "   ", expected=2)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Say why these keys are revoked." in page
    assert 'aria-invalid="true"' in page
    for pk in ids:
        assert f'name="_selected_action" value="{pk}"' in page
    assert revoked() == 0
    assert not AuditEvent.objects.filter(action="key.revoked").exists()


def test_a_reason_revokes_and_is_in_the_audit_event(client, staff, make_keys):
    keys = make_keys(3)
    ids = key_ids(keys)
    ProductKey.objects.filter(pk=ids[2]).update(state="revoked", revoked_at=timezone.now())
    client.force_login(staff)
    reason = "Distributor order 42 was cancelled"
    response = confirm(client, ids, reason, expected=2)
    assert response.status_code == 302
    assert response["Location"] == KEYS
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "2 keys revoked. The reason is in the audit log.",
        "1 selected key was left as it is: already redeemed or revoked.",
    ]
    assert revoked() == 3
    events = AuditEvent.objects.filter(action="key.revoked")
    assert sorted(event.target_id for event in events) == sorted(str(pk) for pk in ids[:2])
    assert all(event.actor == staff and event.details["reason"] == reason for event in events)


def test_the_reason_has_a_limit(client, staff, make_keys):
    ids = key_ids(make_keys(1))
    client.force_login(staff)
    response = confirm(client, ids, "x" * 501, expected=1)
    assert response.status_code == 200
    assert "at most 500 characters" in response.content.decode()
    assert revoked() == 0


def test_it_asks_again_when_the_selection_changed(client, staff, make_keys):
    ids = key_ids(make_keys(2))
    client.force_login(staff)
    assert go(client, ids).status_code == 200
    # Meanwhile someone else revokes one of them (from the command line).
    ProductKey.objects.filter(pk=ids[0]).update(state="revoked", revoked_at=timezone.now())
    response = confirm(client, ids, "cancelled order", expected=2)
    page = response.content.decode()
    assert response.status_code == 200
    assert "The selection changed since the page was shown: 1 key can be revoked now." in page
    assert 'value="1"' in page.split('name="expected"')[1][:20]
    assert revoked() == 1


def test_select_all_revokes_what_the_page_counted(client, staff, make_keys):
    keys = make_keys(3)
    client.force_login(staff)
    page = go(client, key_ids(keys[:1]), select_across=1)
    assert "You are about to revoke 3 product keys." in page.content.decode()
    upto = page.context["upto"]
    added = make_keys(1)  # a new import lands in the list before the click
    response = confirm(client, key_ids(keys[:1]), "batch lost", 3, select_across=1, upto=upto)
    assert response.status_code == 302
    assert revoked() == 3
    assert ProductKey.objects.get(digest=key_digest(added[0])).state == "available"


def test_nothing_to_revoke_says_so_without_a_page(client, staff, make_keys):
    ids = key_ids(make_keys(1))
    ProductKey.objects.filter(pk=ids[0]).update(state="revoked", revoked_at=timezone.now())
    client.force_login(staff)
    response = go(client, ids, follow=False)
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "None of the selected keys can be revoked: they are already redeemed or revoked."
    ]


def test_it_refuses_a_viewer_who_may_not_revoke(client, make_keys):
    clerk = User.objects.create_user("clerk@example.com", "portal-demo", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_productkey"))
    ids = key_ids(make_keys(1))
    client.force_login(clerk)
    for response in (go(client, ids), confirm(client, ids, "no right", expected=1)):
        assert response.status_code == 302
        assert "You may not revoke keys." in [str(m) for m in get_messages(response.wsgi_request)]
    assert revoked() == 0
