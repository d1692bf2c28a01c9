"""static/keys/key_input.js in Chromium: the same vectors as the Python codec, and the feedback."""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import REDEEM_WORDS, sign_in

pytestmark = pytest.mark.browser

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "keys" / "key_vectors.json").read_text()
)


@pytest.fixture
def check_page(page, live_server, partner_admin):
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/keys/check/")
    script_ready(page)
    return page


def script_ready(page):
    """Wait until key_input.js has enhanced the field: typing earlier would race it."""
    expect(page.locator("input[data-key-input]").first).to_have_attribute("data-key-enhanced", "1")


def test_the_script_agrees_with_python_on_every_vector(check_page):
    results = check_page.evaluate(
        """(vectors) => ({
            valid: vectors.valid.map(v => PortalKeys.validate(v.input)),
            invalid: vectors.invalid.map(v => PortalKeys.validate(v.input)),
            split: vectors.split.map(v => PortalKeys.splitList(v.input)),
        })""",
        VECTORS,
    )
    for vector, result in zip(VECTORS["valid"], results["valid"], strict=True):
        assert result == {"ok": True, "key": vector["canonical"]}, vector
    for vector, result in zip(VECTORS["invalid"], results["invalid"], strict=True):
        expected = {k: v for k, v in vector.items() if k != "input"}
        assert result == {"ok": False, **expected}, vector
    for vector, result in zip(VECTORS["split"], results["split"], strict=True):
        assert result == vector["keys"], vector


def test_it_groups_the_characters_in_fives_as_you_type(check_page):
    field = check_page.get_by_label("Product key")
    field.press_sequentially("bcdfghjkmpqr")
    expect(field).to_have_value("BCDFG-HJKMP-QR")
    expect(check_page.get_by_test_id("key-feedback")).to_have_text("12 of 25 characters")


def test_it_marks_the_position_of_a_character_never_used(check_page):
    field = check_page.get_by_label("Product key")
    field.press_sequentially("BCDFGHO")
    feedback = check_page.get_by_test_id("key-feedback")
    expect(feedback).to_contain_text("Character 'O' (position 7) is never used in product keys.")
    expect(feedback).to_contain_text("O or 0 is often a Q or a D")  # what is usually meant
    expect(check_page.get_by_test_id("key-marked").locator("mark")).to_have_text("O")
    expect(field).to_have_class(re.compile(r"\bis-invalid\b"))


def test_it_says_when_the_check_character_does_not_match(check_page):
    field = check_page.get_by_label("Product key")
    field.press_sequentially("BCDFGHJKMPQRTVWXY2346789K")  # the check character is J
    expect(check_page.get_by_test_id("key-feedback")).to_have_text(
        "This key contains a typing mistake: please check it against the card."
    )
    field.press("Backspace")
    field.press_sequentially("J")
    expect(field).to_have_value("BCDFG-HJKMP-QRTVW-XY234-6789J")
    expect(check_page.get_by_test_id("key-feedback")).to_have_text("The characters look right.")


def test_the_feedback_is_in_french_on_french_pages(check_page):
    check_page.locator("#language-select").select_option("fr")
    check_page.locator("#language-submit").click()
    expect(check_page.locator("html")).to_have_attribute("lang", "fr")
    script_ready(check_page)
    field = check_page.get_by_label("Clé de produit")
    field.press_sequentially("BCDFGHO")
    expect(check_page.get_by_test_id("key-feedback")).to_contain_text(
        "Le caractère « O » (position 7) n’est jamais utilisé dans les clés de produit."
    )


def test_the_form_works_without_javascript(browser, live_server, partner_admin, make_keys):
    key = make_keys(1, sku="BUS-BASIC")[0]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/keys/check/")
    page.get_by_label("Product key").fill(key.lower())
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("key-check-result")).to_contain_text("Business Basic")
    context.close()


def test_the_servers_verdict_stays_until_the_key_changes(check_page, make_keys, staff):
    from keys.models import ProductKey
    from keys.services import key_digest, keys_revoke

    key = make_keys(1)[0]
    keys_revoke(key_ids=[ProductKey.objects.get(digest=key_digest(key)).pk], actor=staff)
    field = check_page.get_by_label("Product key")
    field.fill(key)
    check_page.get_by_role("button", name="Check").click()
    error = check_page.locator(".invalid-feedback")
    expect(error).to_contain_text("This product key has been revoked.")
    expect(check_page.get_by_test_id("key-feedback")).to_be_empty()
    field.press("End")
    field.press("Backspace")
    expect(error).to_have_count(0)
    expect(check_page.get_by_test_id("key-feedback")).to_have_text("24 of 25 characters")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_keys_typed_with_a_comma_in_one_field_become_rows(
    browser, live_server, partner_admin, language
):
    """The server accepts "key1, key2" in one field: the page does not call the comma wrong."""
    from keys.codec import format_key, generate_key

    words = REDEEM_WORDS[language]
    first, second = generate_key(), generate_key()
    page = browser.new_context(locale=words["locale"]).new_page()
    sign_in(page, live_server, "partner@northwind.example")
    page.goto(f"{live_server.url}/partner/redeem/")
    page.get_by_label(words["understand"], exact=False).check()
    page.get_by_role("button", name=words["start"]).click()
    script_ready(page)
    inputs = page.locator("input[data-key-input]")
    inputs.first.press_sequentially(f"{first}, {second}")
    expect(inputs).to_have_count(2)
    expect(inputs.nth(0)).to_have_value(format_key(first))
    expect(inputs.nth(1)).to_have_value(format_key(second))
    expect(page.locator("input.is-invalid")).to_have_count(0)
    # A comma after a key opens the next row, where the typing goes on.
    inputs.nth(1).press_sequentially(",")
    expect(inputs).to_have_count(3)
    expect(inputs.nth(2)).to_be_focused()
    expect(inputs.nth(1)).to_have_value(format_key(second))
