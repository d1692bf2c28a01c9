"""Adding users from a file in Chromium, in English and French (issue 16): Megan uploads a CSV
of 50 users with two bad lines, reads both lines named in the preview, uploads the corrected
file and adds the 50 users; each gets an activation e-mail.

The new pages' words are not in the French catalogue until fr-new.po is merged into
locale/fr/LC_MESSAGES/django.po: the steps on those pages go by test ids and line numbers, and
the French words they will show are checked only where the catalogue has them already."""

import pytest
from playwright.sync_api import expect
from post_office.models import Email

from tenants.models import TenantUser
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

FILES = {
    # What English Excel writes: commas, English column names.
    "en": {
        "locale": "en-US",
        "sep": ",",
        "header": "first name,last name,user name,contact e-mail,language,products",
        "manage": "Manage users and licenses",
        "count": "51 users",
    },
    # What French Excel writes: semicolons, a byte order mark, French column names.
    "fr": {
        "locale": "fr-FR",
        "sep": ";",
        "header": "\ufeffPrénom;Nom;Nom d’utilisateur;Adresse e-mail de contact;Langue;Produits",
        "manage": "Gérer les utilisateurs et les licences",
        "count": "51 utilisateurs",
    },
}


@pytest.fixture
def customer(make_contoso):
    """Contoso with Business Standard, 60 seats; Megan (its admin, one license) can sign in."""
    return make_contoso(seats=60, megan_signs_in=True)


def users_csv(language: str, bad: bool) -> dict:
    words = FILES[language]
    lines = [words["header"]]
    for n in range(1, 51):
        email = f"user{n}@contoso.example"
        username = f"user{n}"
        if bad and n == 11:
            email = "user11-at-contoso.example"  # line 12
        if bad and n == 29:
            username = "user5"  # line 30: line 6's
        lines.append(words["sep"].join(["Ann", f"Lee{n}", username, email, language, "BUS-STD"]))
    return {
        "name": f"users-{language}.csv",
        "mimeType": "text/csv",
        "buffer": ("\r\n".join(lines) + "\r\n").encode(),
    }


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_file_with_two_bad_lines_is_refused_naming_them_then_added_when_fixed(
    browser, live_server, customer, language
):
    words = FILES[language]
    context = browser.new_context(locale=words["locale"])
    page = context.new_page()
    sign_in(page, live_server, "megan@contoso.example")
    page.get_by_role("link", name=words["manage"]).click()
    page.locator("main a[href$='/users/import/']").click()
    expect(page.get_by_test_id("import-columns")).to_be_visible()
    expect(page.get_by_test_id("import-template")).to_have_attribute(
        "href", "/customer/users/import/template.csv"
    )

    # The file with two bad lines: both named, nothing added.
    page.locator("input[type=file]").set_input_files(users_csv(language, bad=True))
    page.locator("main form button[type=submit]").click()
    problems = page.get_by_test_id("import-problems")
    expect(problems).to_be_focused()  # the error summary, read out first
    expect(page.get_by_test_id("bad-line")).to_have_count(2)
    expect(problems.locator("[data-line='12']")).to_contain_text("user11-at-contoso.example")
    expect(problems.locator("[data-line='30']")).to_contain_text("user5")
    expect(page.get_by_test_id("import-add")).to_have_count(0)
    assert TenantUser.objects.count() == 1

    # The corrected file: the preview lists the 50 users, then "Add 50 users".
    page.locator("main a[href$='/users/import/']").first.click()
    page.locator("input[type=file]").set_input_files(users_csv(language, bad=False))
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_test_id("import-lines").locator("tbody tr")).to_have_count(50)
    expect(page.get_by_test_id("import-add")).to_contain_text("50")
    page.get_by_test_id("import-add").click()
    expect(page.get_by_role("alert")).to_contain_text("50")
    expect(page.get_by_test_id("user-count")).to_have_text(words["count"])
    assert TenantUser.objects.get(username="user30").user.language == language
    # One activation e-mail each, written to the outbox in the import's transaction.
    assert sum(1 for email in Email.objects.all() if email.to[0].startswith("user")) == 50
    context.close()
