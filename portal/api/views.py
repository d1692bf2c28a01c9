"""The base of every API view: key authentication, a scope per method, the rate limit, the
language of `Accept-Language`, and the audit's knowledge of the key for the request's length."""

from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.views import APIView

from portal.api.permissions import HasScope
from portal.api.ratelimit import rate_count
from portal.api.schema import ScopedSchema
from portal.api.services import KeyActor
from portal.middleware import current_api_key


class ApiView(APIView):
    """`scopes`: {"GET": "customers:read", "POST": "customers:write"}. The request's user is the
    key's creator, acting with the key's role (`request.auth`: the KeyActor)."""

    permission_classes = [HasScope]
    schema = ScopedSchema()
    scopes: dict[str, str] = {}

    def required_scope(self, method: str) -> str | None:
        return self.scopes.get(method.upper())

    @property
    def actor(self) -> KeyActor:
        return self.request.auth

    @property
    def membership(self):
        return self.request.auth.membership

    @property
    def partner(self):
        return self.request.auth.membership.partner

    @property
    def client_address(self) -> str | None:
        return self.request._request.client_address

    def initial(self, request, *args, **kwargs):
        # The API answers in the language the client asks for (Accept-Language), never the
        # language a browser session or cookie picked.
        language = translation.get_language_from_request(request._request)
        translation.activate(language)
        request._request.LANGUAGE_CODE = language
        super().initial(request, *args, **kwargs)

    def check_throttles(self, request):
        actor = request.auth
        if not isinstance(actor, KeyActor):
            return
        state = rate_count(actor.key.pk)
        request._request.api_rate = state
        if state.exceeded:
            raise exceptions.Throttled(
                wait=state.reset,
                detail=_("Too many requests with this API key. Try again in %(seconds)d s.")
                % {"seconds": state.reset},
            )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request._request, "api_rate", None)
        if state is not None:
            for name, value in state.headers.items():
                response[name] = value
        response["Content-Language"] = translation.get_language()
        token = getattr(request._request, "api_key_token", None)
        if token is not None:
            current_api_key.reset(token)
            request._request.api_key_token = None
        return response


class CursorPage(CursorPagination):
    """Cursor pagination: stable under inserts, no page counts to compute."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"
