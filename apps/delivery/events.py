"""Events delivery publishes for the apps above it (`apps.core.events`). Delivery never imports its subscribers."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FraudStrikeRecorded:
    """A fraud strike was recorded against a provider (`apps.delivery.fraud.fraud_flag`), once per provider, rule
    and job. Published inside the transaction that stored the strike; `job_id` is None for a strike on no job.
    Incentives subscribes: rewards still in their verification window are voided, a posted one is clawed back."""

    provider_id: int
    job_id: int | None
    flag_id: int
    rule: str


@dataclass(frozen=True, slots=True)
class FraudStrikeCleared:
    """Staff cleared a strike as a false alarm (`apps.delivery.fraud.fraud_strike_clear`), once per strike. Published
    inside the transaction that cleared it. Incentives subscribes: what the strike voided or clawed back is made good
    when no other standing strike still covers it."""

    provider_id: int
    job_id: int | None
    flag_id: int
    rule: str


@dataclass(frozen=True, slots=True)
class SettledUnderStrike:
    """The settle step (`apps.delivery.settling`) settled deliveries whose provider has a standing strike recorded
    after the delivery's report: had the reward been booked with the report, as before the settle step, that strike
    would have voided it. Published in the settle step's transaction, after the rewards were booked; incentives
    subscribes and voids them, `voided_by` that strike (clearing it restores them).

    `strikes`: by job id, the first such strike's (flag id, rule, struck job id or None)."""

    strikes: dict[int, tuple[int, str, int | None]]
