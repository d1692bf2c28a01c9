"""Adding users from a file: the file's lines, kept on the server between the preview and
"Add N users" (STYLE 4, as `keys.models.Redemption` keeps a redemption)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserImport(models.Model):
    """A file of users uploaded by one person for one tenant.

    The lines are stored as read (cells, not checked): the preview checks them again on every
    view, and "Add N users" checks them once more under the tenant's lock, so what the page said
    and what happens cannot drift apart and nobody uploads the file twice. Large files are added
    by a Celery worker (`state`, `done` for the progress bar); the lines are cleared once the users
    exist (they are in the directory then, and the audit log says who added them).
    """

    class State(models.TextChoices):
        PREVIEW = "preview", _("Waiting for confirmation")
        QUEUED = "queued", _("Waiting for a worker")
        RUNNING = "running", _("Adding users")
        SUCCEEDED = "succeeded", _("Users added")
        FAILED = "failed", _("Failed")

    class Error(models.TextChoices):
        # Stored as a code and shown in the reader's language (the worker has no reader).
        CHANGED = (
            "changed",
            _(
                "Something changed since the preview (a user or a seat was taken): nothing was "
                "added. The lines below say what to fix."
            ),
        )
        ACCESS_ENDED = (
            "access_ended",
            _("You may no longer add users to this organization: nothing was added."),
        )
        TIMEOUT = (
            "timeout",
            _("Adding the users took too long: nothing was added. Add fewer users at a time."),
        )
        UNEXPECTED = (
            "unexpected",
            _("Adding the users stopped on an unexpected error: nothing was added."),
        )

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="user_imports",
        verbose_name=_("tenant"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    # [{"line": 2, "first_name": …, "last_name": …, "username": …, "email": …, "language": …,
    #   "products": [...]}, …]: the file's cells, as typed.
    rows = models.JSONField(_("lines"), default=list, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PREVIEW
    )
    error = models.CharField(_("error"), max_length=16, choices=Error.choices, blank=True)
    total = models.PositiveIntegerField(_("users"), default=0)
    done = models.PositiveIntegerField(_("users added"), default=0)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("import of users")
        verbose_name_plural = _("imports of users")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.file_name or self.pk} · {self.tenant_id}"

    @property
    def is_running(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0
