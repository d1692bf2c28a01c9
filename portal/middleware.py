import contextvars
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponseBadRequest
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

# The address of the client whose request is being served, for audit events written deep inside
# services. None outside a request (Celery tasks, management commands).
current_client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_client_address", default=None
)


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address, trusting X-Forwarded-For only as far as TRUSTED_PROXY_COUNT says."""
    candidate = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            # Each trusted proxy appends the address it received from, so the client is the
            # entry `hops` from the right; anything further left may be forged.
            candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


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
            return HttpResponseBadRequest(
                _("The request holds a NUL character, which the portal does not accept."),
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


# Pages that show a customer's data or echo a product key (a bearer secret): no copy may stay in
# a browser's or a proxy's cache, where the next person at a shared computer would find it.
# (The admin already sends no-store on all its pages; the key look-up is named so that the rule
# does not rest on that.)
NO_STORE_PREFIXES = ("/partner/", "/customer/", "/admin/keys/productkey/lookup/")


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(NO_STORE_PREFIXES):
            add_never_cache_headers(response)
        return response
