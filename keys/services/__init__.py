"""Every write to the key inventory and to redemptions, and the rules for looking a key up.

One module per noun: `lookup` (a typed key, the guessing limits), `inventory` (batches, import,
generate, revoke), `redemptions` (reserving keys into a redemption and consuming them).
"""

from keys.models import key_digest
from keys.services.inventory import (
    BadLine,
    KeyImportError,
    batch_generate,
    batch_import,
    keys_find,
    keys_parse_file,
    keys_revoke,
)
from keys.services.lookup import (
    KeyGuessLimitReached,
    KeyLookup,
    LookupStatus,
    key_check,
    key_error_message,
    key_find_for_staff,
    key_guess_blocked_until,
    key_lookup,
)
from keys.services.redemptions import (
    RedemptionClosed,
    RedemptionKeysChanged,
    redemption_cancel,
    redemption_details_keep,
    redemption_key_remove,
    redemption_keys_add,
    redemption_keys_confirm,
    redemption_keys_consume,
    redemption_lines,
    redemption_lock,
    redemption_refresh,
    redemption_start,
    redemption_step_reach,
    reservations_release_stale,
)

__all__ = [
    "BadLine",
    "KeyGuessLimitReached",
    "KeyImportError",
    "KeyLookup",
    "LookupStatus",
    "RedemptionClosed",
    "RedemptionKeysChanged",
    "batch_generate",
    "batch_import",
    "key_check",
    "key_digest",
    "key_error_message",
    "key_find_for_staff",
    "key_guess_blocked_until",
    "key_lookup",
    "keys_find",
    "keys_parse_file",
    "keys_revoke",
    "redemption_cancel",
    "redemption_details_keep",
    "redemption_key_remove",
    "redemption_keys_add",
    "redemption_keys_confirm",
    "redemption_keys_consume",
    "redemption_lines",
    "redemption_lock",
    "redemption_refresh",
    "redemption_start",
    "redemption_step_reach",
    "reservations_release_stale",
]
