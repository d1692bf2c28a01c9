"""The portal's URLs plus one that fails, so that a browser test meets the real 500 page."""

from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def server_error(request):
    raise RuntimeError("A page that fails on purpose (tests/browser/error_urls.py).")


urlpatterns = [*portal_urlpatterns, path("test-server-error/", server_error)]
