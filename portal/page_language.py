"""E-mails in the language of the pages a person reads, until they pick one (issue 16)."""

from django.conf import settings

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
            and (
                "HTTP_ACCEPT_LANGUAGE" in request.META
                or settings.LANGUAGE_COOKIE_NAME in request.COOKIES
            )
        ):
            user_language_follow(user=user, language=request.LANGUAGE_CODE)
        return self.get_response(request)
