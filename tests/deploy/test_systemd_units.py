"""deploy/systemd: the units pass `systemd-analyze verify` with their paths pointed at this
checkout (verify checks that each ExecStart binary exists), and say what the guide says."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
INSTALL_DIR = "/srv/portal"

pytestmark = pytest.mark.skipif(
    not Path(ANALYZE).exists(), reason="systemd-analyze is not installed (apt-get install systemd)"
)


def _installed_here(tmp_path: Path, edit=lambda text: text) -> list[Path]:
    """The units as installed in this checkout: /srv/portal is this directory."""
    copies = []
    for unit in sorted(UNITS.glob("*.service")):
        copy = tmp_path / unit.name
        copy.write_text(edit(unit.read_text().replace(INSTALL_DIR, str(ROOT))))
        copies.append(copy)
    return copies


def _verify(units: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ANALYZE, "verify", "--man=no", "--recursive-errors=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _complaints(result: subprocess.CompletedProcess, units: list[Path]) -> list[str]:
    """verify's lines about these units: a value it cannot parse is only a warning ("…,
    ignoring") with exit code 0, so any line about them counts."""
    names = {unit.name for unit in units} | {"portal-worker@i.service"}
    return [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if any(name in line for name in names) or str(units[0].parent) in line
    ]


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    units = _installed_here(tmp_path)
    assert {unit.name for unit in units} == {
        "portal-web.service",
        "portal-worker@.service",
        "portal-beat.service",
        "portal-migrate.service",
    }
    result = _verify(units)
    assert result.returncode == 0, result.stderr
    assert _complaints(result, units) == []


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (lambda t: t.replace("/bin/gunicorn", "/bin/gunicorn-missing"), "is not executable"),
        (lambda t: t.replace("ProtectSystem=strict", "ProtectSystem=very"), "ignoring"),
        (lambda t: t.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"), "Unknown key"),
    ],
)
def test_verify_would_catch_a_broken_unit(tmp_path, edit, complaint):
    # The check above can fail: a missing binary, a bad value and a misspelt key are caught.
    units = [u for u in _installed_here(tmp_path, edit) if u.name == "portal-web.service"]
    result = _verify(units)
    complaints = _complaints(result, units)
    assert result.returncode != 0 or complaints
    assert any(complaint in line for line in complaints), complaints


def _unit(name: str) -> str:
    return (UNITS / name).read_text()


def test_every_process_reads_the_one_environment_file_and_runs_sandboxed():
    for unit in UNITS.glob("*.service"):
        text = unit.read_text()
        assert "EnvironmentFile=/etc/portal/portal.env" in text, unit.name
        for line in ("User=portal", "NoNewPrivileges=yes", "ProtectSystem=strict"):
            assert line in text, (unit.name, line)


def test_the_web_workers_share_their_metrics_in_the_unit_s_runtime_directory():
    web = _unit("portal-web.service")
    assert "RuntimeDirectory=portal-web" in web
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/portal-web/" in web
    assert "--config /srv/portal/deploy/gunicorn.conf.py" in web


def test_beat_is_one_unit_and_not_a_template():
    beats = [u.name for u in UNITS.glob("*.service") if "celery --app portal beat" in u.read_text()]
    assert beats == ["portal-beat.service"]


def test_the_example_environment_names_only_variables_something_reads():
    example = (ROOT / "deploy" / "portal.env.example").read_text()
    names = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE)
    readers = "\n".join(
        path.read_text()
        for path in [
            ROOT / "portal" / "settings.py",
            ROOT / "portal" / "logs.py",
            ROOT / "deploy" / "gunicorn.conf.py",
            *UNITS.glob("*.service"),
        ]
    )
    unread = [
        name for name in names if f'"{name}"' not in readers and f"${{{name}}}" not in readers
    ]
    assert unread == []
    assert {"DEBUG", "SECRET_KEY", "KEY_PEPPER", "MFA_SECRET_KEYS", "REDIS_URL"} <= set(names)
