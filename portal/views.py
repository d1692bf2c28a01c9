import hmac
import logging
import secrets
import sys

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language as django_set_language

from portal import metrics
from portal.access import home_url_for
from portal.api.errors import is_api_request, plain_problem
from portal.celery import app as celery_app
from portal.forms import PasswordResetForm, SignInForm
from portal.outages import outage_of, outage_response
from portal.services import email_link_attempt_start, user_language_set
from portal.throttle import retry_after_seconds

logger = logging.getLogger(__name__)


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # A language picked in the header before signing in is the person's choice as much as
        # one picked after: saved on the account, so that their e-mails follow the pages they
        # read. Only the switch sets this cookie; a browser's Accept-Language is no choice and
        # leaves the account as it is.
        language = self.request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        # Without that cookie the pages stay in the browser's language: the account's language
        # may be only the default ("en") that nobody chose.
        if language:
            user_language_set(user=form.get_user(), language=language)
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.blocked_until is not None:
            response.status_code = 429
            response["Retry-After"] = str(retry_after_seconds(form.blocked_until))
        return response


def too_many_tries(request, template: str, until):
    """A guessing limit's 429 page: `template` says which limit and when to try again, the
    Retry-After header says it to programs."""
    response = render(request, template, {"until": until}, status=429)
    response["Retry-After"] = str(retry_after_seconds(until))
    return response


def too_many_email_links(request, until):
    """The 429 page of the link e-mails' limits (password reset, activation resent)."""
    return too_many_tries(request, "portal/too_many_email_links.html", until)


class PasswordResetView(auth_views.PasswordResetView):
    """The reset link is queued in the outbox, under a limit per address asked and per client.

    The answer is the same whether or not an account uses the address (the limit counts every
    ask), so the page tells nobody which addresses have accounts.
    """

    form_class = PasswordResetForm

    def form_valid(self, form):
        attempt = email_link_attempt_start(
            email=form.cleaned_data["email"], client_address=self.request.client_address
        )
        if attempt.blocked:
            return too_many_email_links(self.request, attempt.until)
        with transaction.atomic():
            return super().form_valid(form)


@require_POST
def set_language(request):
    """Django's language switch, which also remembers the choice for a signed-in person."""
    response = django_set_language(request)
    if request.user.is_authenticated:
        user_language_set(user=request.user, language=request.POST.get("language", ""))
    return response


@login_required
def home(request):
    url = home_url_for(request.user)
    if url is None:
        # Signed in, but neither partner user, customer admin nor staff (for example a partner
        # membership that ops removed): say so instead of bouncing between pages.
        return render(request, "portal/no_role.html", status=403)
    return redirect(url)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        logger.exception("health check: database unreachable")
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return True
    except Exception:  # any failure of the transport means "down"; the log says which
        logger.exception("health check: broker unreachable")
        return False


def _cache_ok() -> bool:
    # The guessing limits live in the cache: without it sign-ins and key look-ups fail, so a
    # web process that cannot reach it is not healthy even though the database answers.
    key = f"healthz:{secrets.token_hex(8)}"
    try:
        cache.set(key, "ok", timeout=5)
        ok = cache.get(key) == "ok"
        cache.delete(key)
        return ok
    except Exception:  # any failure of the backend means "down"; the log says which
        logger.exception("health check: cache unreachable")
        return False


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok(), "cache": _cache_ok()}
    healthy = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            **{name: "up" if ok else "down" for name, ok in checks.items()},
        },
        status=200 if healthy else 503,
    )


def _migrations_state() -> str:
    """ "applied" when this code's migrations are all in the database, "pending" when some are
    not (the new code started before `migrate`), "unknown" when the database cannot say.
    Migrations the database has and this code does not know (new migrations, old code still
    serving during an upgrade) leave the old code ready."""
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        logger.exception("readiness check: migrations unreadable")
        return "unknown"
    return "pending" if plan else "applied"


@never_cache
@require_GET
def readyz(request):
    """Whether this node may take traffic: /healthz's three, and the schema its code expects.
    The answer names the part that failed and nothing else; the log has the details."""
    checks = {"database": _database_ok(), "broker": _broker_ok(), "cache": _cache_ok()}
    answer = {name: "up" if ok else "down" for name, ok in checks.items()}
    answer["migrations"] = _migrations_state() if checks["database"] else "unknown"
    ready = all(checks.values()) and answer["migrations"] == "applied"
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", **answer}, status=200 if ready else 503
    )


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus's scrape, for `Authorization: Bearer <METRICS_TOKEN>` only; 404 when no token
    is set (the endpoint is off)."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        response = HttpResponse(status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


def server_error(request):
    """The 500 answer: the API's as problem+json, the pages' as Django's (templates/500.html).

    Django calls it while handling the exception: when that exception says the database or
    Redis is away, the answer is a 503 saying so (portal.outages) instead."""
    outage = outage_of(sys.exception())
    if outage is not None:
        return outage_response(request, outage)
    if is_api_request(request):
        return plain_problem(
            "server_error", 500, _("The request could not be completed. Try again later.")
        )
    return defaults.server_error(request)
