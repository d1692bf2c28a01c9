from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = _("Product keys")

    def ready(self):
        # Its figures for /metrics (portal.metrics reads them at scrape time).
        from keys import metrics  # noqa: F401
