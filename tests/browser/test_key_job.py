"""Ops generate keys as a background job in Chromium: the progress bar follows the worker, then
the page offers the keys once. Under a strict Content Security Policy, as in production."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from keys import tasks
from keys.codec import validate_key
from keys.models import KeyJob
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

STRICT = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"

# French typography puts (narrow) no-break spaces before ":" and "%": \s matches them.
WORDS = {
    "en": {
        "locale": "en-US",
        "product": "Product",
        "count": "Number of keys",
        "generate": "Generate",
        "waiting": r"Waiting for a worker:\s0 of 30 keys \(0%\)\.",
        "generated": "Generated 30 keys in batch #{batch}.",
        "download": "Download the keys",
        "downloaded": "The keys were downloaded on",
    },
    "fr": {
        "locale": "fr-FR",
        "product": "Produit",
        "count": "Nombre de clés",
        "generate": "Générer",
        "waiting": r"En attente d’un processus d’arrière-plan\s:\s0 clés sur 30 \(0\s%\)\.",
        "generated": "30 clés générées dans le lot n° {batch}.",
        "download": "Télécharger les clés",
        "downloaded": "Les clés ont été téléchargées le",
    },
}


@pytest.mark.parametrize("language", ["en", "fr"])
def test_ops_follow_a_generation_job_and_download_its_keys_once(
    browser, live_server, staff, products, settings, monkeypatch, language
):
    words = WORDS[language]
    context = browser.new_context(locale=words["locale"], accept_downloads=True)
    page = context.new_page()
    settings.KEY_JOB_BACKGROUND_THRESHOLD = 10
    held = []
    monkeypatch.setattr(tasks.run_key_job, "delay", held.append)  # the worker is busy
    violations = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and violations.append(message.text)
        ),
    )

    def with_policy(route):
        # Redirects go back to the browser, which follows them itself: the page's address is
        # where the portal sent it (the second step of signing in).
        response = route.fetch(max_redirects=0)
        route.fulfill(
            response=response,
            headers={**response.headers, "content-security-policy": STRICT},
        )

    page.route("**/*", with_policy)
    sign_in(page, live_server, "ops@example.com")
    page.goto(f"{live_server.url}/admin/keys/keybatch/generate/")
    page.get_by_label(words["product"]).select_option(label="Business Standard (BUS-STD)")
    page.get_by_label(words["count"]).fill("30")
    page.get_by_role("button", name=words["generate"]).click()

    bar = page.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.locator("#key-job-outcome")).to_have_text(re.compile(words["waiting"]))
    page.reload()  # the job is on the server: a reload finds it where it was
    expect(bar).to_have_attribute("aria-valuemax", "30")

    # The worker runs the job; the page notices by itself and shows the outcome.
    tasks.run_key_job.apply(args=held)
    job = KeyJob.objects.get()
    expect(page.get_by_text(words["generated"].format(batch=job.batch_id))).to_be_visible(
        timeout=15_000
    )
    expect(bar).to_have_attribute("aria-valuenow", "30")

    with page.expect_download() as download:
        page.get_by_role("button", name=words["download"]).click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "key"
    assert len({validate_key(line) for line in lines[1:]}) == 30

    page.reload()
    expect(page.get_by_text(words["downloaded"])).to_be_visible()
    expect(page.get_by_role("button", name=words["download"])).to_have_count(0)
    assert violations == []
    # The policy was in force: an inline script is refused on this page.
    blocked = page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.head.appendChild(s); return window.ran === undefined; }"
    )
    assert blocked
    context.close()
