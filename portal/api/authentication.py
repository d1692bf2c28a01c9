"""`Authorization: Bearer <key>`: the only way into the API (no session, no cookie, no CSRF)."""

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from portal.api.services import KeyRefused, api_key_authenticate
from portal.middleware import current_api_key


def _refusal_messages() -> dict[str, str]:
    return {
        "malformed": _("This is not an API key of this portal: check that it was copied whole."),
        "unknown": _("This API key is not known."),
        "revoked": _("This API key was revoked."),
        "expired": _("This API key has expired."),
        "owner_gone": _(
            "The partner admin who created this API key can no longer act for the partner."
        ),
    }


class KeyRefusedError(exceptions.AuthenticationFailed):
    def __init__(self, code: str):
        super().__init__(detail=_refusal_messages()[code], code=f"key_{code}")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise KeyRefusedError("malformed")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise KeyRefusedError("malformed") from None
        try:
            actor = api_key_authenticate(raw, client_address=request._request.client_address)
        except KeyRefused as refused:
            raise KeyRefusedError(refused.code) from None
        # Audit events and activity rows written during this request name the key (ApiView's
        # dispatch resets it when the request ends, however it ends).
        current_api_key.set(actor.key)
        return actor.user, actor

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": _("A partner's API key (pkp_…), created on the API keys page."),
        }
