"""A partner's receiver on the loopback interface: a real HTTP server in a thread that checks
every signature with the standardwebhooks library, as a partner's system would. The `receiver`
fixture (tests/conftest.py) runs one for a test."""

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_by: list[str]  # the secrets (of Receiver.secrets) whose signature matched

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    url: str
    secrets: list[str] = field(default_factory=list)
    # The answers to give, in order (then 200): a status code, or a callable(handler).
    answers: list = field(default_factory=list)
    delay: float = 0.0  # seconds before each answer
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, body: bytes, headers: dict[str, str]) -> list[str]:
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified.append(secret)
        return verified

    @property
    def ids(self) -> list[str]:
        return [request.webhook_id for request in self.received]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, headers, body, receiver.verify(body, headers))
                )
                answer = receiver.answers.pop(0) if receiver.answers else 200
            time.sleep(receiver.delay)
            if callable(answer):
                answer(self)
                return
            self.send_response(answer)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    return Handler


@contextlib.contextmanager
def receiving():
    """A receiver listening on 127.0.0.1 (a free port) until the block ends."""
    holder = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    server.daemon_threads = True
    server.block_on_close = False
    holder.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield holder
    finally:
        server.shutdown()
        server.server_close()
