"""E-mail backends for tests that need a mail server that fails, stalls or is slow."""

import os
import smtplib
import time
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class DownBackend(BaseEmailBackend):
    """A mail server that drops the connection, as smtplib reports it."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class SlowBackend(LocmemBackend):
    """locmem, but each send takes a moment: parallel senders really overlap."""

    def send_messages(self, email_messages):
        time.sleep(0.05)
        return super().send_messages(email_messages)


class StallingBackend(BaseEmailBackend):
    """Writes the Message-ID it is sending to the file named by TEST_EMAIL_MARKER, then hangs:
    the test kills the worker while it is "sending"."""

    def send_messages(self, email_messages):
        marker = Path(os.environ["TEST_EMAIL_MARKER"])
        marker.write_text("\n".join(m.extra_headers.get("Message-ID", "") for m in email_messages))
        time.sleep(300)
        return 0


class ClaimTimeoutBackend(LocmemBackend):
    """Records the database's idle-in-transaction timeout in force while the e-mail is sent."""

    seen: list[str] = []

    def send_messages(self, email_messages):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW idle_in_transaction_session_timeout")
            self.seen.append(cursor.fetchone()[0])
        return super().send_messages(email_messages)


class PausingBackend(BaseEmailBackend):
    """Takes TEST_EMAIL_PAUSE seconds (3) to send, noting in the file named by TEST_EMAIL_MARKER
    each message's Message-ID when it starts ("sending …") and when it is done ("sent …"): a
    worker stopped meanwhile shows whether it finished the message first."""

    def send_messages(self, email_messages):
        marker = Path(os.environ["TEST_EMAIL_MARKER"])
        ids = [m.extra_headers.get("Message-ID", "") for m in email_messages]
        with marker.open("a") as notes:
            notes.writelines(f"sending {message_id}\n" for message_id in ids)
        time.sleep(float(os.environ.get("TEST_EMAIL_PAUSE", "3")))
        with marker.open("a") as notes:
            notes.writelines(f"sent {message_id}\n" for message_id in ids)
        return len(email_messages)
