"""Adding users from a file (issue 16): a CSV of first name, last name, user name, contact
e-mail, language and products; a preview with every bad line numbered and explained; then all
the users or none, in one transaction under the tenant's lock.

The file's lines wait in a `UserImport` row owned by the person who uploaded it (STYLE 4): the
preview survives a closed window, and "Add N users" needs no second upload. The lines are stored
as read and checked on every look (the preview) and once more under the lock (the import), by
the same function, with the same rules as the add-user form (`username_format_problem`, the
e-mail validators, `subscription_unassignable`, the seats). Each user is added by
`tenant_user_add`, so each gets the form's audit event, activity row, activation e-mail
(through the outbox, in the transaction) and licenses (`license_assign`, with its row lock).

Up to BACKGROUND_ROWS users are added in the request; a larger file is added by a Celery worker
(sent by name, `tenants.tasks.run_user_import`) while its page shows a progress bar: a few
hundred users with their e-mails take longer than a request should.
"""

import csv
import io
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from kombu.exceptions import OperationalError as BrokerUnavailable

from portal.celery import task_send
from portal.identity import email_normalize, validate_email_local_part
from portal.models import User
from portal.progress import progress_reporter
from portal.services import audit_log
from portal.validators import refuse_bidi_controls
from tenants.access import Permission, TenantAccess, tenant_access
from tenants.models import Subscription, Tenant, TenantUser, UserImport
from tenants.services.users import (
    LicenseError,
    TenantUserError,
    UserDetails,
    email_taken_message,
    seat_choices,
    tenant_user_add,
    username_format_problem,
    username_taken_message,
)

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 1024 * 1024  # 2,000 lines of a few names are far below
MAX_ROWS = 2_000
# More users than this are added by a worker, with a progress bar; fewer, in the request.
BACKGROUND_ROWS = 200

# The columns, and the header names a person may write for them (English, French, the code).
COLUMNS = {
    "first_name": gettext_lazy("first name"),
    "last_name": gettext_lazy("last name"),
    "username": gettext_lazy("user name"),
    "email": gettext_lazy("contact e-mail"),
    "language": gettext_lazy("language"),
    "products": gettext_lazy("products"),
}
_HEADERS = {
    "first_name": {"first name", "firstname", "given name", "prénom", "prenom"},
    "last_name": {"last name", "lastname", "surname", "family name", "nom", "nom de famille"},
    "username": {"user name", "username", "nom d'utilisateur", "identifiant"},
    "email": {
        "contact e-mail",
        "contact email",
        "e-mail",
        "email",
        "contact e-mail address",
        "adresse e-mail de contact",
        "adresse e-mail",
        "e-mail de contact",
        "courriel",
    },
    "language": {"language", "preferred language", "langue", "langue préférée"},
    "products": {"products", "product", "licenses", "produits", "produit", "licences"},
}
REQUIRED = ("first_name", "last_name", "username", "email", "language")
LANGUAGES = {code for code, _name in settings.LANGUAGES}


class UserImportFileError(Exception):
    """The file as a whole cannot be read (not CSV, too large, no header): nothing is kept."""


@dataclass
class ImportLine:
    """One line of the file, with what is wrong with it (nothing: it can be added)."""

    row: dict
    problems: list[str] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.row["line"]

    @property
    def products(self) -> list[str]:
        return [subscription.product.name for subscription in self.subscriptions]


# --- Reading the file --------------------------------------------------------------------------


def _header_key(cell: str) -> str | None:
    name = " ".join(cell.replace("\ufeff", "").replace("’", "'").replace("_", " ").split())
    name = name.casefold().rstrip(" *:")
    for key, names in _HEADERS.items():
        if name in names:
            return key
    return None


def _separator(header_line: str) -> str:
    """French spreadsheet programs write `;`, others `,`: the header says which."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _decode(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise UserImportFileError(
            _("The file is larger than %(size)s. Add the users in several files.")
            % {"size": filesizeformat(MAX_FILE_BYTES)}
        )
    try:
        text = data.decode("utf-8-sig")  # with or without a byte order mark
    except UnicodeDecodeError:
        raise UserImportFileError(
            _("This is not a CSV file in UTF-8. Save the spreadsheet as “CSV UTF-8” and upload it.")
        ) from None
    if "\x00" in text:
        raise UserImportFileError(
            _("This is not a CSV file in UTF-8. Save the spreadsheet as “CSV UTF-8” and upload it.")
        )
    return text


def _columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, cell in enumerate(header):
        key = _header_key(cell)
        if key is not None and key not in columns:
            columns[key] = position
    missing = [str(COLUMNS[key]) for key in REQUIRED if key not in columns]
    if missing:
        raise UserImportFileError(
            _(
                "The first line must name the columns; missing: %(columns)s. Start from the "
                "template."
            )
            % {"columns": ", ".join(missing)}
        )
    return columns


def _row(cells: list[str], columns: dict[str, int], line: int) -> dict:
    def cell(key: str) -> str:
        position = columns.get(key)
        return cells[position].strip() if position is not None and position < len(cells) else ""

    products = cell("products")
    position = columns.get("products")
    if position is not None and position == max(columns.values()) and len(cells) > position + 1:
        # Products separated by `;` in a file separated by `;`, without quotes: the extra
        # cells are more products.
        products = ";".join(cells[position:])
    row = {key: cell(key) for key in REQUIRED}
    row["products"] = [name.strip() for name in products.split(";") if name.strip()]
    row["line"] = line
    return row


def user_import_read(data: bytes) -> list[dict]:
    """The file's lines as rows of cells (nothing checked but the shape of the file). Raises
    UserImportFileError for a file that is not a CSV with a header, or too large."""
    text = _decode(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise UserImportFileError(_("The file is empty."))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(first), strict=True)
    rows: list[dict] = []
    columns = None
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns = _columns(cells)
                continue
            rows.append(_row(cells, columns, start))
            if len(rows) > MAX_ROWS:
                raise UserImportFileError(
                    _("The file has more than %(max)d users. Add them in several files.")
                    % {"max": MAX_ROWS}
                )
    except csv.Error:
        raise UserImportFileError(
            _("Line %(line)d is not valid CSV (a quote is not closed?).") % {"line": line}
        ) from None
    if not rows:
        raise UserImportFileError(_("The file has no user below its header line."))
    return rows


# --- Checking the lines ------------------------------------------------------------------------


def _name_problems(row: dict) -> list[str]:
    problems = []
    for key in ("first_name", "last_name"):
        value = row[key]
        if not value:
            continue  # said once, with the other missing cells
        if len(value) > 150:
            problems.append(_("The %(column)s is longer than 150 characters.") % _col(key))
        elif not any(ch.isalpha() for ch in value):
            problems.append(_("The %(column)s has no letters.") % _col(key))
        else:
            try:
                refuse_bidi_controls(value)
            except ValidationError as error:
                problems.extend(error.messages)
    return problems


def _col(key: str) -> dict:
    return {"column": COLUMNS[key]}


def _email_problem(email: str) -> str | None:
    try:
        if len(email) > 254:
            raise ValidationError("")
        validate_email(email)
        validate_email_local_part(email)
    except ValidationError:
        return _("%(email)s is not a valid e-mail address.") % {"email": email}
    return None


def _cell_problems(row: dict, tenant: Tenant) -> list[str]:
    """What is wrong with one line on its own (no database)."""
    missing = [str(COLUMNS[key]) for key in REQUIRED if not row[key]]
    problems = []
    if missing:
        problems.append(_("Missing: %(columns)s.") % {"columns": ", ".join(missing)})
    problems += _name_problems(row)
    if row["username"]:
        problem = username_format_problem(row["username"].lower(), tenant)
        if problem:
            problems.append(problem)
    if row["email"]:
        problem = _email_problem(email_normalize(row["email"]))
        if problem:
            problems.append(problem)
    if row["language"] and row["language"].lower() not in LANGUAGES:
        problems.append(
            _("The language is “%(value)s”: write en or fr.") % {"value": row["language"]}
        )
    return problems


def _duplicates(lines: list[ImportLine], key: str, message) -> None:
    """Each line whose `key` an earlier line of the file has already."""
    first: dict[str, int] = {}
    for line in lines:
        value = line.row[key]
        if not value:
            continue
        value = email_normalize(value) if key == "email" else value.lower()
        if value in first:
            line.problems.append(message(value, first[value]))
        else:
            first[value] = line.number


def _taken(lines: list[ImportLine], tenant: Tenant) -> None:
    """Users who exist already: one query for the names, two for the addresses."""
    names = {line.row["username"].lower() for line in lines if line.row["username"]}
    emails = {email_normalize(line.row["email"]) for line in lines if line.row["email"]}
    names_taken = set(
        TenantUser.objects.filter(tenant=tenant, username__in=names).values_list(
            "username", flat=True
        )
    )
    emails_taken = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    emails_taken |= set(
        TenantUser.objects.filter(tenant=tenant, email__in=emails).values_list("email", flat=True)
    )
    for line in lines:
        if line.row["username"].lower() in names_taken:
            line.problems.append(username_taken_message(line.row["username"].lower(), tenant))
        if line.row["email"] and email_normalize(line.row["email"]) in emails_taken:
            line.problems.append(email_taken_message())


def _products(lines: list[ImportLine], access: TenantAccess, today: date) -> None:
    """Each product named to the subscription it takes a seat of; then the seats, counted over
    the whole file: every line past the free seats of a subscription is named."""
    choices = seat_choices(access.tenant, today)
    by_name: dict[str, list] = defaultdict(list)
    for choice in choices:
        product = choice.subscription.product
        by_name[product.sku.casefold()].append(choice)
        by_name[product.name.casefold()].append(choice)
    may_assign = access.can(Permission.LICENSES_MANAGE)
    asked: Counter = Counter()
    for line in lines:
        if line.row["products"] and not may_assign:
            line.problems.append(
                _("You may not assign licenses here: leave the products column empty.")
            )
            continue
        for name in dict.fromkeys(line.row["products"]):  # the same product twice: one license
            candidates = by_name.get(name.casefold(), [])
            usable = [c for c in candidates if not c.unassignable]
            if not candidates:
                line.problems.append(
                    _("%(product)s is not a product of your organization’s subscriptions.")
                    % {"product": name}
                )
            elif not usable:
                line.problems.append(candidates[0].unassignable)
            else:
                choice = max(usable, key=lambda c: (c.free, c.subscription.end_date))
                if choice.subscription not in line.subscriptions:
                    line.subscriptions.append(choice.subscription)
                    asked[choice.subscription.pk] += 1
    _seats(lines, choices, asked)


def _seats(lines: list[ImportLine], choices, asked: Counter) -> None:
    free = {choice.subscription.pk: choice.free for choice in choices}
    taken: Counter = Counter()
    for line in lines:
        for subscription in line.subscriptions:
            taken[subscription.pk] += 1
            if taken[subscription.pk] > free[subscription.pk]:
                line.problems.append(
                    _(
                        "No seat left for this user: the file asks for %(asked)d licenses of "
                        "%(product)s and %(free)d seats are free."
                    )
                    % {
                        "asked": asked[subscription.pk],
                        "product": subscription.product.name,
                        "free": free[subscription.pk],
                    }
                )


def user_import_lines(
    *, user_import: UserImport, access: TenantAccess, today: date | None = None
) -> list[ImportLine]:
    """Every line of the file with its problems and the subscriptions it takes a seat of: what
    the preview shows and what "Add N users" checks again under the lock."""
    tenant = access.tenant
    lines = [ImportLine(row) for row in user_import.rows]
    for line in lines:
        line.problems += _cell_problems(line.row, tenant)
    _duplicates(
        lines,
        "username",
        lambda value, first: (
            _("The user name %(name)s is also on line %(line)d.") % {"name": value, "line": first}
        ),
    )
    _duplicates(
        lines,
        "email",
        lambda value, first: (
            _("The e-mail address %(email)s is also on line %(line)d.")
            % {"email": value, "line": first}
        ),
    )
    _taken(lines, tenant)
    _products(lines, access, today or timezone.localdate())
    return lines


# --- Adding the users --------------------------------------------------------------------------


def user_import_create(*, access: TenantAccess, data: bytes, file_name: str = "") -> UserImport:
    """Read an uploaded file and keep its lines for the preview. Raises UserImportFileError."""
    access.require(Permission.USERS_MANAGE)
    rows = user_import_read(data)
    return UserImport.objects.create(
        tenant=access.tenant,
        created_by=access.user,
        file_name=file_name[:255],
        rows=rows,
        total=len(rows),
    )


class _Changed(Exception):
    """A line has a problem under the lock that the preview did not show: nothing is added."""


def _details(row: dict) -> UserDetails:
    return UserDetails(
        first_name=row["first_name"],
        last_name=row["last_name"],
        username=row["username"].lower(),
        email=email_normalize(row["email"]),
        phone="",
        is_admin=False,
        language=row["language"].lower(),
    )


def _add_all(
    user_import: UserImport, access: TenantAccess, progress: Callable[[int], None] | None
) -> None:
    """All the users or none: the tenant is locked, so two imports (or an import and a person
    assigning licenses) take turns, and the second counts the first one's seats."""
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=access.tenant.pk).first()
        list(Subscription.objects.select_for_update().filter(tenant=access.tenant).order_by("pk"))
        lines = user_import_lines(user_import=user_import, access=access)
        if any(line.problems for line in lines):
            raise _Changed
        for done, line in enumerate(lines, start=1):
            try:
                tenant_user_add(
                    access=access, details=_details(line.row), subscriptions=line.subscriptions
                )
            except (TenantUserError, LicenseError) as error:
                raise _Changed from error
            if progress is not None and done % 25 == 0:
                progress(done)
        UserImport.objects.filter(pk=user_import.pk).update(
            state=UserImport.State.SUCCEEDED,
            done=len(lines),
            rows=[],  # the users are in the directory now
            finished_at=timezone.now(),
        )


def _execute(
    user_import: UserImport, access: TenantAccess, progress: Callable[[int], None] | None = None
) -> None:
    try:
        _add_all(user_import, access, progress)
    except _Changed:
        # Back to the preview, which now shows the lines that changed.
        _end(user_import, UserImport.State.PREVIEW, UserImport.Error.CHANGED)
    except SoftTimeLimitExceeded:
        _end(user_import, UserImport.State.FAILED, UserImport.Error.TIMEOUT)
    except Exception:
        logger.exception("Import of users %s failed.", user_import.pk)
        _end(user_import, UserImport.State.FAILED, UserImport.Error.UNEXPECTED)
    user_import.refresh_from_db()


def _end(user_import: UserImport, state: str, error: str) -> None:
    UserImport.objects.filter(pk=user_import.pk).update(
        state=state, error=error, done=0, finished_at=timezone.now()
    )


def _claim(user_import: UserImport, source: str, target: str) -> bool:
    """Move the import from `source` to `target`; False when someone else did already (a double
    click on "Add N users", a second message for the same job)."""
    return bool(
        UserImport.objects.filter(pk=user_import.pk, state=source).update(
            state=target, error="", started_at=timezone.now()
        )
    )


def user_import_start(*, access: TenantAccess, user_import: UserImport) -> UserImport:
    """ "Add N users": now for up to BACKGROUND_ROWS users, else by a worker. A second click
    changes nothing. Returns the import as it is now."""
    access.require(Permission.USERS_MANAGE)
    if user_import.tenant_id != access.tenant.pk or user_import.created_by_id != access.user.pk:
        raise ValueError("The import is not this person's, for this tenant.")
    if user_import.total > BACKGROUND_ROWS:
        if _claim(user_import, UserImport.State.PREVIEW, UserImport.State.QUEUED):
            transaction.on_commit(lambda: _enqueue(user_import.pk))
    elif _claim(user_import, UserImport.State.PREVIEW, UserImport.State.RUNNING):
        _execute(user_import, access)
    user_import.refresh_from_db()
    return user_import


def _enqueue(import_id: int) -> None:
    try:
        task_send("tenants.tasks.run_user_import", import_id)
    except BrokerUnavailable:
        logger.exception("Import of users %s could not be queued.", import_id)
        _end(UserImport(pk=import_id), UserImport.State.PREVIEW, UserImport.Error.UNEXPECTED)


def user_import_run(*, import_id: int) -> None:
    """The worker's part: take the queued import, check the access again (a relationship may
    have ended since the click), add the users."""
    user_import = UserImport.objects.select_related("created_by").filter(pk=import_id).first()
    if user_import is None or not _claim(
        user_import, UserImport.State.QUEUED, UserImport.State.RUNNING
    ):
        return
    try:
        access = tenant_access(
            user=user_import.created_by,
            tenant_id=user_import.tenant_id,
            permission=Permission.USERS_MANAGE,
        )
    except Http404:
        _end(user_import, UserImport.State.FAILED, UserImport.Error.ACCESS_ENDED)
        return
    with progress_reporter(UserImport, user_import.pk, UserImport.State.RUNNING) as progress:
        _execute(user_import, access, progress)


# Queued imports older than this are sent to a worker again: the broker may have lost them.
REQUEUE_AFTER = timedelta(minutes=10)
# Imports nobody confirmed (and failed ones) keep people's names and addresses: gone after this.
KEEP_UNFINISHED = timedelta(days=7)


def user_imports_sweep(*, now=None) -> dict[str, int]:
    """The periodic clean-up, as key jobs have: an import whose process died (a worker killed at
    CELERY_TASK_TIME_LIMIT, a web process restarted mid-request) goes back to its preview, to be
    confirmed again, since its transaction was rolled back with it; a queued one the broker may
    have lost is queued again; unconfirmed and failed imports older than a week are deleted."""
    now = now or timezone.now()
    dead_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    lost = 0
    for user_import in UserImport.objects.filter(
        state=UserImport.State.RUNNING, started_at__lt=dead_before
    ).select_related("tenant"):
        with transaction.atomic():
            if UserImport.objects.filter(
                pk=user_import.pk, state=UserImport.State.RUNNING, started_at__lt=dead_before
            ).update(state=UserImport.State.PREVIEW, error=UserImport.Error.UNEXPECTED, done=0):
                audit_log(action="user_import.lost", target=user_import, tenant=user_import.tenant)
                lost += 1
    waiting = list(
        UserImport.objects.filter(
            state=UserImport.State.QUEUED, started_at__lt=now - REQUEUE_AFTER
        ).values_list("pk", flat=True)
    )
    for import_id in waiting:
        _enqueue(import_id)
    stale = UserImport.objects.filter(
        state__in=[UserImport.State.PREVIEW, UserImport.State.FAILED],
        created_at__lt=now - KEEP_UNFINISHED,
    ).select_related("tenant")
    deleted = 0
    for user_import in stale:
        with transaction.atomic():
            if UserImport.objects.filter(pk=user_import.pk, state=user_import.state).delete()[0]:
                audit_log(
                    action="user_import.deleted", target=user_import, tenant=user_import.tenant
                )
                deleted += 1
    return {"lost": lost, "requeued": len(waiting), "deleted": deleted}
