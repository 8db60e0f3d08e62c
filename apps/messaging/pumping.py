"""SMS pumping defence: traffic that looks like someone farming our sends is held for staff, not sent.

SMS pumping (toll fraud) makes a client's sign-up or code form send to numbers the fraudster profits from. Three
signs, checked when messages are accepted (`pumping_hold`, from `services.sending._store`), each holding the message
in the moderation queue (status `held`, reason `pumping_<sign>`, staff approve or reject it as any held message):
- `pumping_adjacent`: within MESSAGE_PUMPING_WINDOW_SECONDS, a client's messages went to more than
  MESSAGE_PUMPING_ADJACENT distinct numbers of one block of a hundred (+8551234567xx): sequential or adjacent
  numbers, which no real customer base looks like. Counted per client in the shared cache (a Redis set per block), in
  the round trip that counts the client's limits: every number asked for counts, whatever becomes of its message.
- `pumping_range`: the number is in a range staff listed (MESSAGE_PUMPING_HELD_PREFIXES: premium or unallocated).
- `pumping_low_conversion`: a client that reports conversions (`POST /api/messages/{id}/conversion`: the code in
  the message was used) converted fewer than MESSAGE_PUMPING_CONVERSION_MIN_BP of its last
  MESSAGE_PUMPING_CONVERSION_SAMPLE code messages: codes nobody types in are codes sent to farmed numbers.
PeerPower's own messages are never held.
"""

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from apps.accounts.models import ClientOrganization
from apps.core.counters import distinct_add
from apps.core.errors import NotFound
from apps.messaging.choices import MessageRoute, MessageStatus
from apps.messaging.models import Message

HELD = Counter("peerpower_messages_pumping_held_total", "Messages held as suspected SMS pumping, by sign.", ["sign"])
BLOCK_DIGITS = 2  # a block is the number without its last two digits: a hundred numbers
CONVERSION_CACHE_SECONDS = 60
REPORTS_CONVERSIONS_DAYS = 30


def pumping_numbers(
    organization: ClientOrganization, numbers: Sequence[str], *, now: datetime
) -> list[tuple[str, str] | None]:
    """The adjacency sign's (set, member) pair for each number (E.164) a client asks to message — None for a number
    not counted: a listed range (held by its own sign), or any of PeerPower's own (never held). Counted in the round
    trip that counts the client's limits (`apps.core.counters.counters_distinct_add`), `pumping_hold` then takes the
    sizes instead of counting again. Every number counts, whatever becomes of its message (refused, held for its
    content): the sign is about where a client sends, not what it sends."""
    if organization.is_system:
        return [None] * len(numbers)
    prefixes = tuple(settings.MESSAGE_PUMPING_HELD_PREFIXES)
    slot = int(now.timestamp()) // settings.MESSAGE_PUMPING_WINDOW_SECONDS
    return [
        None
        if prefixes and number.startswith(prefixes)
        else (f"pumping:block:{organization.pk}:{number[:-BLOCK_DIGITS]}:{slot}", number)
        for number in numbers
    ]


def pumping_window_seconds() -> int:
    """How long a block's set lives (its window)."""
    return settings.MESSAGE_PUMPING_WINDOW_SECONDS


def pumping_hold(
    messages: Sequence[Message], *, now: datetime | None = None, sizes: Mapping[int, int] | None = None
) -> int:
    """Hold the queued, unsaved messages that show a pumping sign; returns how many were held. `sizes`: the
    adjacency sign's set sizes already counted for some of the messages (by `id(message)`, see `pumping_numbers`);
    the numbers of the others are added to their blocks here, in one round trip for the whole batch."""
    queued = [m for m in messages if m.status == MessageStatus.QUEUED and not m.organization.is_system]
    if not queued:
        return 0
    now = now or timezone.now()
    signs: list[tuple[Message, str]] = []
    low_conversion = _low_conversion(queued[0].organization, now=now) if _has_codes(queued) else False
    prefixes = tuple(settings.MESSAGE_PUMPING_HELD_PREFIXES)
    counted: list[Message] = []
    for message in queued:
        if prefixes and message.to.startswith(prefixes):
            signs.append((message, "range"))
        elif low_conversion and message.route != MessageRoute.OPEN:
            signs.append((message, "low_conversion"))
        else:
            counted.append(message)
    known = sizes or {}
    uncounted = [message for message in counted if id(message) not in known]
    pairs = pumping_numbers(counted[0].organization, [m.to for m in uncounted], now=now) if uncounted else []
    fresh = distinct_add([pair for pair in pairs if pair is not None], timeout=pumping_window_seconds())
    size_of = {**known, **{id(message): size for message, size in zip(uncounted, fresh, strict=True)}}
    # How many distinct numbers of the recipient's block of a hundred this client messaged in the window, this one
    # included (a fixed window, so a burst across its edge is seen at half strength at worst).
    signs += [(message, "adjacent") for message in counted if size_of[id(message)] > settings.MESSAGE_PUMPING_ADJACENT]
    for message, sign in signs:
        _hold(message, sign)
    return len(signs)


def _hold(message: Message, sign: str) -> None:
    message.status = MessageStatus.HELD
    message.status_reason = f"pumping_{sign}"
    message.next_attempt_at = None
    message.filter_reasons = [*message.filter_reasons, {"code": f"pumping_{sign}", "weight": 0, "matches": []}]


def pumping_held(messages: Sequence[Message]) -> list[Message]:
    """The messages `pumping_hold` held."""
    return [m for m in messages if m.status == MessageStatus.HELD and (m.status_reason or "").startswith("pumping_")]


def pumping_held_count(messages: Sequence[Message]) -> None:
    """Count held messages in the metric, by sign. The caller counts them once they are stored: a message held here
    and then refused — its recipient opted out or blocked, or the client short of PPT — is neither stored nor
    counted."""
    for message in messages:
        HELD.labels(sign=message.status_reason.removeprefix("pumping_")).inc()


def _has_codes(messages: Sequence[Message]) -> bool:
    return any(message.route != MessageRoute.OPEN for message in messages)


def _low_conversion(organization: ClientOrganization, *, now: datetime) -> bool:
    """Whether a client that reports conversions converts too few of its code messages: cached in the shared cache
    for CONVERSION_CACHE_SECONDS, and in this process for MESSAGE_PUMPING_LOCAL_CACHE_SECONDS on top (the send
    path then asks the shared cache nothing for it)."""
    seconds = settings.MESSAGE_PUMPING_LOCAL_CACHE_SECONDS
    if seconds > 0:
        remembered = _local.get(organization.pk)
        if remembered is not None and remembered[0] > time.monotonic():
            return remembered[1]
    low = _low_conversion_shared(organization, now=now)
    if seconds > 0:
        _local[organization.pk] = (time.monotonic() + seconds, low)
    return low


# Organisation id → (until, whether its conversions are too low). Small: one entry per sending client.
_local: dict[int, tuple[float, bool]] = {}


def _low_conversion_shared(organization: ClientOrganization, *, now: datetime) -> bool:
    if not cache.get(_reports_key(organization.pk)):
        return False
    key = f"pumping:conversion_low:{organization.pk}"
    cached = cache.get(key)
    if cached is not None:
        return bool(cached)
    grace = timedelta(seconds=settings.MESSAGE_PUMPING_CONVERSION_GRACE_SECONDS)
    sample = list(
        Message.objects.filter(organization=organization, created_at__lte=now - grace)
        .exclude(route=MessageRoute.OPEN)
        .exclude(status__in=[MessageStatus.HELD, MessageStatus.REJECTED, MessageStatus.CANCELLED])
        .order_by("-created_at")
        .values_list("converted_at", flat=True)[: settings.MESSAGE_PUMPING_CONVERSION_SAMPLE]
    )
    low = len(sample) >= settings.MESSAGE_PUMPING_CONVERSION_SAMPLE and (
        sum(converted is not None for converted in sample) * 10_000
        < settings.MESSAGE_PUMPING_CONVERSION_MIN_BP * len(sample)
    )
    cache.set(key, int(low), timeout=CONVERSION_CACHE_SECONDS)
    return low


def _reports_key(organization_id: int) -> str:
    return f"pumping:reports_conversions:{organization_id}"


@transaction.atomic
def message_conversion_record(*, organization: ClientOrganization, message_id: int) -> Message:
    """The client says the code in its message was used. Idempotent (the first report's time stays). From now on
    this client's code messages are held if too few of them convert."""
    message = Message.objects.select_for_update().filter(organization=organization, pk=message_id).first()
    if message is None:
        raise NotFound()
    if message.converted_at is None:
        message.converted_at = timezone.now()
        message.save(update_fields=["converted_at", "updated_at"])
    # Set at once, not on commit: it only switches the check on, which is harmless should this roll back.
    cache.set(_reports_key(organization.pk), 1, timeout=REPORTS_CONVERSIONS_DAYS * 86_400)
    _local.pop(organization.pk, None)  # other processes see it within MESSAGE_PUMPING_LOCAL_CACHE_SECONDS
    return message
