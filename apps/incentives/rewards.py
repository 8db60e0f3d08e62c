"""Rewards per delivered segment: booked on delivery, held through the verification window, posted or voided.

- Booked (`reward_book`) when messaging says a message is delivered (`MessageStatusChanged`, inside the move's
  transaction) or, for a delivery report, when the delivery's settle step settles it a moment later
  (`DeliveriesSettling`, booked as at the report's time): a pending ledger transfer `reward:job:<id>` from the
  platform's rewards account to the provider, once per job (a unique job on `Reward`, and the transfer id).
  Amount = segments × the staff's rate for the route (on-net or cross-carrier) and priority × the route's surge
  multiplier × the provider's share.
- Established providers get their full share after `INCENTIVES_VERIFICATION_WINDOW_SECONDS`; a provider still
  establishing (fewer than N verified deliveries, or younger than D days: Helium's HIP-57 is the model) gets
  `INCENTIVES_ESTABLISHMENT_SHARE_BP` of it after the longer `INCENTIVES_ESTABLISHMENT_HOLD_SECONDS`.
- Posted by beat (`rewards_post_due`) when the window ends, in bounded batches; each posting first repays the
  provider's open clawbacks from that reward (`clawback:job:<id>`, linked to the post: both or neither).
- A fraud strike (`FraudStrikeRecorded`, from delivery) voids every reward of the provider still in its window (and,
  through `SettledUnderStrike`, one settled after the strike for a delivery reported before it) — unverified work
  of a provider caught faking is not paid — and, when the struck job's reward had already posted, books a clawback
  (once per reward) repaid from the provider's next rewards. A strike staff clear makes both good
  (`apps.incentives.strike_clearing`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.compiled import CompiledSelect
from apps.core.inserting import rows_insert
from apps.incentives.choices import ClawbackStatus, RewardStatus, Route
from apps.incentives.models import Clawback, Reward, RewardRule
from apps.incentives.surge import route_multipliers_bp
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.selectors import jobs_delivered_of
from apps.providers.models import Provider
from apps.tokens.choices import LEDGER_IDS, LedgerCode, PlatformAccount, Reason, Result
from apps.tokens.errors import TransferRefused
from apps.tokens.models import Account
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_book

logger = logging.getLogger(__name__)

BASIS_POINTS = 10_000
_APPLIED = (Result.OK, Result.EXISTS)


def reward_transfer_id(job_id: int) -> str:
    return f"reward:job:{job_id}"


def reward_rule_current(*, route: str, priority: str, now: datetime) -> RewardRule | None:
    """The staff's rule for a route and priority valid at `now` (the newest to start, where periods overlap)."""
    rules = _RULE_CURRENT.run(route, priority, now)
    return rules[0] if rules else None


# Built once per process on PostgreSQL (apps.core.compiled): every delivery report of a priced message reads it.
_RULE_CURRENT = CompiledSelect(
    lambda route, priority, now: RewardRule.objects.valid_at(now).filter(route=route, priority=priority)[:1]
)


def _default_rate(route: str) -> int:
    # Without a staff rule the settings' rates apply, so a fresh installation pays something sensible.
    if route == Route.ON_NET:
        return settings.INCENTIVES_REWARD_ON_NET_PER_SEGMENT
    return settings.INCENTIVES_REWARD_CROSS_CARRIER_PER_SEGMENT


def providers_establishing(*, providers: Collection[Any], now: datetime) -> dict[int, bool]:
    """Whether each of `providers` (by id) is still in its establishment period: fewer than
    INCENTIVES_ESTABLISHMENT_DELIVERIES verified (posted) rewards, or registered less than
    INCENTIVES_ESTABLISHMENT_DAYS ago. One query for all the providers old enough to ask (it was one each): each one's
    posted rewards counted up to the number needed, no further."""
    young = now - timedelta(days=settings.INCENTIVES_ESTABLISHMENT_DAYS)
    establishing = {provider.pk: True for provider in providers if provider.created_at > young}
    older = [provider.pk for provider in providers if provider.pk not in establishing]
    needed = settings.INCENTIVES_ESTABLISHMENT_DELIVERIES
    if needed <= 0 or not older:
        return establishing | dict.fromkeys(older, False)
    verified = dict(
        Provider.objects.filter(pk__in=older)
        .annotate(verified=RawSQL(_VERIFIED, [RewardStatus.POSTED, needed]))  # noqa: S611 - constant SQL
        .values_list("pk", "verified")
    )
    return establishing | {pk: verified.get(pk, 0) < needed for pk in older}


# A provider's posted rewards, counted up to the number needed (the LIMIT: an established provider's history is long).
_VERIFIED = (
    f"SELECT COUNT(*) FROM (SELECT 1 FROM {Reward._meta.db_table} AS verified "  # noqa: S608 - our table names only
    f"WHERE verified.provider_id = {Provider._meta.db_table}.id AND verified.status = %s LIMIT %s) AS posted"
)


def rewarded_job(job: Any) -> Any:
    """Messaging's retention keeper: the reward of `job` (an OuterRef), if any. Rewards protect their job: both are
    kept with the ledger's records."""
    return Reward.objects.filter(job_id=job)


def rewards_on_message_status_changed(event: Any) -> None:
    """The subscriber to messaging's `MessageStatusChanged` (registered in `IncentivesConfig.ready`): a delivered
    message books its job's reward, in the transaction of the move that delivered it — unless the move left that to
    the settle step (`settle_later`: `rewards_on_deliveries_settling` books it then)."""
    if not event.settle_later:
        _rewards_on_delivered([event.message], status=event.status, known=event.jobs)


def rewards_on_messages_status_changed(event: Any) -> None:
    """The subscriber to messaging's `MessagesStatusChanged` (a phone's batch of delivery reports): the delivered
    messages' jobs book their rewards together (`rewards_book`), unless settled later as for one message."""
    if not event.settle_later:
        _rewards_on_delivered(event.messages, status=event.status, known=event.jobs)


def rewards_on_deliveries_settling(event: Any) -> None:
    """The subscriber to messaging's `DeliveriesSettling` (the delivery's settle step, a moment after the reports):
    the jobs' rewards booked together, each as booked when its report came (`booked_at`: the verification window,
    and which strikes cover it when one is cleared, count from then)."""
    rewards_book(jobs=event.jobs, booked_at=event.reported_at)


def _rewards_on_delivered(messages: list[Any], *, status: str, known: Mapping[int, Any] | None = None) -> None:
    """`known`: the delivering jobs the mover handed over (a delivery report's, locked, with their SIM, message and
    provider); without them, read in one query."""
    if status != MessageStatus.DELIVERED:
        return
    jobs = known if known is not None else jobs_delivered_of([message.pk for message in messages])
    if jobs:
        rewards_book(jobs=list(jobs.values()))


def reward_book(*, job: Any, now: datetime | None = None, booked_at: datetime | None = None) -> Reward | None:
    """Book the reward of a delivered `job` (with its `sim` and `message` loaded) as a pending ledger transfer; the
    existing reward when it was booked already (by this or a concurrent caller); None when it earns nothing.

    Exactly once per job: the `Reward` row's unique job decides between concurrent callers (on PostgreSQL the loser
    waits for the winner's commit and then reads its row), and the ledger transfer's id is the same key.
    `booked_at`: the moment the reward counts as booked (its window starts then), `now` unless given.
    """
    return rewards_book(jobs=[job], now=now, booked_at=None if booked_at is None else {job.pk: booked_at})[0]


def rewards_book(
    *, jobs: list[Any], now: datetime | None = None, booked_at: Mapping[int, datetime] | None = None
) -> list[Reward | None]:
    """`reward_book` for several delivered jobs (a batch of delivery reports), one result per job in order: their
    reward rows in one INSERT and their pending transfers in one ledger batch, the rules, surge multipliers,
    establishment and accounts looked up once per route, carrier or provider.

    Exactly once per job, as for one: should any of the jobs' rewards exist already (a concurrent caller's), the
    batch is rolled back and each job booked on its own, where the unique job decides.

    `booked_at`: per job id, the moment its reward counts as booked (a delivery settled after its report: the
    report's); `now` for the others. The rates are those valid `now`."""
    now = now or timezone.now()
    booked_at = booked_at or {}
    try:
        with transaction.atomic():
            return _book(jobs, now=now, booked_at=booked_at)
    except IntegrityError:
        if len(jobs) > 1:
            return [reward_book(job=job, now=now, booked_at=booked_at.get(job.pk)) for job in jobs]
        return [Reward.objects.get(job_id=jobs[0].pk)]


def _book(jobs: list[Any], *, now: datetime, booked_at: Mapping[int, datetime]) -> list[Reward | None]:
    """Compute and store the rewards of `jobs` (inside the caller's savepoint, which an IntegrityError rolls back)."""
    delivered = [job for job in jobs if job.status == JobStatus.DELIVERED]
    routes = {
        job.pk: Route.ON_NET if job.sim.carrier == job.message.carrier else Route.CROSS_CARRIER for job in delivered
    }
    rules = {
        (route, priority): reward_rule_current(route=route, priority=priority, now=now)
        for route, priority in {(routes[job.pk], job.message.priority) for job in delivered}
    }
    surges = route_multipliers_bp({(job.message.carrier, routes[job.pk]) for job in delivered})
    providers = {job.provider_id: job.provider for job in delivered}
    establishing = providers_establishing(providers=list(providers.values()), now=now)
    rewards: dict[int, Reward] = {}
    for job in delivered:
        message, route = job.message, routes[job.pk]
        rule = rules[(route, message.priority)]
        rate = rule.amount_per_segment if rule is not None else _default_rate(route)
        surge_bp = surges[(message.carrier, route)]
        share_bp = settings.INCENTIVES_ESTABLISHMENT_SHARE_BP if establishing[job.provider_id] else BASIS_POINTS
        hold = (
            settings.INCENTIVES_ESTABLISHMENT_HOLD_SECONDS
            if establishing[job.provider_id]
            else settings.INCENTIVES_VERIFICATION_WINDOW_SECONDS
        )
        # Integer arithmetic, rounded down once at the end: never a fraction of a unit created or lost.
        amount = message.segments * rate * surge_bp * share_bp // (BASIS_POINTS * BASIS_POINTS)
        if amount <= 0:
            continue
        booked = booked_at.get(job.pk, now)
        rewards[job.pk] = Reward(
            job_id=job.pk,
            message_id=message.pk,
            provider_id=job.provider_id,
            carrier=message.carrier,
            route=route,
            priority=message.priority,
            segments=message.segments,
            rule=rule,
            amount_per_segment=rate,
            surge_bp=surge_bp,
            share_bp=share_bp,
            establishing=establishing[job.provider_id],
            amount=amount,
            transfer_id=reward_transfer_id(job.pk),
            booked_at=booked,
            due_at=booked + timedelta(seconds=hold),
        )
    if rewards:
        rows_insert(Reward, list(rewards.values()))  # one prepared text (apps.core.inserting)
        accounts = _rewards_account_ids([providers[pk] for pk in {reward.provider_id for reward in rewards.values()}])
        _apply(
            [
                TransferSpec(
                    id=reward.transfer_id,
                    amount=reward.amount,
                    debit_account_id=accounts[reward.provider_id][0],
                    credit_account_id=accounts[reward.provider_id][1],
                    reason=Reason.REWARD,
                    pending=True,
                    job_id=reward.job_id,
                    message_id=reward.message_id,
                )
                for reward in rewards.values()
            ]
        )
    return [rewards.get(job.pk) for job in jobs]


# provider id → (the platform's rewards account id, the provider's account id). An account's id never changes and
# an account is never deleted (its rows are ledger records, protected), so once read it holds for the process's
# life; remembered only where accounts outlive the process's view of them (BILLING_CACHE_SECONDS on, as for the
# revenue account in `apps.messaging.charging`): in tests every test's rows roll back, accounts included.
_account_ids: dict[int, tuple[int, int]] = {}
_ACCOUNT_IDS_KEPT = 100_000  # providers remembered per process; past that it starts again (a few MB at most)


def _reward_account_ids(provider: Provider) -> tuple[int, int]:
    """The platform's rewards account and the provider's, on the PPT ledger (`_rewards_account_ids` for one)."""
    return _rewards_account_ids([provider])[provider.pk]


def _rewards_account_ids(providers: Collection[Provider]) -> dict[int, tuple[int, int]]:
    """By provider id, the platform's rewards account and the provider's, on the PPT ledger: one query for all the
    providers this process does not remember (each account opened on first use; it was one query each), none once
    it has booked a reward of each."""
    remember = bool(settings.BILLING_CACHE_SECONDS)
    ids = {provider.pk: _account_ids[provider.pk] for provider in providers if remember and provider.pk in _account_ids}
    unknown = [provider for provider in providers if provider.pk not in ids]
    if unknown:
        read = _rewards_account_ids_read(unknown)
        if remember:
            # Once committed: an account opened by a transaction that rolls back does not exist.
            transaction.on_commit(lambda: _account_ids_remember(read))
        ids |= read
    return ids


def _account_ids_remember(ids: dict[int, tuple[int, int]]) -> None:
    if len(_account_ids) + len(ids) > _ACCOUNT_IDS_KEPT:
        _account_ids.clear()
    _account_ids.update(ids)


def _rewards_account_ids_read(providers: Collection[Provider]) -> dict[int, tuple[int, int]]:
    rows = Account.objects.filter(
        Q(platform=PlatformAccount.REWARDS) | Q(provider_id__in=[provider.pk for provider in providers]),
        ledger_id=LEDGER_IDS[LedgerCode.PPT],
    ).values_list("platform", "provider_id", "pk")
    rewards_id, accounts = None, {}
    for platform, provider_id, pk in rows:
        if platform == PlatformAccount.REWARDS:
            rewards_id = pk
        elif provider_id is not None:
            accounts[provider_id] = pk
    rewards_id = rewards_id or platform_account(PlatformAccount.REWARDS).pk
    return {
        provider.pk: (rewards_id, accounts.get(provider.pk) or account_open(provider=provider).pk)
        for provider in providers
    }


def _apply(specs: list[TransferSpec]) -> None:
    """Book `specs` in one batch; anything but applied (or applied before) is a bug worth stopping for. A delivery's
    rewards wait for the end of messaging's `transfers_gathered` block, booked in one batch with its charge."""
    transfers_book(specs, check=_applied_or_raise)


def _applied_or_raise(specs: Sequence[TransferSpec], results: list[str]) -> None:
    for spec, result in zip(specs, results, strict=True):
        if result not in _APPLIED:
            raise TransferRefused(code=result, details={"transfer_id": spec.id})


def rewards_post_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Post up to `limit` rewards whose window has ended (oldest first), repaying open clawbacks from them; how many
    were posted. Several workers may run it at once: on PostgreSQL each skips the rows another holds. Safe to run
    twice: a reward moves from pending once, and the ledger ids apply once."""
    now = now or timezone.now()
    limit = limit or settings.INCENTIVES_POST_BATCH
    with transaction.atomic():
        due = Reward.objects.filter(status=RewardStatus.PENDING, due_at__lte=now).order_by("due_at", "pk")[:limit]
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rewards = list(due)
        if not rewards:
            return 0
        debts = _open_clawbacks({reward.provider_id for reward in rewards})
        providers = Provider.objects.in_bulk({reward.provider_id for reward in debts_owed(rewards, debts)})
        specs: list[TransferSpec] = []
        for reward in rewards:
            post = TransferSpec(
                id=f"{reward.transfer_id}:post", post_pending_id=reward.transfer_id, reason=Reason.REWARD
            )
            recovered = _recover(debts.get(reward.provider_id, []), reward, now)
            if recovered:
                # The post and the repayment apply together: the provider never sees the reward without the debt.
                specs.append(_linked(post))
                specs.append(
                    TransferSpec(
                        id=f"clawback:job:{reward.job_id}",
                        amount=recovered,
                        debit_account_id=account_open(provider=providers[reward.provider_id]).pk,
                        credit_account_id=platform_account(PlatformAccount.REWARDS).pk,
                        reason=Reason.CLAWBACK,
                        job_id=reward.job_id,
                    )
                )
            else:
                specs.append(post)
            reward.clawback_recovered = recovered
        # Moved from pending first, conditionally: on PostgreSQL the rows are locked and this always moves them all;
        # on SQLite (no row locks) a concurrent sweep that settled one first makes this batch roll back whole.
        moved = Reward.objects.filter(
            pk__in=[reward.pk for reward in rewards if not reward.clawback_recovered], status=RewardStatus.PENDING
        ).update(status=RewardStatus.POSTED, settled_at=now)
        for reward in rewards:
            if reward.clawback_recovered:
                moved += Reward.objects.filter(pk=reward.pk, status=RewardStatus.PENDING).update(
                    status=RewardStatus.POSTED, settled_at=now, clawback_recovered=reward.clawback_recovered
                )
        if moved != len(rewards):
            raise RuntimeError("rewards_post_due: another sweep settled rewards of this batch; it is rolled back")
        _apply(specs)
        for clawbacks in debts.values():
            for clawback in clawbacks:
                if clawback.recovered != clawback.recovered_before:
                    Clawback.objects.filter(pk=clawback.pk).update(
                        recovered=clawback.recovered, status=clawback.status, recovered_at=clawback.recovered_at
                    )
    return len(rewards)


def debts_owed(rewards: list[Reward], debts: dict[int, list[Clawback]]) -> list[Reward]:
    """The rewards whose provider has an open clawback."""
    return [reward for reward in rewards if reward.provider_id in debts]


def _linked(spec: TransferSpec) -> TransferSpec:
    return TransferSpec(id=spec.id, post_pending_id=spec.post_pending_id, reason=spec.reason, linked=True)


def _open_clawbacks(provider_ids: set[int]) -> dict[int, list[Clawback]]:
    """The providers' open clawbacks, oldest first, locked (a strike handler adding one waits, never overlaps)."""
    debts: dict[int, list[Clawback]] = {}
    rows = (
        Clawback.objects.select_for_update()
        .filter(provider_id__in=provider_ids, status=ClawbackStatus.OPEN)
        .order_by("pk")
    )
    for clawback in rows:
        clawback.recovered_before = clawback.recovered
        debts.setdefault(clawback.provider_id, []).append(clawback)
    return debts


def _recover(clawbacks: list[Clawback], reward: Reward, now: datetime) -> int:
    """How much of `reward` repays the open `clawbacks` (oldest first), updating them in memory."""
    left = reward.amount
    for clawback in clawbacks:
        if left == 0:
            break
        take = min(left, clawback.amount - clawback.recovered)
        if take <= 0:
            continue
        clawback.recovered += take
        left -= take
        if clawback.recovered == clawback.amount:
            clawback.status, clawback.recovered_at = ClawbackStatus.RECOVERED, now
    return reward.amount - left


def rewards_on_fraud_strike(event: Any) -> None:
    """The subscriber to delivery's `FraudStrikeRecorded` (registered in `IncentivesConfig.ready`)."""
    rewards_strike(provider_id=event.provider_id, job_id=event.job_id, rule=event.rule, flag_id=event.flag_id)


def provider_lock(provider_id: int) -> None:
    """Lock the provider's row: a strike and the clearing of another strike of the same provider take turns, so a
    clearing never restores a reward beside a strike it cannot see yet (and a strike voids what a clearing restored).
    """
    list(Provider.objects.select_for_update().filter(pk=provider_id).values_list("pk", flat=True))


def rewards_strike(
    *, provider_id: int, job_id: int | None, rule: str, flag_id: int | None = None, now: datetime | None = None
) -> dict[str, int]:
    """A strike against a provider: void every reward of theirs still in its window and, when the struck job's
    reward had posted, book its clawback (once; a clawback cancelled by an earlier cleared strike opens again).
    `flag_id` is the strike's: clearing it later restores what it voided. Returns how many were voided and clawed
    back. Safe to run twice."""
    now = now or timezone.now()
    voided = clawed = 0
    with transaction.atomic():
        provider_lock(provider_id)
        pending = list(
            Reward.objects.select_for_update()
            .filter(provider_id=provider_id, status=RewardStatus.PENDING)
            .order_by("pk")
        )
        voided = _void(pending, strikes={reward.pk: (flag_id, rule, job_id) for reward in pending}, now=now)
        if job_id is not None:
            posted = Reward.objects.filter(job_id=job_id, provider_id=provider_id, status=RewardStatus.POSTED).first()
            if posted is not None:
                clawed = _clawback_book(posted, rule=rule, now=now)
    return {"voided": voided, "clawed_back": clawed}


def _void(pending: list[Reward], *, strikes: Mapping[int, tuple[int | None, str, int | None]], now: datetime) -> int:
    """Void `pending` rewards (locked, pending), each for its strike in `strikes` (by reward id: the strike's flag id,
    rule and job); how many were voided. `voided_by` is the strike: clearing it restores the reward
    (apps.incentives.strike_clearing)."""
    if not pending:
        return 0
    _apply(
        [
            TransferSpec(id=f"{reward.transfer_id}:void", void_pending_id=reward.transfer_id, reason=Reason.REWARD)
            for reward in pending
        ]
    )
    by_strike: dict[tuple[int | None, str], list[Reward]] = {}
    for reward in pending:
        flag_id, rule, job_id = strikes[reward.pk]
        reason = f"strike:{rule}" if job_id is None else f"strike:{rule}:job:{job_id}"
        by_strike.setdefault((flag_id, reason), []).append(reward)
    voided = 0
    for (flag_id, reason), rewards in by_strike.items():
        voided += Reward.objects.filter(pk__in=[reward.pk for reward in rewards], status=RewardStatus.PENDING).update(
            status=RewardStatus.VOIDED, settled_at=now, void_reason=reason[:64], voided_by_id=flag_id
        )
        for reward in rewards:
            audit_record(
                action="reward.voided",
                target=reward,
                before={"status": RewardStatus.PENDING},
                after={"status": RewardStatus.VOIDED, "reason": reason, "amount": reward.amount},
                system_actor="incentives",
            )
    return voided


def rewards_on_settled_under_strike(event: Any) -> None:
    """The subscriber to delivery's `SettledUnderStrike` (registered in `IncentivesConfig.ready`)."""
    rewards_void_struck(strikes=event.strikes)


def rewards_void_struck(*, strikes: Mapping[int, tuple[int, str, int | None]], now: datetime | None = None) -> int:
    """Void the pending rewards of the jobs in `strikes` (by job id: the strike's flag id, rule and job), as that
    strike would have voided them had they been booked when their reports came: a delivery settled after a strike
    of its provider that came after its report. How many were voided. Safe to run twice."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = list(
            Reward.objects.select_for_update()
            .filter(job_id__in=list(strikes), status=RewardStatus.PENDING)
            .order_by("pk")
        )
        return _void(pending, strikes={reward.pk: strikes[reward.job_id] for reward in pending}, now=now)


def _clawback_book(posted: Reward, *, rule: str, now: datetime) -> int:
    """Book the clawback of a struck posted reward, or open again one a cleared strike cancelled; 1 if it did."""
    reopened = Clawback.objects.filter(reward=posted, status=ClawbackStatus.CANCELLED).update(
        status=ClawbackStatus.OPEN, recovered=0, recovered_at=None, cancelled_at=None, reason=f"strike:{rule}"[:64]
    )
    if reopened:
        clawback = Clawback.objects.get(reward=posted)
    elif Clawback.objects.filter(reward=posted).exists():
        return 0
    else:
        try:
            with transaction.atomic():
                clawback = Clawback.objects.create(
                    reward=posted,
                    provider_id=posted.provider_id,
                    amount=posted.amount,
                    reason=f"strike:{rule}"[:64],
                    created_at=now,
                )
        except IntegrityError:
            return 0  # booked by a concurrent strike on the same job
    audit_record(
        action="reward.clawback",
        target=clawback,
        after={"job": posted.job_id, "amount": clawback.amount, "rule": rule, "reopened": bool(reopened)},
        system_actor="incentives",
    )
    return 1
