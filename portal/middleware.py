import contextvars
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponseBadRequest
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from portal.api.errors import is_api_request, plain_problem

# The address of the client whose request is being served, for audit events written deep inside
# services. None outside a request (Celery tasks, management commands).
current_client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_client_address", default=None
)
# The API key a REST API request authenticated with (portal.api.authentication), for the audit
# events and activity rows written under it. None for pages, tasks and commands.
current_api_key: contextvars.ContextVar = contextvars.ContextVar("current_api_key", default=None)


def actor_label_for(actor) -> str:
    """How an actor is recorded: the e-mail address, and the API key when one acted."""
    api_key = current_api_key.get()
    if api_key is None:
        return actor.email
    return f"{actor.email} · API key “{api_key.name}” ({api_key.shown})"[:254]


def parse_address(entry: str) -> str | None:
    """The IP address in one X-Forwarded-For entry or REMOTE_ADDR, or None when it holds none.

    Proxies write `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]` or
    `[2001:db8::1]:443`; an IPv4 address mapped into IPv6 (`::ffff:1.2.3.4`) is the IPv4 client,
    so that one client has one counter whichever way its proxy wrote it.
    """
    host = entry.strip()
    if host.startswith("["):
        host, bracket, port = host[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and _is_port(port[1:]))):
            return None
    elif host.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has two colons or more
        host, _colon, port = host.partition(":")
        if not _is_port(port):
            return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address, trusting X-Forwarded-For only as far as TRUSTED_PROXY_COUNT says.

    None only when REMOTE_ADDR itself is no address (a server on a Unix socket without proxy).
    """
    nearest = parse_address(request.META.get("REMOTE_ADDR", ""))
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            # Each trusted proxy appends the address it received from, so the client is the
            # entry `hops` from the right; anything further left may be forged.
            client = parse_address(forwarded[-hops])
            if client is not None:
                return client
            # The trusted entry is no address ("unknown" when the proxy could not tell, or
            # garbage). None would skip the per-address guessing counter, so a client able to
            # make its proxy write that would guess without limit: count the try against the
            # nearest proxy instead, which is always a real address.
    return nearest


class ClientAddressMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client_address = client_address(request)
        token = current_client_address.set(request.client_address)
        try:
            return self.get_response(request)
        finally:
            current_client_address.reset(token)


def _holds_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in value for value in data.getlist(key)) for key in data)


class RefuseNulMiddleware:
    """Answers 400 to a request whose path, query string or form holds a NUL character.

    PostgreSQL refuses NUL in text (psycopg2 raises ValueError), so a NUL that reached a query
    was a 500. It is the only character it refuses: bytes that are not UTF-8 were already
    replaced when Django decoded the request. Form fields refuse NUL too, but views and the
    admin also read the query string directly.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or _holds_nul(request.GET) or _holds_nul(request.POST):
            message = _("The request holds a NUL character, which the portal does not accept.")
            if is_api_request(request):
                return plain_problem("invalid", 400, message)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


# Pages that show a customer's data or echo a product key (a bearer secret): no copy may stay in
# a browser's or a proxy's cache, where the next person at a shared computer would find it.
# (The admin already sends no-store on all its pages; the key look-up is named so that the rule
# does not rest on that.)
NO_STORE_PREFIXES = ("/partner/", "/customer/", "/admin/keys/productkey/lookup/", "/api/v1/")


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(NO_STORE_PREFIXES):
            add_never_cache_headers(response)
        return response
