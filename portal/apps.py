from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_periodic_tasks(sender, **kwargs):
    from portal.periodic import periodic_tasks_sync

    periodic_tasks_sync()


class PortalConfig(AppConfig):
    default = True
    name = "portal"
    verbose_name = _("Portal")

    def ready(self):
        from portal import logs

        # Every log line of a request, Django's own included, names the request's id.
        request_started.connect(logs.request_id_start, dispatch_uid="portal.request_id_start")
        request_finished.connect(logs.request_id_end, dispatch_uid="portal.request_id_end")
        # django_celery_beat is migrated before this signal fires for the last app; running on
        # its own post_migrate makes sure its tables exist.
        post_migrate.connect(
            _sync_periodic_tasks, sender=self.apps.get_app_config("django_celery_beat")
        )


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on the site that asks for a verified second factor."""

    default = False  # named in INSTALLED_APPS; "portal" itself stays PortalConfig
    default_site = "portal.admin_site.PortalAdminSite"
