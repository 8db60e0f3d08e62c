"""Events messaging publishes for the apps above it (`apps.core.events`). Messaging never imports its subscribers."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from apps.messaging.models import Job, Message


@dataclass(frozen=True, slots=True)
class MessageStatusChanged:
    """A message reached a status its client is told about (`apps.messaging.state.CLIENT_NOTIFIED`).

    Published by `message_transition` inside the caller's transaction, right after the row changed, with the message
    as it now is. Delivery subscribes to store the client's webhook event (`apps.delivery.webhooks`).

    `jobs`: for a delivery, the job that delivered the message (by message id, with its SIM, message and provider
    loaded and as they now are) when the mover holds it already — the delivery report does, locked — so that a
    subscriber need not read it again; None: a subscriber that needs it reads it.

    `settle_later`: a delivery whose hold capture and reward wait for the delivery's settle step (`DeliveriesSettling`
    then tells); the rewards' subscriber books nothing now."""

    message: Message
    status: str
    jobs: Mapping[int, Job] | None = None
    settle_later: bool = False


@dataclass(frozen=True, slots=True)
class MessagesStatusChanged:
    """Several messages reached the same status their clients are told about, by one bulk move
    (`apps.messaging.state.messages_transition_each`: a phone's batch of delivery reports). Stands for one
    `MessageStatusChanged` per message, in the same transaction and with the messages as they now are; a subscriber
    handles them as a set, so the batch's cost does not grow with its size. Every subscriber to the one event
    subscribes to this one too. `jobs` and `settle_later` as for `MessageStatusChanged`: every message's delivering
    job, or None."""

    messages: list[Message]
    status: str
    jobs: Mapping[int, Job] | None = None
    settle_later: bool = False


@dataclass(frozen=True, slots=True)
class DeliveriesSettling:
    """Deliveries whose reports left their settlement for later (`settle_later`) are being settled, in the settle
    step's transaction (`apps.messaging.services.settling.deliveries_settle`), their clients' holds captured in the
    same ledger batch as what subscribers book: incentives books the providers' rewards.

    `jobs`: the delivering jobs, with message, organisation, provider and SIM loaded; `reported_at`: when each job's
    report was received (by job id), the moment its reward counts as booked, as it was when the report booked it."""

    jobs: list[Job]
    reported_at: Mapping[int, datetime]


@dataclass(frozen=True, slots=True)
class BalanceLow:
    """A client's spendable PPT (posted credits + credit limit − debits, in 10⁻⁶ PPT) just fell under the threshold
    it set (`ClientOrganization.low_balance_threshold`), by a hold booked at accept.

    Published once per crossing: by the one batch that took the balance from at or above the threshold to under it
    (decided under the account's lock), never again while it stays low, again after a top-up lifts it and it falls
    anew. Delivery subscribes to store the client's `balance.low` webhook event."""

    organization_id: int
    spendable: int
    threshold: int


@dataclass(frozen=True, slots=True)
class MessagesAccepted:
    """Messages were accepted and stored (one send or one bulk batch), inside the transaction that inserts them.

    The back office subscribes to count them per hour (`apps.backoffice.rollup`) once the rows are committed."""

    messages: list[Message]
