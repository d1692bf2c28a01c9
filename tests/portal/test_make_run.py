"""`make run PORT=…`: the demo data's e-mails link to the port the portal runs on (issue 16)."""

import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from post_office.models import Email

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_gives_the_seed_and_the_server_the_port():
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    seed = [line for line in plan.splitlines() if "manage.py seed_demo" in line]
    server = [line for line in plan.splitlines() if "scripts/run.sh" in line]
    assert seed and server
    for line in seed + server:
        assert "PORTAL_BASE_URL=http://127.0.0.1:8123" in line


@pytest.mark.postgres
@override_settings(PORTAL_BASE_URL="http://127.0.0.1:8123", DEBUG=True)  # as `make run` sets it
def test_the_demo_e_mails_link_to_the_portal_base_url(db, countries, tmp_path, monkeypatch):
    from tenants.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "DEMO_KEYS_FILE", tmp_path / "demo_keys.txt")
    call_command("seed_demo", stdout=StringIO())
    bodies = [email.message for email in Email.objects.all()]
    links = [body for body in bodies if "http://" in body]
    assert links, "the demo writes e-mails with links"
    assert all("http://127.0.0.1:8123/" in body for body in links)
    assert not any("127.0.0.1:8000" in body for body in bodies)
    assert settings.PORTAL_BASE_URL == "http://127.0.0.1:8123"
