"""Two abusers the fleet simulator plays alongside the honest traffic, and what the network did about them.

- A spamming client: it sends a burst to a run of neighbouring numbers (the shape of SMS pumping). The network lets
  the first MESSAGE_PUMPING_ADJACENT through (nothing is wrong yet) and holds the rest for staff review: a held
  message never reaches a phone.
- A provider that wants sign-in codes: an ordinary phone on the victims' carrier, idle and eager, while PeerPower
  sends sign-in codes to numbers on that carrier (through `NetworkOtpSender`, as production does). The codes go only to
  the trusted pool (one phone staff marked trusted); the reader is never offered one, and asking for their jobs by id
  is refused.
"""

import random
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.test.utils import override_settings

from apps.accounts.otp import OtpMessage, generate_code, otp_text
from apps.core.crypto import blind_index
from apps.messaging.choices import MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.otp import NetworkOtpSender
from apps.providers.models import Provider
from apps.providers.services.trust import provider_trust_set
from apps.simulator.fleet import VirtualPhone, expect, random_number, to_e164

SPAM_TEXT = "Your verification code is {code}"


@dataclass
class AbuseSummary:
    spam_submitted: int = 0
    spam_held: int = 0
    spam_let_through: int = 0
    spam_held_then_sent: int = 0  # must be 0
    codes_sent: int = 0
    codes_delivered_by_trusted: int = 0
    codes_to_other_phones: int = 0  # must be 0: leases of code messages to any phone outside the trusted pool
    codes_offered_to_reader: int = 0  # must be 0
    reader_reads_refused: int = 0
    reader_reads: int = 0

    @property
    def ok(self) -> bool:
        return self.spam_held_then_sent == 0 and self.codes_offered_to_reader == 0 and self.codes_to_other_phones == 0

    def lines(self) -> list[str]:
        if not (self.spam_submitted or self.codes_sent):
            return []
        return [
            f"spam client    {self.spam_submitted} messages to a run of neighbouring numbers: {self.spam_held} held "
            f"for review, {self.spam_let_through} let through before the burst showed; held ones sent: "
            f"{self.spam_held_then_sent} (must be 0)",
            f"code reader    {self.codes_sent} sign-in codes sent on the trusted route, "
            f"{self.codes_delivered_by_trusted} delivered by the trusted phone, offered to any other phone: "
            f"{self.codes_to_other_phones} (must be 0), to the code-reading provider: "
            f"{self.codes_offered_to_reader} (must be 0); its reads of their jobs refused: "
            f"{self.reader_reads_refused} of {self.reader_reads}",
        ]


def spam_burst(http: httpx.Client, key: str, rng: random.Random, count: int) -> list[int]:
    """One bulk request to `count` neighbouring numbers (one block of a hundred). The accepted messages' ids."""
    block = to_e164(random_number("smart", rng))[:-2]
    messages = [
        {"to": f"{block}{index:02d}", "body": SPAM_TEXT.format(code=f"{rng.randint(0, 999999):06d}")}
        for index in range(min(count, 100))
    ]
    answer = expect(http.post("/api/messages/bulk", json={"messages": messages}, headers={"X-API-Key": key}), 200, 202)
    return [row["message"]["id"] for row in answer["results"] if row["ok"]]


def trust_one(phones: list[VirtualPhone]) -> VirtualPhone:
    """Staff put one honest phone in the trusted pool (as the admin action does, audited)."""
    trusted = next(phone for phone in reversed(phones) if phone.honest)
    provider_trust_set(provider=Provider.objects.get(pk=trusted.provider_id), actor=None, trusted=True)
    trusted.reliable = True
    return trusted


def grade_honest(phones: list[VirtualPhone], *, except_phone: VirtualPhone | None) -> None:
    """Staff grade the honest phones they vetted at the level one-time codes need (PROVIDER_CODE_MIN_TRUST_LEVEL,
    audited), so the clients' code messages have phones to go to; the fraudsters and the code reader stay at 0."""
    for phone in phones:
        if phone.honest and phone is not except_phone:
            provider = Provider.objects.get(pk=phone.provider_id)
            provider_trust_set(provider=provider, actor=None, level=settings.PROVIDER_CODE_MIN_TRUST_LEVEL)


def code_reader(phones: list[VirtualPhone], trusted: VirtualPhone) -> VirtualPhone:
    return next(phone for phone in phones if phone.honest and phone is not trusted)


def send_sign_in_codes(reader: VirtualPhone, rng: random.Random, count: int, *, seal_key: str) -> list[int]:
    """Sign-in codes to `count` numbers on the reader's carrier, as `otp_request` sends them in production (no
    fallback sender: only the trusted pool may carry them). The messages' ids."""
    victims = [to_e164(random_number(reader.carrier, rng)) for _ in range(count)]
    with override_settings(OTP_FALLBACK_SENDER="", MESSAGE_SEAL_KEY=seal_key):
        for phone in victims:
            text = otp_text(generate_code(), language="km", ttl_minutes=5)
            NetworkOtpSender().send(OtpMessage(phone=phone, text=text, purpose="login"))
    hashes = [blind_index(phone) for phone in victims]  # recipients are encrypted: found by their keyed hashes
    return list(Message.objects.filter(to_hash__in=hashes, reference="otp:login").values_list("pk", flat=True))


def abuse_summarise(
    *,
    http: httpx.Client,
    spam_ids: list[int],
    spam_count: int,
    code_ids: list[int],
    reader: VirtualPhone | None,
    trusted: VirtualPhone | None,
) -> AbuseSummary:
    summary = AbuseSummary(spam_submitted=spam_count if spam_ids else 0, codes_sent=len(code_ids))
    spam = Message.objects.filter(pk__in=spam_ids)
    held = spam.filter(status_reason__startswith="pumping_")
    summary.spam_held = held.count()
    summary.spam_let_through = spam.exclude(status_reason__startswith="pumping_").count()
    summary.spam_held_then_sent = (
        Job.objects.filter(message__in=held).count()
        + held.exclude(status__in=[MessageStatus.HELD, MessageStatus.EXPIRED]).count()
    )
    if reader is None or trusted is None:
        return summary
    code_jobs = Job.objects.filter(message_id__in=code_ids)
    summary.codes_delivered_by_trusted = code_jobs.filter(provider_id=trusted.provider_id, status="delivered").count()
    summary.codes_to_other_phones = code_jobs.exclude(provider_id=trusted.provider_id).count()
    offered = code_jobs.filter(provider_id=reader.provider_id).count()
    seen: Any = {job["message_id"] for job in reader.taken.values()} & set(code_ids)
    summary.codes_offered_to_reader = max(offered, len(seen))
    for job_id in code_jobs.values_list("pk", flat=True):
        summary.reader_reads += 1
        if http.get(f"/api/jobs/{job_id}", headers=reader.headers).status_code == 404:
            summary.reader_reads_refused += 1
    return summary
