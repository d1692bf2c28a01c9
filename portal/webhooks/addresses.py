"""Where a webhook may be sent, and sending it there.

An endpoint's host must resolve to public addresses only: never loopback, private, link-local,
multicast, reserved or unspecified ones (a partner must not make the portal call the portal's own
network). Checked when the endpoint is registered, and again before each try, whose connection
then goes to the very address just checked (a DNS answer that changes in between, "DNS
rebinding", cannot send it elsewhere); the Host header and TLS (SNI, certificate) use the name.
WEBHOOKS_ALLOW_LOOPBACK lets development and tests use http://127.0.0.1 and http://localhost.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

TIMEOUT = 10.0  # seconds, for the whole try: connecting, sending, the answer's first KB
READ_LIMIT = 4096  # bytes of the answer read at most; the rest is never downloaded
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class UrlRefused(ValueError):
    """The URL may not receive webhooks; the message says why, for the partner."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name, for the Host header and TLS
    port: int
    path: str  # with the query string
    address: str  # the IP address checked, which the connection goes to


def _address_refused(address: str, loopback_allowed: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return not loopback_allowed
    return (
        ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def url_target(url: str) -> Target:
    """The URL's parts and the checked address to connect to; raises UrlRefused."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise UrlRefused(_("Enter a valid URL.")) from error
    host = (parts.hostname or "").rstrip(".").lower()
    if not host or parts.scheme not in ("https", "http"):
        raise UrlRefused(_("Enter a valid https:// URL."))
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(_("The URL may not hold a user name or password."))
    loopback_allowed = settings.WEBHOOKS_ALLOW_LOOPBACK and host in LOOPBACK_NAMES
    if parts.scheme != "https" and not loopback_allowed:
        raise UrlRefused(_("Webhooks are only sent to https:// URLs."))
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UrlRefused(_("The host %(host)s could not be found.") % {"host": host}) from error
    addresses = list(dict.fromkeys(answer[4][0] for answer in answers))
    if not addresses or any(_address_refused(a, loopback_allowed) for a in addresses):
        raise UrlRefused(
            _(
                "The host %(host)s is on a private or local network: webhooks are only sent "
                "to addresses on the internet."
            )
            % {"host": host}
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


def url_problem(url: str) -> str | None:
    """Why the URL may not receive webhooks, or None when it may."""
    try:
        url_target(url)
    except UrlRefused as error:
        return str(error)
    return None


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever the name resolves to now."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedTLSConnection(_PinnedConnection):
    def connect(self):
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: bytes  # at most READ_LIMIT bytes


def post(target: Target, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to the target; the answer's status and first bytes. Redirects are answers
    like any other (never followed). Raises OSError (timeouts included) and HTTPException."""
    deadline = time.monotonic() + TIMEOUT
    kind = _PinnedTLSConnection if target.scheme == "https" else _PinnedConnection
    connection = kind(target, timeout=TIMEOUT)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        sock = connection.sock  # getresponse() hands it to the response when it will close
        _time_left(sock, deadline)
        response = connection.getresponse()
        data = b""
        while len(data) < READ_LIMIT:
            _time_left(sock, deadline)
            chunk = response.read1(READ_LIMIT - len(data))
            if not chunk:
                break
            data += chunk
        return Answer(response.status, data)
    finally:
        connection.close()


def _time_left(sock: socket.socket, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(_("No answer within %(seconds)d seconds.") % {"seconds": TIMEOUT})
    sock.settimeout(left)
