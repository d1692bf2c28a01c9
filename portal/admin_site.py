"""The operations admin: staff with a verified second factor, signed in through the portal's own
sign-in (password, then factor), never through a form of its own."""

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse

from portal.second_factor import session_verified


class PortalAdminSite(admin.AdminSite):
    def has_permission(self, request):
        return super().has_permission(request) and session_verified(request.user)

    def login(self, request, extra_context=None):
        """One sign-in for everyone. A signed-in person who lands here lacks either staff rights
        or a verified factor: the gate (mfa.middleware) has already asked for the factor, so
        what is missing is a factor to verify with; the security page adds one."""
        if request.user.is_authenticated and request.user.is_staff:
            return redirect("mfa:security")
        if request.user.is_authenticated:
            return redirect("home")
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"))
