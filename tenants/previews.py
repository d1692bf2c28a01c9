"""What product keys do to a customer's subscriptions, one row a product (before and after):
the preview the pages show, what the API answers, and what `keys_apply` applies. Here, apart
from tenants.services, because the API's answers and the webhooks' payloads show it too."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from keys.models import Product
from tenants.models import License, Subscription

State = Subscription.State


@dataclass(frozen=True)
class Snapshot:
    """A subscription's seats, end date and state at one moment (before or after)."""

    seats: int
    end_date: date
    state: str

    @property
    def state_label(self) -> str:
        return State(self.state).label


@dataclass
class PreviewRow:
    """What the keys of one product do to the customer's subscription of that product."""

    product: Product
    key_count: int
    key_seats: int
    subscription: Subscription | None
    before: Snapshot | None
    after: Snapshot | None
    problem: str = ""
    notes: list[str] = field(default_factory=list)
    # A renewal for fewer seats: the licenses it removes (tenant_user loaded), in order.
    licenses_lost: list[License] = field(default_factory=list)

    @property
    def fewer_seats(self) -> bool:
        """The seats go down (a renewal with keys for fewer seats than the subscription has)."""
        return (
            self.before is not None
            and self.after is not None
            and (self.after.seats < self.before.seats)
        )

    @property
    def seats_missing(self) -> int:
        """How many more seats the keys would need to keep the subscription's seats."""
        return self.before.seats - self.after.seats if self.fewer_seats else 0


def users_losing_licenses(rows: Sequence[PreviewRow]) -> int:
    """How many people lose at least one license (the number the partner confirms)."""
    return len({lic.tenant_user_id for row in rows for lic in row.licenses_lost})
