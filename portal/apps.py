from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
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
        # django_celery_beat is migrated before this signal fires for the last app; running on
        # its own post_migrate makes sure its tables exist.
        post_migrate.connect(
            _sync_periodic_tasks, sender=self.apps.get_app_config("django_celery_beat")
        )


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on the site that asks for a verified second factor."""

    default = False  # named in INSTALLED_APPS; "portal" itself stays PortalConfig
    default_site = "portal.admin_site.PortalAdminSite"
