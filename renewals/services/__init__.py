"""The renewals app's services, one module per noun (design §5): renewal notices and their
ledger (`notices`), the lifecycle after the end date (`lifecycle`), and the switch to direct
billing (`direct_billing`). Callers import from here."""

from renewals.services.direct_billing import (
    DirectBillingError,
    DirectBillingPreview,
    direct_billing_check,
    direct_billing_new_end,
    direct_billing_old_end,
    direct_billing_open,
    direct_billing_preview,
    direct_billing_switch,
    prepaid_days_lost,
)
from renewals.services.lifecycle import lifecycle_advance
from renewals.services.notices import notice_schedule_changed, renewal_notices_send

__all__ = [
    "DirectBillingError",
    "DirectBillingPreview",
    "direct_billing_check",
    "direct_billing_new_end",
    "direct_billing_old_end",
    "direct_billing_open",
    "direct_billing_preview",
    "direct_billing_switch",
    "lifecycle_advance",
    "notice_schedule_changed",
    "prepaid_days_lost",
    "renewal_notices_send",
]
