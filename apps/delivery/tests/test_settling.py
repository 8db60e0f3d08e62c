"""The settle step: a `delivered` report leaves the hold's capture, the reward, the outcome and the sticky sender to a
batch settled a moment later (apps.delivery.settling) — each exactly once, whoever settles, a strike between the
report and its settlement still voiding the reward, and the client told and charged at the report as before."""

import json
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.core.counters import counters_add
from apps.core.tests.broker_queues import broker_purge, broker_take
from apps.delivery import settling
from apps.delivery.choices import FraudRule, Unsettled
from apps.delivery.fraud import fraud_flag, fraud_strike_clear
from apps.delivery.models import DeliveryReport, DeliveryStat, FraudFlag
from apps.delivery.reports import ReportInput, reports_submit_batch
from apps.delivery.settling import deliveries_settle, settle_mark, settle_marked, settle_signal, settle_task_started
from apps.delivery.tasks import settle_due, settle_sweep
from apps.delivery.tests import test_report_batches as batches
from apps.delivery.tests.test_folded_protocol import iso
from apps.delivery.tests.test_report_batches import acknowledged, captured_once, delivered
from apps.delivery.webhooks.choices import WebhookEventType
from apps.delivery.webhooks.models import WebhookEvent
from apps.incentives.choices import RewardStatus
from apps.incentives.models import Reward
from apps.incentives.tests.conftest import prices  # noqa: F401 - a fixture
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, job_accept, message_submit
from apps.messaging.services.settling import deliveries_settle as messaging_deliveries_settle
from apps.messaging.tests.helpers import dispatch
from apps.messaging.tests.test_concurrency import run_together
from apps.providers.choices import Carrier
from apps.providers.models import Provider, Sim, StickySender
from apps.providers.tests.factories import provider_with_sim
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check

pytestmark = pytest.mark.django_db

# The batches' fixtures: a funded organisation, a provider with a SIM and its phone, room for many jobs at once.
organization, phone, roomy = batches.organization, batches.phone, batches.roomy


@pytest.fixture
def settle_later(settings):
    """Deliveries settled by the settle task, as in production (the test settings settle inside the request)."""
    settings.DELIVERY_SETTLE_LINGER_MS = 300


def unsettled() -> dict[int, str]:
    return dict(DeliveryReport.objects.exclude(unsettled="").values_list("job_id", "unsettled"))


def test_a_delivered_report_charges_and_tells_at_once_and_leaves_the_rest_marked(
    organization, provider, phone, roomy, settle_later, endpoint
):
    jobs = acknowledged(organization, phone, 2)
    results = reports_submit_batch(user=provider.user, items=[delivered(job) for job in jobs])
    assert [(r.job_status, r.message_status) for r in results] == [("delivered", "delivered")] * 2
    messages = list(Message.objects.filter(pk__in=[job.message_id for job in jobs]).order_by("pk"))
    # The client's charge and webhook are the report's, as before.
    assert all(message.status == MessageStatus.DELIVERED and message.price_charged for message in messages)
    body = json.loads(WebhookEvent.objects.get(type=WebhookEventType.MESSAGE_DELIVERED, message=messages[0]).body)
    assert body["data"]["message"]["status"] == "delivered"
    # The rest waits for the settle step: the hold still pending, no reward, nothing counted.
    assert unsettled() == {job.pk: Unsettled.DELIVERY for job in jobs}
    assert not Transfer.objects.filter(id__endswith=":post", message_id__in=[m.pk for m in messages]).exists()
    assert not Reward.objects.filter(job__in=jobs).exists()
    assert not DeliveryStat.objects.filter(provider=provider).exists()
    assert not StickySender.objects.filter(provider=provider).exists()
    reputation = provider.reputation

    assert deliveries_settle() == 2
    assert unsettled() == {}
    captured_once(messages)
    for message in messages:  # captured at the charge the report stored
        assert Transfer.objects.get(id=f"charge:message:{message.pk}:post").amount == message.price_charged
    assert Reward.objects.filter(job__in=jobs, status=RewardStatus.PENDING).count() == 2
    assert DeliveryStat.objects.get(provider=provider).delivered == 2
    assert StickySender.objects.filter(provider=provider).count() == 2
    provider.refresh_from_db()
    assert provider.reputation > reputation
    assert ledger_check().breaks == 0
    # Settled once: a second settler finds nothing.
    assert deliveries_settle() == 0


def test_a_reward_settled_later_counts_as_booked_with_its_report(
    organization, provider, phone, roomy, settle_later, settings
):
    """Its verification window, and which strikes cover it when one is cleared, count from the report."""
    [job] = acknowledged(organization, phone, 1)
    reports_submit_batch(user=provider.user, items=[delivered(job)])
    report = DeliveryReport.objects.get(job=job)
    assert deliveries_settle(received_before=report.received_at + timedelta(seconds=1)) == 1
    reward = Reward.objects.get(job=job)
    assert reward.booked_at == report.received_at
    assert reward.due_at == report.received_at + timedelta(seconds=settings.INCENTIVES_VERIFICATION_WINDOW_SECONDS)


def test_a_delivery_to_a_message_already_final_settles_its_outcome_only(
    organization, provider, phone, roomy, settle_later
):
    """A phone answering a job left `unknown`: the report counts for the provider but delivers no message (the
    message was made final without it), so nothing is captured or rewarded."""
    [job] = acknowledged(organization, phone, 1)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.UNKNOWN)
    Message.objects.filter(pk=job.message_id).update(status=MessageStatus.UNKNOWN)
    [result] = reports_submit_batch(user=provider.user, items=[delivered(job)])
    assert result.message_status == MessageStatus.UNKNOWN
    assert unsettled() == {job.pk: Unsettled.OUTCOME}
    assert deliveries_settle() == 1
    assert not Reward.objects.filter(job=job).exists()
    assert not Transfer.objects.filter(id=f"charge:message:{job.message_id}:post").exists()
    assert DeliveryStat.objects.get(provider=provider).delivered == 1


def test_the_reports_own_strike_voids_the_reward_settled_after_it(organization, provider, phone, roomy, settle_later):
    """An implausibly fast delivery is struck by the report's own checks, right after it commits and before the
    settle step books its reward: the reward is voided by that strike, as it was when booked with the report."""
    [job] = acknowledged(organization, phone, 1)
    Job.objects.filter(pk=job.pk).update(offered_at=timezone.now())
    [result] = reports_submit_batch(user=provider.user, items=[delivered(job)])
    assert FraudRule.FAST_DELIVERY in result.flags
    strike = FraudFlag.objects.get(provider=provider, rule=FraudRule.FAST_DELIVERY, strike=True)
    assert not Reward.objects.filter(job=job).exists()  # nothing was pending for the strike to void

    deliveries_settle()
    reward = Reward.objects.get(job=job)
    assert (reward.status, reward.voided_by_id) == (RewardStatus.VOIDED, strike.pk)
    assert Transfer.objects.get(id=f"reward:job:{job.pk}").status == "voided"
    assert ledger_check().breaks == 0


def test_a_strike_after_the_report_voids_the_reward_settled_after_it(
    organization, provider, phone, roomy, settle_later
):
    """Before the settle step a report's reward was booked with the report, and a strike right after it voided every
    pending reward of the provider. A reward booked at settle time for a report made before a standing strike is
    voided by that strike (clearing it restores the reward); one reported after the strike is not."""
    before, after = acknowledged(organization, phone, 2)
    reports_submit_batch(user=provider.user, items=[delivered(before)])
    strike = fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=before)
    reports_submit_batch(user=provider.user, items=[delivered(after)])

    assert deliveries_settle() == 2
    voided = Reward.objects.get(job=before)
    assert (voided.status, voided.voided_by_id) == (RewardStatus.VOIDED, strike.pk)
    assert voided.void_reason == f"strike:{FraudRule.CANARY_MISSED}:job:{before.pk}"
    assert Transfer.objects.get(id=f"reward:job:{before.pk}").status == "voided"
    assert Reward.objects.get(job=after).status == RewardStatus.PENDING
    # Both holds are captured: the client's charge does not depend on the provider's honesty.
    captured_once(list(Message.objects.filter(pk__in=[before.message_id, after.message_id])))

    assert fraud_strike_clear(flag=strike, actor=UserFactory(is_staff=True))
    voided.refresh_from_db()
    assert (voided.status, voided.transfer_id) == (RewardStatus.PENDING, f"reward:job:{before.pk}:restore:{strike.pk}")
    assert ledger_check().breaks == 0


def test_a_strike_cleared_before_the_settlement_voids_nothing(organization, provider, phone, roomy, settle_later):
    [job] = acknowledged(organization, phone, 1)
    reports_submit_batch(user=provider.user, items=[delivered(job)])
    strike = fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=None)
    assert fraud_strike_clear(flag=strike, actor=UserFactory(is_staff=True))
    deliveries_settle()
    assert Reward.objects.get(job=job).status == RewardStatus.PENDING


def test_settling_the_same_deliveries_twice_books_them_once(organization, provider, phone, roomy, settle_later):
    """Should a delivery ever be settled twice (the marks lost), the ledger's transfer ids and the reward's unique job
    still book it once."""
    jobs = acknowledged(organization, phone, 3)
    reports_submit_batch(user=provider.user, items=[delivered(job) for job in jobs])
    loaded = list(
        Job.objects.select_related("message__organization", "provider", "sim").filter(pk__in=[job.pk for job in jobs])
    )
    at = {job.pk: timezone.now() for job in loaded}
    messaging_deliveries_settle(jobs=loaded, reported_at=at)
    messaging_deliveries_settle(jobs=loaded, reported_at=at)
    captured_once(list(Message.objects.filter(pk__in=[job.message_id for job in jobs])))
    assert Reward.objects.filter(job__in=jobs).count() == 3
    assert Transfer.objects.filter(reason="reward", job_id__in=[job.pk for job in jobs]).count() == 3
    assert ledger_check().breaks == 0


def test_the_sweep_settles_only_what_a_signalled_task_would_have_taken_long_ago(
    organization, provider, phone, roomy, settle_later
):
    old, young = acknowledged(organization, phone, 2)
    reports_submit_batch(user=provider.user, items=[delivered(old), delivered(young)])
    DeliveryReport.objects.filter(job=old).update(received_at=timezone.now() - timedelta(minutes=5))
    assert settle_sweep() == 1
    assert unsettled() == {young.pk: Unsettled.DELIVERY}
    assert settle_due() == 1
    assert unsettled() == {}


def test_unsettled_reports_are_on_metrics(organization, provider, phone, roomy, settle_later, client):
    jobs = acknowledged(organization, phone, 2)
    reports_submit_batch(user=provider.user, items=[delivered(job) for job in jobs])
    DeliveryReport.objects.filter(job=jobs[0]).update(received_at=timezone.now() - timedelta(seconds=90))
    text = client.get("/metrics").content.decode()
    assert "peerpower_delivery_reports_unsettled 2.0" in text
    [age] = [line for line in text.splitlines() if line.startswith("peerpower_delivery_reports_unsettled_oldest")]
    assert 89 <= float(age.split()[-1]) < 120
    deliveries_settle()
    assert "peerpower_delivery_reports_unsettled 0.0" in client.get("/metrics").content.decode()


# One settle batch of deliveries of one provider, statement by statement on PostgreSQL (in a test the transaction is
# a savepoint): begin; the unsettled reports claimed (FOR UPDATE SKIP LOCKED); their jobs with message, organisation,
# provider and SIM; the rewards in a savepoint (the rule, the rows, the accounts); the ledger's one batch for the
# captures and the pending rewards together (savepoint, the holds locked, the accounts read and locked, the write,
# release); the day's stat row; the reputation (one statement, the row locked in it; it was two for more than one
# outcome, the row locked and then walked); the provider's standing strikes; the sticky senders; the reports' marks
# cleared; commit. With the billing caches on (production) the accounts' look-up is made once per process and
# provider: one fewer.
SETTLE_BATCH_STATEMENTS = {("postgresql", 1): 19, ("postgresql", 10): 19, ("sqlite", 1): 24, ("sqlite", 10): 24}


@pytest.mark.parametrize("count", [1, 10])
def test_a_settle_batch_costs_a_pinned_number_of_statements(
    organization, provider, phone, roomy, settle_later, count, django_assert_num_queries
):
    jobs = acknowledged(organization, phone, count + 1)
    reports_submit_batch(user=provider.user, items=[delivered(jobs[0])])  # warm: the day's rows, accounts
    deliveries_settle()
    reports_submit_batch(user=provider.user, items=[delivered(job) for job in jobs[1:]])
    with django_assert_num_queries(SETTLE_BATCH_STATEMENTS[(connection.vendor, count)]):
        assert deliveries_settle() == count
    captured_once(list(Message.objects.filter(pk__in=[job.message_id for job in jobs])))
    assert Reward.objects.filter(job__in=jobs).count() == count + 1
    assert DeliveryStat.objects.get(provider=provider).delivered == count + 1


def test_the_settle_step_reads_the_jobs_once(organization, provider, phone, roomy, settle_later):
    jobs = acknowledged(organization, phone, 3)
    reports_submit_batch(user=provider.user, items=[delivered(job) for job in jobs])
    with CaptureQueriesContext(connection) as queries:
        deliveries_settle()
    job_reads = [query["sql"] for query in queries if query["sql"].startswith('SELECT "messaging_job"')]
    assert len(job_reads) == 1, job_reads


@pytest.mark.django_db(transaction=True)
class TestSignal:
    """The settle task is signalled after the report commits, once per linger window, on the `default` queue."""

    @pytest.fixture(autouse=True)
    def empty_queue(self):
        settle_task_started()
        broker_purge("default")
        yield
        broker_purge("default")

    def test_reports_within_the_window_share_one_lingering_task(self, organization, provider, phone, roomy, settings):
        settings.DELIVERY_SETTLE_LINGER_MS = 300
        jobs = acknowledged(organization, phone, 3)
        broker_purge("default")
        before = time.time()
        reports_submit_batch(user=provider.user, items=[delivered(jobs[0])])
        after = time.time()
        reports_submit_batch(user=provider.user, items=[delivered(job) for job in jobs[1:]])
        [task] = [task for task in broker_take("default") if task.name == "delivery.settle"]
        assert before + 0.3 - 0.001 <= task.starts_at <= after + 0.3 + 0.001
        # The one task settles all three; once it has started, the next report signals again.
        assert settle_due() == 3
        [job] = acknowledged(organization, phone, 1, first=3)
        broker_purge("default")
        reports_submit_batch(user=provider.user, items=[delivered(job)])
        assert [task.name for task in broker_take("default")] == ["delivery.settle"]

    def test_by_default_a_second_of_reports_share_one_task_the_sweep_leaves_alone(
        self, organization, provider, phone, roomy, settings
    ):
        """Production's linger (the test settings settle in the request): a second, so a light stream's deliveries
        settle about one task a second, not three (0.10 settle tasks a message at 25/s with 300 ms). Well inside the
        mark's life (a mark gone before its task starts would let a second task be published) and the sweep's age."""
        from peerpower.settings import base

        settings.DELIVERY_SETTLE_LINGER_MS = base.DELIVERY_SETTLE_LINGER_MS
        assert settings.DELIVERY_SETTLE_LINGER_MS == 1000
        assert settings.DELIVERY_SETTLE_LINGER_MS < settling.SIGNAL_SECONDS * 1000 / 2
        assert settings.DELIVERY_SETTLE_LINGER_MS < settling.SWEEP_AFTER_SECONDS * 1000 / 2
        jobs = acknowledged(organization, phone, 2)
        broker_purge("default")
        before = time.time()
        reports_submit_batch(user=provider.user, items=[delivered(jobs[0])])
        after = time.time()
        reports_submit_batch(user=provider.user, items=[delivered(jobs[1])])
        [task] = [task for task in broker_take("default") if task.name == "delivery.settle"]
        assert before + 1.0 - 0.001 <= task.starts_at <= after + 1.0 + 0.001
        assert settle_sweep() == 0  # the task on its way settles them, not the sweep
        assert settle_due() == 2

    @pytest.fixture
    def clock(self, monkeypatch, settings):
        settings.DELIVERY_SETTLE_LINGER_MS = 300
        now = [1000.0]
        monkeypatch.setattr(settling, "_clock", lambda: now[0])
        monkeypatch.setitem(settling._marked_at, "at", float("-inf"))
        return now

    def test_a_process_that_found_the_mark_signals_nothing_within_the_grace(self, clock):
        """The task that takes the mark reads SIGNAL_GRACE_SECONDS later: what this process commits meanwhile needs
        no round trip; after that it asks again."""
        assert settle_signal()  # puts the mark, publishes the task
        cache.delete(settling._SIGNAL_KEY)  # a signal that asked now would put it again and publish another
        clock[0] += settling.SIGNAL_GRACE_SECONDS * 0.9
        assert not settle_signal()
        assert cache.get(settling._SIGNAL_KEY) is None  # it did not ask
        clock[0] += settling.SIGNAL_GRACE_SECONDS * 0.2
        assert settle_signal()
        assert [task.name for task in broker_take("default")] == ["delivery.settle", "delivery.settle"]

    def test_a_mark_counted_early_publishes_once_and_spares_the_signal(self, clock):
        """A report request counts the mark before its work (`settle_mark`): the first to count it publishes the
        lingering task at once, and a report committed within the grace of counting signals nothing after."""
        before = time.time()
        (count,) = counters_add([settle_mark()])
        settle_marked(asked=clock[0], count=count)
        (count,) = counters_add([settle_mark()])
        assert count == 2
        settle_marked(asked=clock[0], count=count)
        clock[0] += settling.SIGNAL_GRACE_SECONDS / 2
        assert not settle_signal()
        [task] = broker_take("default")
        assert task.name == "delivery.settle" and before + 0.3 - 0.001 <= task.starts_at <= time.time() + 0.3

    def test_a_starting_task_takes_the_mark_and_waits_the_grace(self, clock, monkeypatch):
        waited = []
        monkeypatch.setattr(settling, "_sleep", waited.append)
        assert settle_signal()
        settle_task_started()
        assert cache.get(settling._SIGNAL_KEY) is None and waited == [settling.SIGNAL_GRACE_SECONDS]

    def test_no_early_mark_where_reports_settle_in_the_request_or_a_transaction(self, settings):
        settings.DELIVERY_SETTLE_LINGER_MS = 300
        with transaction.atomic():
            assert settle_mark() is None
        settings.DELIVERY_SETTLE_LINGER_MS = -1
        assert settle_mark() is None

    def test_a_sent_report_signals_nothing(self, organization, provider, phone, roomy, settings):
        settings.DELIVERY_SETTLE_LINGER_MS = 300
        [job] = acknowledged(organization, phone, 1)
        broker_purge("default")
        sent = ReportInput(job_id=job.pk, status="sent", occurred_at=timezone.now(), occurred_at_text=iso())
        [result] = reports_submit_batch(user=provider.user, items=[sent])
        assert result.job_status == JobStatus.SENT
        assert broker_take("default") == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency: PostgreSQL")
def test_settlers_at_once_settle_each_delivery_exactly_once(organization, provider, phone, roomy, settings):
    """Three settle tasks at once over the same deliveries: each claimed by one (the others skip its locked
    reports), so every hold is captured once, every reward booked once, every outcome counted once."""
    settings.DELIVERY_SETTLE_LINGER_MS = 300
    jobs = acknowledged(organization, phone, 24)
    for start in range(0, 24, 6):
        reports_submit_batch(user=provider.user, items=[delivered(job) for job in jobs[start : start + 6]])
    assert len(unsettled()) == 24

    settled = run_together(deliveries_settle, threads=3)

    assert sum(settled) == 24, settled
    assert unsettled() == {}
    messages = list(Message.objects.filter(pk__in=[job.message_id for job in jobs]))
    captured_once(messages)
    assert Reward.objects.filter(job__in=jobs).count() == 24
    assert Transfer.objects.filter(reason="reward", job_id__in=[job.pk for job in jobs]).count() == 24
    assert DeliveryStat.objects.get(provider=provider).delivered == 24
    provider.refresh_from_db()
    assert provider.jobs_delivered == 24
    assert ledger_check().breaks == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the text is built on PostgreSQL")
def test_a_warm_settle_batch_builds_no_read_of_the_strikes_through_the_orm(
    organization, provider, phone, roomy, settle_later
):
    from apps.delivery.tests.test_compiled_queries import built_by_the_orm

    jobs = acknowledged(organization, phone, 3)
    reports_submit_batch(user=provider.user, items=[delivered(jobs[0])])
    deliveries_settle()  # warm: the statements built once in this process
    strike = fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=jobs[0])
    reports_submit_batch(user=provider.user, items=[delivered(job) for job in jobs[1:]])
    FraudFlag.objects.filter(pk=strike.pk).update(created_at=timezone.now() + timedelta(seconds=1))  # after them
    with built_by_the_orm() as built:
        assert deliveries_settle() == 2
    assert [sql for sql in built if 'FROM "delivery_fraudflag"' in sql] == []
    voided = Reward.objects.filter(job__in=jobs[1:]).order_by("job_id")
    assert [(reward.status, reward.voided_by_id) for reward in voided] == [(RewardStatus.VOIDED, strike.pk)] * 2


# A warm settle batch on PostgreSQL, however many providers it pays (in a test, its transaction a savepoint): the
# reports claimed; their jobs read; in a savepoint the reward rule (one per route and priority), the providers'
# verified rewards, the rewards' insert and the providers' accounts; the ledger batch (three statements in its
# savepoint); the day's stat rows; the reputations; the standing strikes; the sticky senders; the marks cleared. Each
# provider's verified rewards, accounts, stat row and reputation (two statements) were statements of their own: this
# batch of three providers took 31. On SQLite the ledger writes row by row and the stat rows and reputations stay per
# provider (one, and two): 35 before.
PROVIDERS_SETTLE_BATCH_STATEMENTS = {"postgresql": 20, "sqlite": 31}


def test_a_settle_batch_costs_the_same_statements_however_many_providers_it_pays(
    organization, provider, roomy, settle_later, settings
):
    settings.INCENTIVES_ESTABLISHMENT_DAYS = 30  # the providers are old enough to count their verified rewards
    settings.INCENTIVES_ESTABLISHMENT_DELIVERIES = 5
    providers = [provider, provider_with_sim(Carrier.CELLCARD), provider_with_sim(Carrier.CELLCARD)]
    Provider.objects.filter(pk__in=[p.pk for p in providers]).update(created_at=timezone.now() - timedelta(days=60))
    jobs: dict[int, list[Job]] = {}
    for index, paid in enumerate(providers):
        # Only this provider's SIM is matchable while its messages are dispatched.
        Sim.objects.exclude(provider=paid).update(matchable=False)
        Sim.objects.filter(provider=paid).update(matchable=True)
        jobs[paid.pk] = []
        for number in range(3):
            data = MessageInput(to=f"012 345 {index}{number:02d}", body="Hi")
            message = message_submit(organization=organization, api_key=None, data=data)
            assert dispatch(message) == "assigned"
            jobs[paid.pk].append(job_accept(job_id=Job.objects.get(message=message).pk, user=paid.user))
    Job.objects.update(offered_at=timezone.now() - timedelta(minutes=1))
    # Warm: one delivery of each provider settled first makes the day's stat rows and opens the accounts.
    for paid in providers:
        reports_submit_batch(user=paid.user, items=[delivered(jobs[paid.pk][0])])
    assert deliveries_settle() == 3
    reputations = dict(Provider.objects.filter(pk__in=[p.pk for p in providers]).values_list("pk", "reputation"))
    for paid in providers:
        reports_submit_batch(user=paid.user, items=[delivered(job) for job in jobs[paid.pk][1:]])

    with CaptureQueriesContext(connection) as statements:
        assert deliveries_settle() == 6
    listed = "\n".join(query["sql"][:120] for query in statements.captured_queries)
    assert len(statements) == PROVIDERS_SETTLE_BATCH_STATEMENTS[connection.vendor], listed
    assert unsettled() == {}
    every = [job for paid in providers for job in jobs[paid.pk]]
    captured_once(list(Message.objects.filter(pk__in=[job.message_id for job in every])))
    rewards = Reward.objects.filter(job__in=every, status=RewardStatus.PENDING)
    # All three still establishing (none of their rewards posted yet): the establishing share.
    assert list(rewards.values_list("establishing", flat=True)) == [True] * 9
    for paid in providers:
        assert DeliveryStat.objects.get(provider=paid).delivered == 3
        paid.refresh_from_db()
        assert paid.reputation > reputations[paid.pk]
        assert paid.jobs_delivered == 3
    assert ledger_check().breaks == 0
