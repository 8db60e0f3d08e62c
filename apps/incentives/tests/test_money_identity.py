"""Property: for any run, the PPT clients were charged equals what providers earned (posted, net of clawbacks) plus what
is still held for them plus the platform's revenue, to the unit — and each side agrees with the messages and rewards
it came from.

Hypothesis draws a run — prices, reward rates, the establishment share, and a sequence of steps — and the run drives
the real services: messages sent through the send service (held), dispatched to the providers' phones, acknowledged
and reported delivered (in full or in part), failed (finally, or for another phone to retry), expired by the lease
sweep, cancelled by the client or left in flight; rewards posted by the sweep at injected times after the
verification window; fraud strikes that void and claw back; strikes staff clear. Each example runs in its own
rolled-back transaction (`hypothesis.extra.django.TestCase`); the examples are few and derandomized, so CI runs the
same ones every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.delivery.choices import FraudRule, SendError
from apps.delivery.fraud import fraud_flag, fraud_strike_clear
from apps.delivery.reports import ReportInput, report_submit
from apps.incentives.choices import RewardStatus, Route
from apps.incentives.models import Clawback, Price, Reward
from apps.incentives.rewards import rewards_post_due
from apps.incentives.tests.conftest import fund
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, job_accept, message_cancel, message_submit
from apps.messaging.services.leases import jobs_expire_overdue
from apps.messaging.state import FINAL
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier, MatchPriority
from apps.providers.tests.factories import provider_with_sim
from apps.tokens.choices import PlatformAccount
from apps.tokens.models import Account
from apps.tokens.reconciliation import ledger_check
from apps.tokens.services import account_open, hot_balances_roll_up, platform_account

BASIS_POINTS = 10_000
# Recipients on the providers' two carriers and on one no provider is on (only cross-carrier reaches it).
RECIPIENTS = {"cellcard": "012 {:06d}", "smart": "010 {:06d}", "metfone": "097 {:06d}"}
BODIES = {"short": "Hi", "gsm_two": "x" * 161, "khmer_two": "ក" * 71, "khmer_three": "សួស្តី " * 25}
# Deliveries are the common case; every other ending is drawn too.
OUTCOMES = ("deliver", "deliver", "deliver", "deliver_part", "fail_final", "fail_retry", "expire", "cancel", "leave")

send = st.tuples(
    st.just("send"),
    st.sampled_from(sorted(RECIPIENTS)),
    st.sampled_from(MatchPriority.values),
    st.sampled_from(sorted(BODIES)),
    st.sampled_from(OUTCOMES),
)
# The sweep, this many hours from now: mostly past the verification window (24 h) or the establishment hold (72 h).
post = st.tuples(st.just("post"), st.sampled_from([1, 25, 73, 200, 200]))
strike = st.tuples(st.just("strike"), st.integers(0, 50), st.sampled_from([FraudRule.CANARY_MISSED, FraudRule.BURST]))
clear = st.tuples(st.just("clear"), st.integers(0, 50))


@st.composite
def steps(draw: st.DrawFn) -> list[tuple]:
    """Traffic, a posting sweep, strikes (on posted rewards: clawbacks; on held ones: voids), more traffic (whose
    rewards repay clawbacks), a sweep, strikes cleared, traffic, a last sweep — each part of any length."""
    drawn: list[tuple] = []
    for part, least, most in ((send, 1, 5), (post, 1, 1), (strike, 1, 2), (send, 1, 4), (post, 1, 1), (clear, 0, 2),
                              (send, 0, 3), (post, 1, 1)):  # fmt: skip
        drawn += draw(st.lists(part, min_size=least, max_size=most))
    return drawn


runs = st.fixed_dictionaries(
    {
        "on_net_price": st.integers(1, 40_000),
        "cross_price": st.integers(1, 40_000),
        "on_net_reward": st.integers(1, 60_000),
        "cross_reward": st.integers(1, 60_000),
        "share_bp": st.integers(1, BASIS_POINTS),
        "establishment_deliveries": st.integers(0, 3),
        "steps": steps(),
    }
)


@dataclass
class Run:
    """What the run did, from the test's side: every message sent, the delivered jobs, the strikes recorded."""

    organization: object
    providers: list
    staff: object
    funded: int
    messages: list[Message] = field(default_factory=list)
    delivered: list[Job] = field(default_factory=list)
    parts: dict[int, int | None] = field(default_factory=dict)  # delivered job -> the segments its phone said it sent
    strikes: list = field(default_factory=list)


def _deliver_to_cellcard(body: str = "short") -> tuple:
    return ("send", "cellcard", "normal", body, "deliver")


# Always run besides the drawn ones: a strike voids held rewards and is cleared (they are booked again and post); a
# strike claws back a posted two-segment reward that the next, smaller one repays in part (the platform keeps it).
PLAIN = {"on_net_price": 10_000, "cross_price": 15_000, "on_net_reward": 40_000, "cross_reward": 25_000,
         "share_bp": BASIS_POINTS, "establishment_deliveries": 0}  # fmt: skip
CLEARED = [_deliver_to_cellcard(), _deliver_to_cellcard(), ("post", 1), ("strike", 0, FraudRule.CANARY_MISSED),
           _deliver_to_cellcard(), ("post", 200), ("clear", 0), _deliver_to_cellcard(), ("post", 200)]  # fmt: skip
CLAWED_BACK = [_deliver_to_cellcard("gsm_two"), ("post", 200), ("strike", 0, FraudRule.CANARY_MISSED),
               _deliver_to_cellcard(), ("post", 200), _deliver_to_cellcard(), ("post", 1)]  # fmt: skip


class ChargesEqualRewardsPlusRevenueTests(TestCase):
    @example({**PLAIN, "steps": CLEARED})
    @example({**PLAIN, "steps": CLAWED_BACK})
    @settings(
        max_examples=6,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(runs)
    def test_charges_captured_equal_rewards_plus_revenue_plus_held(self, drawn: dict) -> None:
        cache.clear()  # rate limits, sticky senders and the surge cache start empty in every example
        with override_settings(
            INCENTIVES_REWARD_ON_NET_PER_SEGMENT=drawn["on_net_reward"],
            INCENTIVES_REWARD_CROSS_CARRIER_PER_SEGMENT=drawn["cross_reward"],
            INCENTIVES_ESTABLISHMENT_SHARE_BP=drawn["share_bp"],
            INCENTIVES_ESTABLISHMENT_DELIVERIES=drawn["establishment_deliveries"],
            INCENTIVES_ESTABLISHMENT_DAYS=0,
            FRAUD_STRIKES_TO_SUSPEND=1_000,
            FRAUD_BURST_PER_MINUTE=1_000,
        ):
            run = self._start(drawn)
            for step in drawn["steps"]:
                getattr(self, f"_{step[0]}")(run, *step[1:])
            self._check(run, drawn)

    # --- the run ------------------------------------------------------------------------------------------------
    def _start(self, drawn: dict) -> Run:
        for priority in MatchPriority.values:
            Price.objects.create(priority=priority, route=Route.ON_NET, amount=drawn["on_net_price"])
            Price.objects.create(priority=priority, route=Route.CROSS_CARRIER, amount=drawn["cross_price"])
        organization = client_create(user=UserFactory(), name="Acme")
        funded = 1_000 * 1_000_000
        fund(organization, funded)
        providers = [provider_with_sim(Carrier.CELLCARD), provider_with_sim(Carrier.SMART)]
        return Run(organization=organization, providers=providers, staff=UserFactory(is_staff=True), funded=funded)

    def _send(self, run: Run, carrier: str, priority: str, body: str, outcome: str) -> None:
        to = RECIPIENTS[carrier].format(100_000 + len(run.messages))
        message = message_submit(
            organization=run.organization,
            api_key=None,
            data=MessageInput(to=to, body=BODIES[body], priority=priority),
        )
        run.messages.append(message)
        if dispatch(message) != "assigned":
            return  # no capacity it may take: it waits in the queue, its price held
        job = Job.objects.select_related("provider__user", "message").get(message=message, status=JobStatus.OFFERED)
        user = job.provider.user
        if outcome == "expire":
            # The phone never takes it: the lease sweep ends it after the message's validity, a dead letter.
            jobs_expire_overdue(now=message.expires_at + timedelta(seconds=1))
            return
        if outcome == "cancel":
            message_cancel(message=Message.objects.get(pk=message.pk))
            return
        job_accept(job_id=job.pk, user=user)
        if outcome == "leave":
            return
        # A plausible while after the offer: not the too-fast-delivery strike.
        Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=30))
        now = timezone.now()
        report = {"job_id": job.pk, "occurred_at": now, "occurred_at_text": now.isoformat().replace("+00:00", "Z")}
        if outcome.startswith("deliver"):
            parts = 1 if outcome == "deliver_part" else None
            report_submit(user=user, data=ReportInput(status="delivered", parts=parts, **report))
            run.delivered.append(job)
            run.parts[job.pk] = parts
        else:
            error = SendError.INVALID_NUMBER if outcome == "fail_final" else SendError.GENERIC_FAILURE
            report_submit(user=user, data=ReportInput(status="failed", error_code=error, **report))

    def _post(self, run: Run, hours: int) -> None:
        rewards_post_due(now=timezone.now() + timedelta(hours=hours))

    def _strike(self, run: Run, pick: int, rule: str) -> None:
        if not run.delivered:
            return
        job = run.delivered[pick % len(run.delivered)]
        flag = fraud_flag(provider_id=job.provider_id, rule=rule, strike=True, job=job)
        if flag is not None:
            run.strikes.append(flag)

    def _clear(self, run: Run, pick: int) -> None:
        if run.strikes:
            fraud_strike_clear(flag=run.strikes[pick % len(run.strikes)], actor=run.staff)

    # --- the check ----------------------------------------------------------------------------------------------
    def _check(self, run: Run, drawn: dict) -> None:
        hot_balances_roll_up()
        messages = list(Message.objects.filter(pk__in=[message.pk for message in run.messages]))
        prices = {False: drawn["on_net_price"], True: drawn["cross_price"]}
        rates = {Route.ON_NET: drawn["on_net_reward"], Route.CROSS_CARRIER: drawn["cross_reward"]}

        # What clients were charged, message by message, from the prices: the route taken × the segments sent, at
        # most what was held; nothing for a message that ended otherwise; the hold still pending while it is not
        # final.
        charged = held_from_clients = 0
        for message in messages:
            if message.status == MessageStatus.DELIVERED:
                job = Job.objects.get(message=message, status=JobStatus.DELIVERED)
                sent = min(run.parts[job.pk] or message.segments, message.segments)
                expected = min(prices[job.cross_carrier] * sent, message.price_held)
                assert message.price_charged == expected, (message.pk, message.price_charged, expected)
                charged += expected
            else:
                assert message.price_charged is None
                if message.status not in FINAL:
                    held_from_clients += message.price_held

        # What providers earned: one reward per delivered job, of segments × the route's rate × the provider's share;
        # posted (net of what clawbacks kept), or still held through its window.
        rewards = list(Reward.objects.filter(message_id__in=[message.pk for message in messages]))
        delivered_jobs = set(
            Job.objects.filter(message__in=messages, status=JobStatus.DELIVERED).values_list("pk", flat=True)
        )
        assert {reward.job_id for reward in rewards} <= delivered_jobs and len(rewards) == len(set(rewards))
        for job in Job.objects.filter(pk__in=delivered_jobs - {reward.job_id for reward in rewards}):
            # A delivery earns nothing only when its amount rounds down to 0: a reduced share of a tiny rate.
            route = Route.CROSS_CARRIER if job.cross_carrier else Route.ON_NET
            assert job.message.segments * rates[route] * drawn["share_bp"] < BASIS_POINTS
        for reward in rewards:
            assert reward.share_bp in (BASIS_POINTS, drawn["share_bp"])
            assert reward.amount == reward.segments * rates[reward.route] * reward.share_bp // BASIS_POINTS
        posted = sum(reward.amount for reward in rewards if reward.status == RewardStatus.POSTED)
        held_for_providers = sum(reward.amount for reward in rewards if reward.status == RewardStatus.PENDING)
        clawbacks = Clawback.objects.filter(reward__in=rewards)
        kept = clawbacks.aggregate(total=Sum("recovered"))["total"] or 0
        netted = sum(reward.clawback_recovered for reward in rewards)
        refunded = clawbacks.aggregate(total=Sum("refunded"))["total"] or 0
        assert netted - refunded == kept  # every unit a clawback took is kept or was refunded, none lost
        earned = posted - kept

        # The ledger's accounts, exactly.
        client = account_open(organization=run.organization)
        revenue = platform_account(PlatformAccount.REVENUE)
        pool = platform_account(PlatformAccount.REWARDS)
        provider_accounts = [account_open(provider=provider) for provider in run.providers]
        assert (client.credits_posted, client.debits_posted, client.debits_pending) == (
            run.funded,
            charged,
            held_from_clients,
        )
        assert revenue.credits_posted - revenue.debits_posted == charged
        assert sum(account.credits_posted - account.debits_posted for account in provider_accounts) == earned
        assert sum(account.credits_pending for account in provider_accounts) == held_for_providers
        assert sum(account.debits_pending for account in provider_accounts) == 0
        platform_revenue = (
            (revenue.credits_posted - revenue.debits_posted)
            - (pool.debits_posted - pool.credits_posted)
            - pool.debits_pending
        )
        # The identity: charges captured = rewards + platform revenue (+ held), to the unit.
        assert charged == earned + platform_revenue + held_for_providers, (charged, earned, platform_revenue)

        totals = Account.objects.aggregate(
            credits=Sum("credits_posted"), debits=Sum("debits_posted"), pending_in=Sum("credits_pending"),
            pending_out=Sum("debits_pending"),
        )  # fmt: skip
        assert totals["credits"] == totals["debits"] and totals["pending_in"] == totals["pending_out"]
        assert ledger_check().breaks == 0
