"""SMS that provider phones receive on a SIM that sent for PeerPower: recipients' replies, forwarded in batches.

A reply is taken only when it answers a message: the SIM it arrived on (one of the phone's own, active) sent a
client's message to the reply's sender within INBOUND_MATCH_HOURS (the sticky sender makes the same SIM likely).
Then:
- a stop request (apps.messaging.keywords: "STOP", "ឈប់", the client's own keywords; "STOP ALL", "ឈប់ទាំងអស់")
  puts the sender on the network-wide opt-out list, for that client or for every client as the keyword says;
- anything else reaches that client as an `inbound.received` webhook event.
Each item is signed with the device key behind the provider's DID, like reports (`inbound_signing_text`). An item
whose signature fails, or on a SIM that is not the phone's, is spoofed; one that answers nothing is unmatched: both
are counted (`peerpower_inbound_sms_total`) and dropped. A phone resending a batch changes nothing twice.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from apps.accounts.phone import normalize_phone
from apps.core.errors import DomainError
from apps.delivery.reports import signature_check
from apps.delivery.webhooks.choices import WebhookEventType
from apps.delivery.webhooks.services.events import webhook_event_emit
from apps.messaging.models import Message, OptOut
from apps.messaging.selectors import client_stop_keywords, job_replied_to
from apps.messaging.services import opt_out_handle_reply
from apps.providers.selectors import active_sim_ids_of_user

INBOUND = Counter("peerpower_inbound_sms_total", "SMS forwarded by provider phones, by outcome.", ["outcome"])


@dataclass(frozen=True)
class InboundInput:
    sim_id: int
    sender: str
    body: str
    received_at: datetime
    received_at_text: str  # as the phone signed it
    signature: str = ""


@dataclass(frozen=True)
class InboundResult:
    outcome: str  # stopped | forwarded | duplicate | unmatched | spoofed
    flags: tuple[str, ...] = ()


def inbound_signing_text(*, sim_id: int, sender: str, received_at_text: str, body: str) -> str:
    """The exact text a phone signs for a forwarded SMS (UTF-8, Ed25519, base64 signature): the body by its
    SHA-256, so a long reply signs as cheaply as a short one."""
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"peerpower-inbound\n{sim_id}\n{sender}\n{received_at_text}\n{digest}"


def inbound_receive_batch(*, user: Any, items: list[InboundInput]) -> list[InboundResult]:
    """Take the SMS a phone forwards (see the module docstring); each item on its own."""
    sims = active_sim_ids_of_user(user=user, sim_ids=(item.sim_id for item in items))
    return [_receive(user=user, item=item, sims=sims) for item in items]


def _receive(*, user: Any, item: InboundInput, sims: set[int]) -> InboundResult:
    if item.sim_id not in sims:
        return _count(InboundResult("spoofed", ("not_your_sim",)))
    try:
        sender = normalize_phone(item.sender).e164
        text = inbound_signing_text(
            sim_id=item.sim_id, sender=item.sender, received_at_text=item.received_at_text, body=item.body
        )
        flags = tuple(signature_check(did=user.did, text=text, signature=item.signature))
    except DomainError as error:
        return _count(InboundResult("spoofed", (error.code,)))
    since = timezone.now() - timedelta(hours=settings.INBOUND_MATCH_HOURS)
    job = job_replied_to(sim_id=item.sim_id, sender=sender, since=since)
    if job is None or job.message.organization.is_system:
        # Replies to our own codes and canaries reach no client; nor do replies to nothing.
        return _count(InboundResult("unmatched", flags))
    seen = f"inbound:seen:{item.sim_id}:{hashlib.sha256(text.encode()).hexdigest()}"
    if not cache.add(seen, 1, timeout=settings.INBOUND_MATCH_HOURS * 3600):
        return _count(InboundResult("duplicate", flags))
    try:
        stopped = _apply(item=item, sender=sender, message=job.message)
    except Exception:
        cache.delete(seen)  # not applied: the phone's retry must be taken
        raise
    return _count(InboundResult("forwarded" if stopped is None else "stopped", flags))


@transaction.atomic
def _apply(*, item: InboundInput, sender: str, message: Message) -> OptOut | None:
    """Opt the sender out, or tell the client; returns the opt-out, or None when the reply was forwarded."""
    organization_id = message.organization_id
    stopped = opt_out_handle_reply(
        sender=sender,
        text=item.body,
        organization_id=organization_id,
        client_keywords=client_stop_keywords(organization_id=organization_id),
    )
    if stopped is None:
        webhook_event_emit(
            organization_id=organization_id,
            event_type=WebhookEventType.INBOUND_RECEIVED,
            data={
                "inbound": {
                    "from": sender,
                    "body": item.body,
                    "received_at": item.received_at_text,
                    "in_reply_to": {"id": message.pk, "reference": message.reference},
                }
            },
        )
    return stopped


def _count(result: InboundResult) -> InboundResult:
    INBOUND.labels(outcome=result.outcome).inc()
    return result
