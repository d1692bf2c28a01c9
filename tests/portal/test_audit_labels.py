"""The audit log in the admin speaks the reader's language: "Clé récupérée", "Lot de clés",
not `key.redeemed` and `keys.KeyBatch`."""

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation

from keys.models import KeyBatch
from portal.audit_labels import ACTION_LABELS, action_label, target_type_label
from portal.models import AuditEvent
from portal.services import audit_log

ROOT = Path(__file__).resolve().parents[2]
APPS = ["portal", "mfa", "keys", "tenants", "renewals"]
# The writers that take the action from their caller.
PASS_THROUGH = {
    "audit_log",
    "audit_limits_reached",
    "attempt_settle",
    "act_record",
    "factor_change_record",
}
# The modules of those writers: the only ones that pass a variable on.
WRITER_MODULES = {("portal", "services.py"), ("tenants", "audit.py"), ("mfa", "services.py")}


def literal_codes(expr: ast.expr, path: Path) -> set[str]:
    """The codes an `action=` argument can be: a literal, or literals in an `… if … else …`."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return literal_codes(expr.body, path) | literal_codes(expr.orelse, path)
    # Only the writers themselves pass a variable on; anywhere else a code must be readable here.
    assert isinstance(expr, ast.Name), (path, ast.unparse(expr))
    assert (path.parent.name, path.name) in WRITER_MODULES, (path, ast.unparse(expr))
    return set()


def written_actions() -> tuple[set[str], list[str]]:
    """The action codes the code passes to audit_log (and audit_limits_reached), read from the
    source; and the f-strings among them, as their text."""
    codes, templates = set(), []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name not in PASS_THROUGH:
                    continue
                for keyword in node.keywords:
                    if keyword.arg != "action":
                        continue
                    if isinstance(keyword.value, ast.JoinedStr):
                        templates.append(ast.unparse(keyword.value))
                        continue
                    codes |= literal_codes(keyword.value, path)
    return codes, templates


def test_every_action_the_code_writes_has_a_label_and_every_label_an_action():
    codes, templates = written_actions()
    assert len(codes) > 20  # the scan found the writers
    assert sorted(codes - set(ACTION_LABELS)) == [], "add these to portal/audit_labels.py"
    assert sorted(set(ACTION_LABELS) - codes) == [], "no code writes these any more"
    # The one code built at run time: the admin's own changes, labelled from their parts.
    assert templates == ["f'admin.{obj._meta.label_lower}.{verb}'"]


def test_every_label_is_translated_into_french():
    def labels(language):
        with translation.override(language):
            return {code: str(label) for code, label in ACTION_LABELS.items()}

    english, french = labels("en"), labels("fr")
    assert [code for code in ACTION_LABELS if english[code] == french[code]] == []


@pytest.mark.parametrize(
    ("language", "action", "target_type", "expected"),
    [
        ("en", "key.redeemed", "keys.ProductKey", ("Key redeemed", "Product key")),
        ("fr", "key.redeemed", "keys.ProductKey", ("Clé récupérée", "Clé de produit")),
        ("en", "key_batch.imported", "keys.KeyBatch", ("Key batch imported", "Key batch")),
        ("fr", "key_batch.imported", "keys.KeyBatch", ("Lot de clés importé", "Lot de clés")),
        (
            "en",
            "admin.keys.keybatch.changed",
            "keys.KeyBatch",
            ("Changed in the admin: key batch", "Key batch"),
        ),
        (
            "fr",
            "admin.keys.keybatch.changed",
            "keys.KeyBatch",
            ("Modification dans l’administration\u00a0: lot de clés", "Lot de clés"),
        ),
        # A code without a label (or a model since removed) still says something.
        ("fr", "something.new", "gone.Model", ("something.new", "gone.Model")),
    ],
)
def test_codes_read_as_labels_in_the_readers_language(language, action, target_type, expected):
    with translation.override(language):
        assert (action_label(action), target_type_label(target_type)) == expected


@pytest.fixture
def events(staff, make_keys):
    make_keys(1)  # writes key_batch.generated on a KeyBatch
    batch = KeyBatch.objects.get()
    audit_log(action="key_batch.imported", actor=staff, target=batch)
    return batch


def visible_text(response) -> str:
    """The page's text, without the attributes (a filter's link carries the code in its URL)."""
    return re.sub(r"<[^>]*>", " ", response.content.decode())


def test_the_changelist_shows_labels_in_french_for_a_french_reader(client, staff, events):
    client.force_login(staff)
    response = client.get("/admin/portal/auditevent/", HTTP_ACCEPT_LANGUAGE="fr")
    text = visible_text(response)
    assert "Lot de clés importé" in text and "Lot de clés généré" in text
    assert "Lot de clés" in text  # the column and the filter
    assert "key_batch.imported" not in text and "keys.KeyBatch" not in text


def test_the_changelist_shows_labels_in_english_for_an_english_reader(client, staff, events):
    client.force_login(staff)
    text = visible_text(client.get("/admin/portal/auditevent/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Key batch imported" in text and "Key batch generated" in text
    assert "key_batch.imported" not in text and "keys.KeyBatch" not in text


def test_the_filters_offer_labels_and_filter_by_code(client, staff, events):
    # Ops picked French in the header: reading in French writes no "language followed" event.
    staff.language_chosen_at = staff.date_joined
    staff.language = "fr"
    staff.save()
    client.force_login(staff)
    response = client.get(
        "/admin/portal/auditevent/?action=key_batch.imported", HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert list(response.context["cl"].result_list) == [
        AuditEvent.objects.get(action="key_batch.imported")
    ]
    filters = {
        spec.title: dict(spec.lookup_choices) for spec in response.context["cl"].filter_specs
    }
    assert filters["action"] == {
        "key_batch.generated": "Lot de clés généré",
        "key_batch.imported": "Lot de clés importé",
    }
    assert filters["type de cible"] == {"keys.KeyBatch": "Lot de clés"}
    response = client.get("/admin/portal/auditevent/?target_type=keys.KeyBatch")
    assert response.context["cl"].result_count == 2


def test_the_detail_page_shows_labels(client, staff, events):
    client.force_login(staff)
    event = AuditEvent.objects.get(action="key_batch.imported")
    text = visible_text(
        client.get(f"/admin/portal/auditevent/{event.pk}/change/", HTTP_ACCEPT_LANGUAGE="fr")
    )
    assert "Lot de clés importé" in text
    assert "key_batch.imported" not in text and "keys.KeyBatch" not in text


def test_searching_for_a_label_finds_its_events(client, staff, events):
    client.force_login(staff)
    response = client.get("/admin/portal/auditevent/?q=clés+importé", HTTP_ACCEPT_LANGUAGE="fr")
    assert [e.action for e in response.context["cl"].result_list] == ["key_batch.imported"]
    response = client.get("/admin/portal/auditevent/?q=key_batch.generated")
    assert [e.action for e in response.context["cl"].result_list] == ["key_batch.generated"]
