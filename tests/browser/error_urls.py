"""The portal's URLs plus one that fails, so that a browser test meets the real 500 page. The
portal's own 500 handler comes along: it answers an outage of the database or Redis with the
503 page (portal.outages), as in production."""

from django.urls import path

from portal import urls as portal_urls

handler500 = portal_urls.handler500


def server_error(request):
    raise RuntimeError("A page that fails on purpose (tests/browser/error_urls.py).")


urlpatterns = [*portal_urls.urlpatterns, path("test-server-error/", server_error)]
