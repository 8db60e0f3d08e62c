"""Canaries: audit messages to phones the network owns (AUDIT_RECIPIENTS), mixed at random into normal traffic.

A canary is an ordinary message of PeerPower's own client, worded like an OTP, so the provider cannot tell it from
any other job. The network's receiving phones confirm what arrives (POST /api/audit/inbound). A canary reported
delivered but not confirmed within AUDIT_CONFIRM_WINDOW_SECONDS is proof of a fake report: a strike for the
provider who reported it. A confirmed one is proof of honest work, credited to the provider's reputation.
"""

import random
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.crypto import blind_index
from apps.delivery.choices import CanaryStatus, FraudRule
from apps.delivery.fraud import fraud_flag
from apps.delivery.models import Canary
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job
from apps.messaging.otp import system_client
from apps.messaging.services import MessageInput, message_submit
from apps.providers.services import provider_reputation_outcome

# Worded like the OTP codes that make up much of the traffic.
CANARY_TEXTS = (
    "Your verification code is {nonce}. Do not share it with anyone.",
    "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ {nonce}។ សូមកុំចែករំលែកលេខកូដនេះ។",
)
NONCE = re.compile(r"\b(\d{6})\b")


def canaries_send(*, now: datetime | None = None, probability: float | None = None) -> int:
    """One run of the canary schedule: each audit phone gets a canary with AUDIT_CANARY_PROBABILITY."""
    chance = settings.AUDIT_CANARY_PROBABILITY if probability is None else probability
    sent = 0
    for recipient in settings.AUDIT_RECIPIENTS:
        if random.random() < chance:
            canary_send(to=recipient)
            sent += 1
    return sent


def canary_send(*, to: str) -> Canary:
    """Send one canary to an audit phone now."""
    for _ in range(5):
        nonce = f"{secrets.randbelow(10**6):06d}"
        try:
            with transaction.atomic():
                message = message_submit(
                    organization=system_client(),
                    api_key=None,
                    data=MessageInput(to=to, body=random.choice(CANARY_TEXTS).format(nonce=nonce)),
                    trusted=True,
                )
                return Canary.objects.create(message=message, nonce=nonce)
        except IntegrityError:
            continue  # that nonce is taken by another canary: draw again
    raise RuntimeError("could not draw an unused canary nonce")


def canary_inbound(*, to: str, body: str) -> Canary | None:
    """An audit phone received an SMS: if it carries a pending canary's nonce (for that number), confirm it."""
    for nonce in NONCE.findall(body or ""):
        canary = Canary.objects.filter(nonce=nonce, message__to_hash=blind_index(to)).first()
        if canary is None:
            continue
        now = timezone.now()
        if Canary.objects.filter(pk=canary.pk, confirmed_at__isnull=True).update(confirmed_at=now):
            canary.confirmed_at = now
        return canary
    return None


def canaries_judge(*, now: datetime | None = None) -> dict[str, int]:
    """Settle canaries whose message is finished: confirmed (credit), missed (strike), or never delivered."""
    now = now or timezone.now()
    window = timedelta(seconds=settings.AUDIT_CONFIRM_WINDOW_SECONDS)
    counts = {"confirmed": 0, "missed": 0, "undelivered": 0}
    pending = Canary.objects.filter(status=CanaryStatus.PENDING).select_related("message")
    for canary in pending[:500]:
        message = canary.message
        delivered_job = Job.objects.filter(message=message, status=JobStatus.DELIVERED).first()
        if canary.confirmed_at is not None and delivered_job is not None:
            _settle(canary, CanaryStatus.CONFIRMED, now)
            provider_reputation_outcome(provider_id=delivered_job.provider_id, outcome="canary_confirmed")
            counts["confirmed"] += 1
        elif message.status == MessageStatus.DELIVERED and message.delivered_at + window <= now:
            if canary.confirmed_at is None and delivered_job is not None:
                _settle(canary, CanaryStatus.MISSED, now)
                fraud_flag(
                    provider_id=delivered_job.provider_id,
                    rule=FraudRule.CANARY_MISSED,
                    strike=True,
                    job=delivered_job,
                    details={"canary": canary.pk},
                )
                counts["missed"] += 1
        elif message.status in (
            MessageStatus.FAILED,
            MessageStatus.EXPIRED,
            MessageStatus.CANCELLED,
            MessageStatus.UNKNOWN,
        ):
            _settle(canary, CanaryStatus.UNDELIVERED, now)
            counts["undelivered"] += 1
    return counts


def _settle(canary: Canary, status: str, now: datetime) -> None:
    with transaction.atomic():
        if Canary.objects.filter(pk=canary.pk, status=CanaryStatus.PENDING).update(status=status, judged_at=now):
            audit_record(
                action="canary.settled",
                target=canary,
                before={"status": CanaryStatus.PENDING},
                after={"status": status},
                system_actor="task:canaries",
            )
