"""The README's verification examples work on what the portal really sends: a test event,
received by the loopback receiver, checked by the README's Python and by its OpenSSL shell lines
(and both refuse a body changed by one byte)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from portal.webhooks.services import webhook_endpoint_test

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "<!-- test: tests/webhooks/test_readme.py runs this -->"


def readme_block(language: str) -> str:
    pattern = re.escape(MARK) + r"\n```" + language + r"\n(.*?)```"
    (block,) = re.findall(pattern, README.read_text(), flags=re.S)
    return block


@pytest.fixture
def received(endpoint, receiver, partner_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        webhook_endpoint_test(endpoint=endpoint, actor=partner_admin)
    (message,) = receiver.received
    return message, receiver.secrets[0]


def test_the_python_example_verifies_a_real_message_and_refuses_a_changed_one(received):
    message, secret = received
    namespace = {}
    exec(readme_block("python"), namespace)  # noqa: S102 (the README's own example)
    receive = namespace["receive"]
    assert receive(message.body, message.headers, secret)["type"] == "webhook.test"
    with pytest.raises(PermissionError):
        receive(message.body.replace(b"test", b"tesT", 1), message.headers, secret)


def _shell(message, secret, body: bytes, tmp_path) -> subprocess.CompletedProcess:
    (tmp_path / "body.json").write_bytes(body)
    return subprocess.run(
        ["bash", "-c", readme_block("sh")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "SECRET": secret,
            "WEBHOOK_ID": message.headers["webhook-id"],
            "WEBHOOK_TIMESTAMP": message.headers["webhook-timestamp"],
            "WEBHOOK_SIGNATURE": message.headers["webhook-signature"],
        },
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_shell_example_verifies_a_real_message_and_refuses_a_changed_one(received, tmp_path):
    message, secret = received
    verified = _shell(message, secret, message.body, tmp_path)
    assert (verified.returncode, verified.stdout.strip()) == (0, "verified"), verified.stderr
    changed = _shell(message, secret, message.body.replace(b"test", b"tesT", 1), tmp_path)
    assert (changed.returncode, changed.stdout.strip()) == (1, "refused")
