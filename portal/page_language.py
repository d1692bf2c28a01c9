"""E-mails in the language of the pages a person reads, until they pick one (issue 16)."""

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

from portal.services import user_language_follow


class PageLanguageMiddleware:
    """Until a person picks a language in the header, their e-mails follow the language of the
    pages they read (`portal.services.user_language_follow`). Only a language the browser or the
    switch's cookie expressed counts: a request that says none (a script) changes nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.language_chosen_at is None
            and _language_named(request)
        ):
            user_language_follow(user=user, language=request.LANGUAGE_CODE)
        return self.get_response(request)


def _language_named(request) -> bool:
    """Whether the switch's cookie or the browser's Accept-Language names a language the portal
    speaks (a browser asking only for German gets the default pages: nothing to follow)."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return True
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            continue
        try:
            get_supported_language_variant(code)
        except LookupError:
            continue
        return True
    return False
