"""Ops generate keys as a background job in Chromium: the progress bar follows the worker, then
the page offers the keys once. Under a strict Content Security Policy, as in production."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from keys import tasks
from keys.codec import validate_key
from keys.models import KeyJob
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

STRICT = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"


def test_ops_follow_a_generation_job_and_download_its_keys_once(
    page, live_server, staff, products, settings, monkeypatch
):
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
        response = route.fetch()
        route.fulfill(
            response=response,
            headers={**response.headers, "content-security-policy": STRICT},
        )

    page.route("**/*", with_policy)
    sign_in(page, live_server, "ops@example.com")
    page.goto(f"{live_server.url}/admin/keys/keybatch/generate/")
    page.get_by_label("Product").select_option(label="Business Standard (BUS-STD)")
    page.get_by_label("Number of keys").fill("30")
    page.get_by_role("button", name="Generate").click()

    bar = page.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.locator("#key-job-outcome")).to_have_text(
        "Waiting for a worker: 0 of 30 keys (0%)."
    )
    page.reload()  # the job is on the server: a reload finds it where it was
    expect(bar).to_have_attribute("aria-valuemax", "30")

    # The worker runs the job; the page notices by itself and shows the outcome.
    tasks.run_key_job.apply(args=held)
    job = KeyJob.objects.get()
    expect(page.get_by_text(f"Generated 30 keys in batch #{job.batch_id}.")).to_be_visible(
        timeout=15_000
    )
    expect(bar).to_have_attribute("aria-valuenow", "30")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the keys").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "key"
    assert len({validate_key(line) for line in lines[1:]}) == 30

    page.reload()
    expect(page.get_by_text("The keys were downloaded on")).to_be_visible()
    expect(page.get_by_role("button", name="Download the keys")).to_have_count(0)
    assert violations == []
    # The policy was in force: an inline script is refused on this page.
    blocked = page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.head.appendChild(s); return window.ran === undefined; }"
    )
    assert blocked
