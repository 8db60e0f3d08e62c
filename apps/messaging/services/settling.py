"""The settle step's messaging part: what a delivery report left for later, booked for a batch of deliveries.

A `delivered` report moves its message with `settle_later` (apps.messaging.state): the charge is computed and stored
on the message then (`price_charged`, which the client's webhook and the dashboard read), but the hold is not
captured and no reward booked inside the phone's request. The delivery's settle step (apps.delivery.settling) calls
`deliveries_settle` a moment later for every delivery reported meanwhile: the holds captured and (through
`DeliveriesSettling`, to which incentives subscribes) the rewards booked in ONE ledger batch.

Booking twice is impossible whatever runs twice: a capture's transfer id is `charge:message:<id>:post` (a second one
answers `exists`, accepted), a reward's job is unique (`rewards_book` falls back per job)."""

from collections.abc import Mapping, Sequence
from datetime import datetime

from apps.core.events import publish
from apps.messaging.charging import charges_settle
from apps.messaging.choices import MessageStatus
from apps.messaging.events import DeliveriesSettling
from apps.messaging.models import Job
from apps.tokens.services import transfers_gathered


def deliveries_settle(*, jobs: Sequence[Job], reported_at: Mapping[int, datetime]) -> None:
    """Capture the holds of `jobs`' delivered messages (each at the `price_charged` its report stored) and tell the
    subscribers (`DeliveriesSettling`), all booked as one ledger batch, inside the caller's transaction. `jobs`: the
    delivering jobs, with message, organisation, provider and SIM loaded; `reported_at`: each one's report's time."""
    delivered = [job for job in jobs if job.message.status == MessageStatus.DELIVERED]
    if not delivered:
        return
    with transfers_gathered():
        held = [job.message for job in delivered if job.message.price_held]
        if held:
            charges_settle([(message, MessageStatus.DELIVERED, message.price_charged) for message in held])
        publish(DeliveriesSettling(jobs=delivered, reported_at=reported_at))
