"""Carrier-block reactions: a SIM the carrier pushed back on rests, and comes back slower.

A failed report with `limit_exceeded` or `network_reject`, or PROVIDER_SIM_GENERIC_FAILURES `generic_failure`s
within PROVIDER_SIM_GENERIC_FAILURE_WINDOW_SECONDS, is the carrier saying the SIM sends too much: carriers block such
SIMs outright when they go on. The SIM gets a cool-down (no work before `cooldown_until`: matching's eligibility)
that doubles with each repetition (PROVIDER_SIM_COOLDOWN_BASE_SECONDS up to _MAX_SECONDS) and, while the level is
recent, caps no higher than its warm-up caps, halved per level beyond the first (`caps.sim_caps`). A block more
than PROVIDER_SIM_COOLDOWN_RESET_HOURS after the last starts again at level 1.

Many SIMs of one carrier cooling down at once is a carrier-wide pattern (a new filter, a blocked sender range):
`peerpower_sims_cooling_down` per carrier on /metrics and the PeerPowerCarrierCoolingDown alert tell staff.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter

from apps.audit.services import audit_record
from apps.core.counters import Count, counters_add
from apps.providers.models import Sim

logger = logging.getLogger("peerpower.providers")

# Send error codes as the phone reports them (apps.delivery.choices.SendError, which providers may not import).
BLOCK_ERRORS = frozenset({"limit_exceeded", "network_reject"})
GENERIC_FAILURE = "generic_failure"

COOLDOWNS = Counter(
    "peerpower_sim_cooldowns_total", "SIM cool-downs started after a carrier block, by carrier.", ["carrier", "reason"]
)


def sim_send_failed(*, sim_id: int, error_code: str, now: datetime | None = None) -> Sim | None:
    """A phone reported that `sim_id` could not send (delivery calls this for each failed report). Starts a cool-down
    when the error is a carrier block, or the last of too many generic failures; returns the SIM then, else None."""
    now = now or timezone.now()
    if error_code in BLOCK_ERRORS:
        return sim_cooldown_start(sim_id=sim_id, reason=error_code, now=now)
    if error_code != GENERIC_FAILURE:
        return None
    window = settings.PROVIDER_SIM_GENERIC_FAILURE_WINDOW_SECONDS
    slot = int(now.timestamp()) // window
    (failures,) = counters_add([Count(key=f"providers:generic_failures:{sim_id}:{slot}", amount=1, timeout=window)])
    if failures % settings.PROVIDER_SIM_GENERIC_FAILURES:
        return None
    return sim_cooldown_start(sim_id=sim_id, reason="repeated_generic_failure", now=now)


@transaction.atomic
def sim_cooldown_start(*, sim_id: int, reason: str, now: datetime | None = None) -> Sim | None:
    """Put a SIM in its next cool-down (see the module docstring). Audited as the system's action."""
    now = now or timezone.now()
    sim = Sim.objects.select_for_update().filter(pk=sim_id).first()
    if sim is None:
        return None
    recent = sim.last_block_at is not None and now - sim.last_block_at < timedelta(
        hours=settings.PROVIDER_SIM_COOLDOWN_RESET_HOURS
    )
    level = sim.cooldown_level + 1 if recent else 1
    seconds = min(
        settings.PROVIDER_SIM_COOLDOWN_BASE_SECONDS * 2 ** min(level - 1, 20),
        settings.PROVIDER_SIM_COOLDOWN_MAX_SECONDS,
    )
    before = {"cooldown_level": sim.cooldown_level, "cooldown_until": _iso(sim.cooldown_until)}
    sim.cooldown_level = min(level, 1000)
    sim.cooldown_until = max(now + timedelta(seconds=seconds), sim.cooldown_until or now)
    sim.last_block_at = now
    sim.save(update_fields=["cooldown_level", "cooldown_until", "last_block_at"])
    audit_record(
        action="sim.cooldown_started",
        target=sim,
        before=before,
        after={"cooldown_level": sim.cooldown_level, "cooldown_until": _iso(sim.cooldown_until), "reason": reason},
        system_actor="providers:carrier_block",
    )
    carrier = sim.carrier
    transaction.on_commit(lambda: COOLDOWNS.labels(carrier=carrier, reason=reason).inc())
    logger.info("SIM %s cools down until %s (level %s, %s)", sim.pk, sim.cooldown_until, sim.cooldown_level, reason)
    return sim


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
