from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from mfa import urls as mfa_urls
from portal import views

admin.site.site_header = _("Partner Key Portal — operations")
admin.site.site_title = _("Partner Key Portal")
admin.site.index_title = _("Operations")

handler500 = "portal.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics_view, name="metrics"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    # Before Django's own: the reset e-mail goes to the outbox, under a limit.
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("api/", include("portal.api.urls")),
    path("", include("mfa.urls")),
    path("accounts/webauthn/", include(mfa_urls.webauthn_urls)),
    path("", include("keys.urls")),
    path("", include("tenants.urls")),
    path("", include("renewals.urls")),
]
