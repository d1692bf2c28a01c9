"""Start-up refuses bad configuration: run in a fresh interpreter so the settings load anew."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "KEY_PEPPER", "DEBUG", "REDIS_URL"}
    }
    base.update(env)
    base["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_in_debug_without_secrets():
    assert _load_settings(DEBUG="1").returncode == 0


def test_it_requires_a_secret_key_when_debug_is_off():
    result = _load_settings(DEBUG="0", KEY_PEPPER="p", REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_it_requires_a_key_pepper_when_debug_is_off():
    result = _load_settings(DEBUG="0", SECRET_KEY="s" * 50, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode != 0
    assert "KEY_PEPPER is required" in result.stderr


def test_it_stops_on_a_malformed_debug_flag():
    result = _load_settings(DEBUG="perhaps")
    assert result.returncode != 0
    assert "DEBUG" in result.stderr


def test_it_stops_on_a_database_url_it_cannot_use():
    result = _load_settings(DEBUG="1", DATABASE_URL="oracle://db.example/portal")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_it_requires_a_shared_cache_when_debug_is_off():
    result = _load_settings(DEBUG="0", SECRET_KEY="s" * 50, KEY_PEPPER="pepper")
    assert result.returncode != 0
    assert "REDIS_URL is required" in result.stderr


def test_it_starts_in_production_mode_with_the_required_variables():
    result = _load_settings(
        DEBUG="0", SECRET_KEY="s" * 50, KEY_PEPPER="pepper", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert result.returncode == 0, result.stderr


def test_it_reads_the_key_job_threshold_strictly():
    result = _load_settings(DEBUG="1", KEY_JOB_BACKGROUND_THRESHOLD="100k")
    assert result.returncode != 0
    assert "KEY_JOB_BACKGROUND_THRESHOLD must be a whole number" in result.stderr
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.KEY_JOB_BACKGROUND_THRESHOLD, settings.KEY_JOB_DOWNLOAD_HOURS)",
        ],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.split() == ["100000", "24"], probe.stderr
