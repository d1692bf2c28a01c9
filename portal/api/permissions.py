"""The scope check of every API view (its `scopes` per method)."""

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from portal.api.errors import Problem
from portal.api.services import KeyActor


class HasScope(BasePermission):
    """The key holds the scope the view declares for the request's method."""

    def has_permission(self, request, view):
        actor = request.auth
        if not isinstance(actor, KeyActor):
            raise exceptions.NotAuthenticated(_("Send an API key: Authorization: Bearer <key>."))
        scope = view.required_scope(request.method)
        if scope is None:  # HEAD, OPTIONS, or a method the view does not serve
            raise exceptions.MethodNotAllowed(request.method)
        if not actor.has_scope(scope):
            raise Problem(
                "insufficient_scope",
                _("This API key does not hold the scope %(scope)s.") % {"scope": scope},
                status_code=403,
                required_scope=scope,
            )
        return True
