from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RenewalsConfig(AppConfig):
    name = "renewals"
    verbose_name = _("Renewals")

    def ready(self):
        # Its figures for /metrics (portal.metrics reads them at scrape time).
        from renewals import metrics  # noqa: F401
