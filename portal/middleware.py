import contextvars
import ipaddress

from django.conf import settings
from django.http import HttpRequest

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
