"""docs/production.md stays true to the checkout: every file it names exists, every link and
anchor leads somewhere, every setting it names is read by something."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "production.md"
README = ROOT / "README.md"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {
        _slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")
    }


def test_every_file_it_names_exists():
    named = set(
        re.findall(
            r"`((?:tests|deploy|scripts|portal|keys|renewals|tenants|drills)/[\w./@-]+)`",
            GUIDE.read_text(),
        )
    )
    assert named
    missing = [path for path in sorted(named) if not (ROOT / path.rstrip("/")).exists()]
    assert missing == []


def test_every_link_and_anchor_leads_somewhere():
    guide = GUIDE.read_text()
    for anchor in re.findall(r"\]\(#([\w-]+)\)", guide):
        assert anchor in _anchors(GUIDE), anchor
    for anchor in re.findall(r"\]\(\.\./README\.md#([\w-]+)\)", guide):
        assert anchor in _anchors(README), anchor
    for anchor in re.findall(r"\]\(docs/production\.md#([\w-]+)\)", README.read_text()):
        assert anchor in _anchors(GUIDE), anchor
    assert "](docs/production.md)" in README.read_text()


def test_every_setting_it_names_is_read_somewhere():
    readers = "\n".join(
        path.read_text()
        for path in [
            ROOT / "portal" / "settings.py",
            ROOT / "portal" / "logs.py",
            ROOT / "deploy" / "gunicorn.conf.py",
            ROOT / "scripts" / "cluster.sh",
            *(ROOT / "deploy" / "systemd").glob("*.service"),
        ]
    )
    table_rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", GUIDE.read_text(), flags=re.MULTILINE)
    named = set(table_rows)
    assert {"GUNICORN_WORKERS", "WORKER_CONCURRENCY", "CLUSTER_DIR"} <= named
    unread = [name for name in sorted(named) if name not in readers]
    assert unread == []


def test_the_pgbouncer_settings_it_shows_are_the_ones_drill_6_runs():
    from drills.services import BOUNCER_SETTINGS

    ini = re.search(r"```ini\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL).group(1)
    for name, value in BOUNCER_SETTINGS.items():
        assert f"\n{name} = {value}\n" in ini, name
