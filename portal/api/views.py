"""The base of every API view: key authentication, a scope per method, the rate limit, the
language of `Accept-Language`, and the audit's knowledge of the key for the request's length."""

import contextlib
import json
from datetime import date
from functools import reduce
from operator import or_

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import trans_real
from rest_framework import exceptions
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.views import APIView

from portal.api.permissions import HasScope
from portal.api.ratelimit import rate_count
from portal.api.schema import MAX_PAGE_SIZE, PAGE_SIZE, ScopedSchema
from portal.api.services import KeyActor
from portal.middleware import current_api_key


def accepted_language(request) -> str:
    """The first language of `Accept-Language` the portal speaks (en, fr), else the default:
    cookies are not read (Django's own look-up would prefer a language cookie)."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in trans_real.parse_accept_lang_header(header):
        if code == "*":
            break
        with contextlib.suppress(LookupError):
            return trans_real.get_supported_language_variant(code)
    return settings.LANGUAGE_CODE


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

    def dispatch(self, request, *args, **kwargs):
        # The key that authenticates (portal.api.authentication sets it) is the audit's and the
        # guessing limits' for this request only, whatever ends it: an answer, an error DRF does
        # not handle, a body too large. A worker thread's next request starts without it.
        token = current_api_key.set(None)
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            current_api_key.reset(token)

    def initial(self, request, *args, **kwargs):
        """DRF's, with the rate limit counted before the scope is checked: refused requests
        count too, and every answer to a known key carries the RateLimit headers."""
        # The API answers in the language the client asks for (Accept-Language), never the
        # language a browser session or cookie picked.
        language = accepted_language(request._request)
        translation.activate(language)
        request._request.LANGUAGE_CODE = language
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(
            request
        )
        request.version, request.versioning_scheme = self.determine_version(
            request, *args, **kwargs
        )
        self.perform_authentication(request)
        self.check_throttles(request)
        self.check_permissions(request)

    def check_throttles(self, request):
        try:
            actor = request.auth
        except exceptions.APIException:
            return  # a refused key: the permission check answers 401
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
        return response


class CursorPage(CursorPagination):
    """Cursor pagination: stable under inserts, no page counts to compute. A cursor that is not
    one this API made (its position not a value of the ordering's field, a NUL inside) is the
    "invalid cursor" 404, never a 500."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = "-id"

    def paginate_queryset(self, queryset, request, view=None):
        with _cursor_checked(self):
            return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and "\x00" in cursor.position:
            raise NotFound(self.invalid_cursor_message)
        return cursor


@contextlib.contextmanager
def _cursor_checked(page: CursorPagination):
    """The query a cursor's position went into fails on a value of the wrong kind: a 404."""
    try:
        yield
    except (ValueError, TypeError, ValidationError, DataError):
        raise NotFound(page.invalid_cursor_message) from None


class KeysetPage(CursorPage):
    """Cursor pagination on a total order of plain fields (`ordering`, its last one unique): the
    cursor holds every field of the row it continues from, so that customers sharing a name or
    an end date page correctly however many they are (DRF's own cursor keeps the first field
    only, with an offset for ties that it caps at 1000)."""

    def __init__(self, ordering):
        self.ordering = tuple(ordering)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.cursor = self.decode_cursor(request)
        backwards = self.cursor is not None and self.cursor.reverse
        position = None if self.cursor is None else self.cursor.position
        ordering = _reversed(self.ordering) if backwards else self.ordering
        queryset = queryset.order_by(*ordering)
        if position is not None:
            queryset = self._beyond(queryset, ordering, position)
        with _cursor_checked(self):
            rows = list(queryset[: self.page_size + 1])
        self.page = rows[: self.page_size]
        following = None
        if len(rows) > self.page_size:
            following = self._get_position_from_instance(rows[-1], self.ordering)
        if backwards:
            self.page.reverse()
            self.has_next, self.next_position = position is not None, position
            self.has_previous, self.previous_position = following is not None, following
        else:
            self.has_next, self.next_position = following is not None, following
            self.has_previous, self.previous_position = position is not None, position
        return self.page

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)  # CursorPage's: NUL refused
        # Every position is unique: the links this page makes never carry an offset.
        return cursor if cursor is None else cursor._replace(offset=0)

    def _get_position_from_instance(self, instance, ordering):
        values = [getattr(instance, field.lstrip("-")) for field in ordering]
        return json.dumps(
            [value.isoformat() if isinstance(value, date) else value for value in values],
            separators=(",", ":"),
        )

    def _beyond(self, queryset, ordering, position: str):
        """The rows after `position` in `ordering`: (a, b, c) > (x, y, z), spelt out."""
        names = [field.lstrip("-") for field in ordering]
        try:
            values = json.loads(position)
            if not isinstance(values, list) or len(values) != len(names):
                raise ValueError(position)
            after = [
                Q(**dict(zip(names[:i], values[:i], strict=True)))
                & Q(**{f"{names[i]}__{'lt' if field.startswith('-') else 'gt'}": values[i]})
                for i, field in enumerate(ordering)
            ]
            return queryset.filter(reduce(or_, after))
        except (TypeError, ValueError, ValidationError):
            raise NotFound(self.invalid_cursor_message) from None


def _reversed(ordering) -> tuple[str, ...]:
    return tuple(field[1:] if field.startswith("-") else f"-{field}" for field in ordering)
