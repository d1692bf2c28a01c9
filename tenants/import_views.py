"""Adding users from a file, on both sides (`tenant_page`): the customer's admin at
/customer/users/import/ and a partner acting under a relationship that allows managing users at
/partner/customers/<pk>/users/import/. Upload → preview (every bad line numbered and explained)
→ "Add N users" → done, or a progress bar while a worker adds a large file.

Kept beside views.py rather than in it: four pages of their own, one flow.
"""

import csv

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from portal.forms import posted_data
from portal.spreadsheets import csv_separator
from tenants.access import Permission, tenant_page, tenant_url, user_import_of
from tenants.forms import UserImportForm
from tenants.models import UserImport
from tenants.services.user_imports import (
    BACKGROUND_ROWS,
    COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    UserImportFileError,
    user_import_create,
    user_import_lines,
    user_import_start,
)


@tenant_page(Permission.USERS_MANAGE)
def customer_user_import(request):
    """Step 1: the columns, the template, the upload."""
    form = UserImportForm(posted_data(request), request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            user_import = user_import_create(
                access=request.access,
                data=upload.read(MAX_FILE_BYTES + 1),
                file_name=upload.name,
            )
        except UserImportFileError as error:
            form.add_error("file", str(error))
        else:
            return redirect(tenant_url(request, "user_import_preview", user_import.pk))
    return render(
        request,
        "tenants/customer_user_import.html",
        {
            "form": form,
            "tenant": request.tenant,
            "access": request.access,
            "max_rows": MAX_ROWS,
            "max_size": MAX_FILE_BYTES,
            "background_rows": BACKGROUND_ROWS,
            "licenses": request.access.can(Permission.LICENSES_MANAGE),
        },
    )


@require_GET
@tenant_page(Permission.USERS_MANAGE)
def customer_user_import_template(request):
    """The empty file to fill in: the column names in the reader's language, separated by `;`
    in French (what French spreadsheet programs split on when they open a CSV), by `,` else."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="users.csv"'
    response.write("\ufeff")  # spreadsheet programs then read it as UTF-8
    delimiter = csv_separator()
    columns = [key for key in COLUMNS if key != "products" or _may_license(request)]
    csv.writer(response, delimiter=delimiter).writerow([str(COLUMNS[key]) for key in columns])
    return response


def _may_license(request) -> bool:
    return request.access.can(Permission.LICENSES_MANAGE)


@tenant_page(Permission.USERS_MANAGE)
def customer_user_import_preview(request, import_pk: int):
    """Step 2: every line with its problems; "Add N users" when there are none. While a worker
    adds the users, their progress; then the outcome."""
    user_import = user_import_of(request.access, import_pk)
    if request.method == "POST" and user_import.state == UserImport.State.PREVIEW:
        user_import = user_import_start(access=request.access, user_import=user_import)
        if user_import.state == UserImport.State.SUCCEEDED:
            messages.success(request, _added_message(user_import.total))
            return redirect(tenant_url(request, "users"))
        return redirect(tenant_url(request, "user_import_preview", user_import.pk))
    lines = []
    if user_import.state == UserImport.State.PREVIEW:
        lines = user_import_lines(user_import=user_import, access=request.access)
    bad = [line for line in lines if line.problems]
    return render(
        request,
        "tenants/customer_user_import_preview.html",
        {
            "tenant": request.tenant,
            "access": request.access,
            "user_import": user_import,
            "lines": lines,
            "bad": bad,
            "licenses": _may_license(request),
            "outcome": _outcome(user_import),
        },
    )


def _added_message(count: int) -> str:
    return ngettext(
        "%(count)d user was added. Each one gets an activation e-mail.",
        "%(count)d users were added. Each one gets an activation e-mail.",
        count,
    ) % {"count": count}


def _outcome(user_import: UserImport) -> str:
    """What the import's page says about it, in the reader's language."""
    if user_import.state == UserImport.State.SUCCEEDED:
        return _added_message(user_import.total)
    if user_import.error:
        return UserImport.Error(user_import.error).label
    if user_import.is_running:
        return _("%(done)d of %(total)d users added (%(percent)d%%).") % {
            "done": user_import.done,
            "total": user_import.total,
            "percent": user_import.percent,
        }
    return ""


@require_GET
@tenant_page(Permission.USERS_MANAGE)
def customer_user_import_progress(request, import_pk: int):
    """How far the worker got, for the page's script."""
    user_import = user_import_of(request.access, import_pk)
    return JsonResponse(
        {
            "state": user_import.state,
            "finished": not user_import.is_running,
            "done": user_import.done,
            "total": user_import.total,
            "text": _outcome(user_import),
        }
    )
