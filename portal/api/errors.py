"""Errors as `application/problem+json` (RFC 9457): a stable `type` per error, the HTTP status,
a title and detail in the language of `Accept-Language`, and the field errors."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "tag:partner-key-portal,2026:problem:"


class Problem(exceptions.APIException):
    """An error a service reports: `code` becomes the stable type, `errors` the field errors."""

    def __init__(self, code: str, detail: str, *, status_code: int = 400, errors=None, **extra):
        self.status_code = status_code
        self.problem_code = code
        self.errors = errors
        self.extra = extra
        super().__init__(detail=detail, code=code)


def _titles() -> dict[int, str]:
    return {
        400: _("The request is not valid."),
        401: _("An API key is required."),
        403: _("This API key may not do that."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        406: _("This format is not available."),
        409: _("Conflict."),
        415: _("This content type is not supported."),
        422: _("The request cannot be processed."),
        413: _("The request is too large."),
        429: _("Too many requests."),
        500: _("Something went wrong on our side."),
        503: _("The service is unavailable for a moment."),
    }


def problem_response(
    code: str, status_code: int, detail: str, *, errors=None, headers=None, **extra
):
    body = {
        "type": f"{TYPE_BASE}{code}",
        "title": _titles().get(status_code, _("Error.")),
        "status": status_code,
        "detail": detail,
        **extra,
    }
    if errors:
        body["errors"] = errors
    response = Response(body, status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _plain(detail):
    """DRF's error detail as JSON: messages as text, a list's items' errors by index."""
    if isinstance(detail, dict):
        return {str(name): _plain(value) for name, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(value) for value in detail]
    return str(detail)


def field_errors(detail) -> dict:
    """A serializer's errors as the problem's `errors`: {field: [messages]}, nested where the
    serializer nests ("non_field_errors" for errors about the whole)."""
    plain = _plain(detail)
    return plain if isinstance(plain, dict) else {"non_field_errors": plain}


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def problem_exception_handler(exc, context):
    """DRF's exception handler, answering problem+json; anything else is a 500 as usual."""
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            "too_large", 413, _("The body is too large: send fewer items at a time.")
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    from rest_framework.views import set_rollback  # here: DRF's settings import this module

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    if isinstance(exc, Problem):
        return problem_response(
            exc.problem_code,
            exc.status_code,
            str(exc.detail),
            errors=exc.errors,
            headers=headers,
            **exc.extra,
        )
    if isinstance(exc, exceptions.ValidationError):
        return problem_response(
            "invalid",
            status.HTTP_400_BAD_REQUEST,
            _("Some fields are not valid: see errors."),
            errors=field_errors(exc.detail),
        )
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem_response(_code_of(exc), exc.status_code, detail, headers=headers)


def plain_problem(code: str, status_code: int, detail: str) -> JsonResponse:
    """A problem answered outside DRF (middleware, the 500 handler) for a request to /api/."""
    body = {
        "type": f"{TYPE_BASE}{code}",
        "title": _titles().get(status_code, _("Error.")),
        "status": status_code,
        "detail": detail,
    }
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def is_api_request(request) -> bool:
    return request.path_info.startswith("/api/")
