from django.urls import path
from django.views.i18n import JavaScriptCatalog

from mfa import resets, views, webauthn

app_name = "mfa"

# django-otp-webauthn's ceremonies under its own namespace (its script reads their URLs by name),
# with the portal's rules (mfa.webauthn).
webauthn_urls = (
    [
        path(
            "registration/begin/",
            webauthn.PasskeyRegistrationBegin.as_view(),
            name="credential-registration-begin",
        ),
        path(
            "registration/complete/",
            webauthn.PasskeyRegistrationComplete.as_view(),
            name="credential-registration-complete",
        ),
        path(
            "authentication/begin/",
            webauthn.views.BeginCredentialAuthenticationView.as_view(),
            name="credential-authentication-begin",
        ),
        path(
            "authentication/complete/",
            webauthn.PasskeyAuthenticationComplete.as_view(),
            name="credential-authentication-complete",
        ),
        # The script's words, in the page's language (the French is the portal's:
        # locale_libraries/fr/LC_MESSAGES/djangojs.po, as the library ships none).
        path(
            "jsi18n/",
            JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
            name="js-i18n-catalog",
        ),
    ],
    "otp_webauthn",
)

urlpatterns = [
    path("accounts/verify/", views.verify, name="verify"),
    path("accounts/verify/continue/", views.resume, name="resume"),
    path("accounts/security/", views.security, name="security"),
    path("accounts/security/authenticator-app/", views.app_setup, name="app_setup"),
    path("accounts/security/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("accounts/security/<str:kind>/<int:pk>/", views.factor, name="factor"),
    path(
        "partner/team/<int:user_pk>/second-factor/reset/",
        resets.partner_user_reset,
        name="partner_user_reset",
    ),
]
