"""Anti-fraud rules (each with a positive and a negative case), canaries, strikes, suspension, reputation, rates."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.delivery.canaries import canaries_judge, canaries_send, canary_send
from apps.delivery.choices import CanaryStatus, FraudRule
from apps.delivery.fraud import delivery_stats_rollup, fraud_flag, fraud_scan, fraud_strike_clear, outcome_record
from apps.delivery.models import Canary, DeliveryStat, FraudFlag
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, jobs_expire_overdue, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier, ProviderStatus
from apps.providers.models import Device, Provider, Sim
from apps.providers.services import device_register
from apps.providers.tests.factories import DeviceFactory, SimFactory, provider_with_sim

pytestmark = pytest.mark.django_db

AUDIT_PHONE = "+85512999888"


def iso(moment=None) -> str:
    return (moment or timezone.now()).isoformat().replace("+00:00", "Z")


def new_job(carrier=Carrier.CELLCARD, to="012 345 678", provider=None):
    organization = client_create(user=UserFactory(), name="Acme")
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body="Hello"))
    provider = provider or provider_with_sim(carrier)
    assert dispatch(message) == "assigned"
    return Job.objects.select_related("provider__user").get(message=message)


def report(client, job, status, **extra):
    payload = {"status": status, "occurred_at": extra.pop("occurred_at", iso()), **extra}
    return client.post(f"/api/jobs/{job.pk}/report", payload, format="json").json()


def rules(provider) -> list[str]:
    return sorted(FraudFlag.objects.filter(provider=provider).values_list("rule", flat=True))


class TestReportRules:
    def test_fast_delivery_is_a_strike_and_a_plausible_one_is_not(self, api_client_for):
        fast = new_job()
        report(api_client_for(fast.provider.user), fast, "delivered")
        # Not acknowledged first: the report acknowledged it too (the folded protocol), which is no oddity.
        assert rules(fast.provider) == ["fast_delivery"]
        assert FraudFlag.objects.get(rule="fast_delivery").strike is True

        honest = new_job(carrier=Carrier.SMART, to="010 123 456")
        client = api_client_for(honest.provider.user)
        client.post(f"/api/jobs/{honest.pk}/ack")
        Job.objects.filter(pk=honest.pk).update(offered_at=timezone.now() - timedelta(seconds=20))
        report(client, honest, "sent")
        report(client, honest, "delivered")
        assert rules(honest.provider) == []

    def test_delivered_before_sent(self, api_client_for):
        job = new_job()
        client = api_client_for(job.provider.user)
        client.post(f"/api/jobs/{job.pk}/ack")
        Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(minutes=5))
        report(client, job, "sent")
        report(client, job, "delivered", occurred_at=iso(timezone.now() - timedelta(minutes=2)))
        assert rules(job.provider) == ["delivered_before_sent"]

    def test_report_from_a_device_not_bound_to_the_provider(self, api_client_for):
        job = new_job()
        stranger_device = DeviceFactory()
        client = api_client_for(job.provider.user)
        client.post(f"/api/jobs/{job.pk}/ack")
        report(client, job, "sent", device=stranger_device.pk)
        assert rules(job.provider) == ["unbound_device"]
        own = new_job(carrier=Carrier.SMART, to="010 123 456")
        own_client = api_client_for(own.provider.user)
        own_client.post(f"/api/jobs/{own.pk}/ack")
        report(own_client, own, "sent", device=Device.objects.get(provider=own.provider).pk)
        assert rules(own.provider) == []

    def test_burst_of_deliveries(self, api_client_for, settings):
        settings.FRAUD_BURST_PER_MINUTE = 2
        settings.REPORT_MIN_DELIVERY_SECONDS = 0
        provider = provider_with_sim(Carrier.CELLCARD)
        Provider.objects.filter(pk=provider.pk).update(jobs_in_flight=0)
        client = api_client_for(provider.user)
        for n in range(3):
            job = new_job(to=f"012 345 67{n}", provider=provider)
            client.post(f"/api/jobs/{job.pk}/ack")
            report(client, job, "delivered")
            assert (rules(provider) == ["burst"]) == (n == 2)

    @pytest.mark.parametrize(("batch", "burst"), [(2, False), (3, True)])
    def test_a_batch_counts_its_own_deliveries_toward_a_burst(self, api_client_for, settings, batch, burst):
        # The count is read with the jobs' lock, before the batch's reports are stored: its own are added to it.
        settings.FRAUD_BURST_PER_MINUTE = 2
        settings.REPORT_MIN_DELIVERY_SECONDS = 0
        settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 10
        provider = provider_with_sim(Carrier.CELLCARD)
        client = api_client_for(provider.user)
        jobs = [new_job(to=f"012 345 67{n}", provider=provider) for n in range(batch)]
        rows = [{"job_id": job.pk, "status": "delivered", "occurred_at": iso()} for job in jobs]
        answer = client.post("/api/jobs/reports", {"reports": rows}, format="json").json()
        assert [row["job_status"] for row in answer["results"]] == ["delivered"] * batch
        assert (rules(provider) == ["burst"]) == burst


class TestStrikes:
    def test_strikes_cost_reputation_and_suspend_past_the_threshold(self, settings):
        settings.FRAUD_STRIKES_TO_SUSPEND = 2
        provider = provider_with_sim(Carrier.SMART)
        before = Provider.objects.get(pk=provider.pk).reputation
        fraud_flag(provider_id=provider.pk, rule=FraudRule.FAST_DELIVERY, strike=True)
        provider.refresh_from_db()
        assert provider.reputation == before - 150 and provider.status == ProviderStatus.ACTIVE
        fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True)
        provider.refresh_from_db()
        assert provider.status == ProviderStatus.SUSPENDED
        assert AuditLog.objects.filter(action="fraud.strike").count() == 2

    def test_staff_clear_a_strike_from_the_admin_once_audited(self, client):
        provider = provider_with_sim(Carrier.SMART)
        strike = fraud_flag(provider_id=provider.pk, rule=FraudRule.FAST_DELIVERY, strike=True)
        note = fraud_flag(provider_id=provider.pk, rule=FraudRule.NO_ACK, strike=False)
        staff = UserFactory(is_staff=True, is_superuser=True)
        client.force_login(staff)
        url = reverse("admin:delivery_fraudflag_changelist")
        for _ in range(2):  # twice: the second finds nothing left to clear
            response = client.post(url, {"action": "clear_strikes", "_selected_action": [strike.pk, note.pk]})
            assert response.status_code == 302
        strike.refresh_from_db()
        note.refresh_from_db()
        assert strike.cleared_at is not None and note.cleared_at is None  # a note is not a strike
        assert list(AuditLog.objects.filter(action="fraud.strike_cleared").values_list("actor_id", "target_id")) == [
            (staff.pk, str(strike.pk))
        ]
        assert fraud_strike_clear(flag=strike, actor=staff) is False

    def test_plain_flags_do_not_suspend(self, settings):
        settings.FRAUD_STRIKES_TO_SUSPEND = 1
        provider = provider_with_sim(Carrier.SMART)
        fraud_flag(provider_id=provider.pk, rule=FraudRule.NO_ACK, strike=False)
        provider.refresh_from_db()
        assert provider.status == ProviderStatus.ACTIVE


class TestPeriodicRules:
    def test_one_phone_under_two_providers(self, settings):
        first, second = provider_with_sim(Carrier.SMART), provider_with_sim(Carrier.METFONE)
        clean = provider_with_sim(Carrier.CELLCARD)
        token = Device.objects.get(provider=first).fcm_token
        # Another provider may take a phone's token over only once the phone has been silent long enough.
        silent_since = timezone.now() - timedelta(days=settings.PROVIDER_DEVICE_RETIRED_AFTER_DAYS + 1)
        Device.objects.filter(provider=first).update(last_heartbeat_at=silent_since, updated_at=silent_since)
        device_register(provider=second, actor=second.user, fcm_token=token, platform="android", app_version="1.0")
        assert fraud_scan()["shared_device"] == 2
        assert rules(first) == rules(second) == ["shared_device"]
        assert rules(clean) == []
        assert fraud_scan()["shared_device"] == 0  # once a day per finding

    def test_one_sim_under_two_providers(self):
        first = provider_with_sim(Carrier.SMART)
        sim = Sim.objects.get(provider=first)
        Sim.objects.filter(pk=sim.pk).update(active=False, matchable=False, removed_at=timezone.now())
        second = provider_with_sim(Carrier.METFONE)
        SimFactory(provider=second, carrier=Carrier.SMART, msisdn=sim.msisdn, slot=1)
        assert fraud_scan()["shared_sim"] == 2
        assert rules(first) == ["shared_sim"]

    def test_success_rate_far_above_the_carrier(self, settings):
        settings.FRAUD_OUTLIER_MIN_VOLUME = 10
        cheat, honest = provider_with_sim(Carrier.SMART), provider_with_sim(Carrier.SMART)
        for _ in range(20):
            outcome_record(provider_id=cheat.pk, carrier=Carrier.SMART, outcome="delivered")
        for n in range(20):
            outcome_record(provider_id=honest.pk, carrier=Carrier.SMART, outcome="delivered" if n % 3 else "failed")
        for n in range(40):
            outcome_record(provider_id=honest.pk, carrier=Carrier.SMART, outcome="failed" if n % 2 else "delivered")
        assert fraud_scan()["success_outlier"] == 1
        assert rules(cheat) == ["success_outlier"] and rules(honest) == []


class TestRatesAndReputation:
    def test_outcomes_are_counted_per_provider_and_the_carrier_totals_by_the_scan(self):
        provider = provider_with_sim(Carrier.SMART)
        outcome_record(provider_id=provider.pk, carrier=Carrier.SMART, outcome="delivered")
        outcome_record(provider_id=provider.pk, carrier=Carrier.SMART, outcome="failed")
        today = timezone.localdate()
        mine = DeliveryStat.objects.get(day=today, provider=provider)
        assert (mine.delivered, mine.failed, mine.success_rate) == (1, 1, 0.5)
        assert not DeliveryStat.objects.filter(provider__isnull=True).exists()  # no hot row on the report path
        assert Provider.objects.values_list("jobs_delivered", "jobs_failed").get(pk=provider.pk) == (1, 1)
        fraud_scan()
        total = DeliveryStat.objects.get(day=today, carrier=Carrier.SMART, provider__isnull=True)
        assert (total.delivered, total.failed) == (1, 1)

    def test_the_carrier_totals_are_the_sums_of_the_providers_rows(self):
        first, second = provider_with_sim(Carrier.SMART), provider_with_sim(Carrier.SMART)
        other = provider_with_sim(Carrier.METFONE)
        yesterday = timezone.now() - timedelta(days=1)
        for provider, carrier, outcome, when in [
            (first, Carrier.SMART, "delivered", None),
            (first, Carrier.SMART, "delivered", None),
            (second, Carrier.SMART, "failed", None),
            (other, Carrier.METFONE, "delivered", None),
            (first, Carrier.SMART, "failed", yesterday),
        ]:
            outcome_record(provider_id=provider.pk, carrier=carrier, outcome=outcome, when=when)

        def totals() -> set:
            rows = DeliveryStat.objects.filter(provider__isnull=True)
            return set(rows.values_list("day", "carrier", "delivered", "failed"))

        today, day_before = timezone.localdate(), timezone.localdate(yesterday)
        expected = {(today, "smart", 2, 1), (today, "metfone", 1, 0), (day_before, "smart", 0, 1)}
        assert delivery_stats_rollup(since=day_before) == 3
        assert totals() == expected
        assert delivery_stats_rollup(since=day_before) == 0  # it sets, never adds
        assert totals() == expected
        outcome_record(provider_id=second.pk, carrier=Carrier.SMART, outcome="delivered")
        fraud_scan()
        assert totals() == expected - {(today, "smart", 2, 1)} | {(today, "smart", 3, 1)}

    def test_reputation_moves_the_right_way(self, api_client_for, settings):
        job = new_job()
        start = Provider.objects.get(pk=job.provider_id).reputation
        client = api_client_for(job.provider.user)
        client.post(f"/api/jobs/{job.pk}/ack")
        Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=30))
        report(client, job, "delivered")
        after_delivery = Provider.objects.get(pk=job.provider_id).reputation
        assert after_delivery > start

        failing = new_job(to="012 345 679", provider=job.provider)
        client.post(f"/api/jobs/{failing.pk}/ack")
        report(client, failing, "failed", error_code="no_service")
        after_failure = Provider.objects.get(pk=job.provider_id).reputation
        assert after_failure < after_delivery

        quiet = new_job(to="012 345 670", provider=job.provider)
        client.post(f"/api/jobs/{quiet.pk}/ack")
        Job.objects.filter(pk=quiet.pk).update(deadline=timezone.now() - timedelta(seconds=1))
        jobs_expire_overdue()  # the lease ended: the phone is asked whether it sent it, no penalty yet
        assert Provider.objects.get(pk=job.provider_id).reputation == after_failure
        jobs_expire_overdue(now=timezone.now() + timedelta(seconds=settings.JOB_UNKNOWN_ANSWER_SECONDS + 1))
        assert Provider.objects.get(pk=job.provider_id).reputation < after_failure


class TestCanaries:
    @pytest.fixture(autouse=True)
    def audit_phone(self, settings):
        settings.AUDIT_RECIPIENTS = [AUDIT_PHONE]
        settings.AUDIT_INBOUND_TOKEN = "audit-secret"

    def deliver(self, canary, api_client_for):
        provider = provider_with_sim(Carrier.CELLCARD)
        assert dispatch(canary.message) == "assigned"
        job = Job.objects.get(message=canary.message)
        client = api_client_for(provider.user)
        client.post(f"/api/jobs/{job.pk}/ack")
        Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=30))
        report(client, job, "delivered")
        return job

    def inbound(self, api_client, body, token="audit-secret"):
        return api_client.post(
            "/api/audit/inbound",
            {"to": "012 999 888", "body": body},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    def test_canaries_look_like_ordinary_jobs(self):
        assert canaries_send(probability=1.0) == 1
        canary = Canary.objects.get()
        message = canary.message
        assert message.to == AUDIT_PHONE and canary.nonce in message.body
        assert message.reference == "" and message.status == MessageStatus.QUEUED
        assert canaries_send(probability=0.0) == 0

    def test_confirmed_canary_credits_the_provider(self, api_client_for, api_client):
        canary = canary_send(to=AUDIT_PHONE)
        job = self.deliver(canary, api_client_for)
        before = Provider.objects.get(pk=job.provider_id).reputation
        assert self.inbound(api_client, canary.message.body).json() == {"matched": True}
        assert canaries_judge() == {"confirmed": 1, "missed": 0, "undelivered": 0}
        assert Canary.objects.get().status == CanaryStatus.CONFIRMED
        [settled] = AuditLog.objects.filter(action="canary.settled", target_id=str(canary.pk))
        assert settled.after == {"status": CanaryStatus.CONFIRMED} and settled.actor_label == "task:canaries"
        assert Provider.objects.get(pk=job.provider_id).reputation > before
        assert rules(job.provider) == []

    def test_missing_canary_is_a_strike(self, api_client_for, settings):
        canary = canary_send(to=AUDIT_PHONE)
        job = self.deliver(canary, api_client_for)
        assert canaries_judge() == {"confirmed": 0, "missed": 0, "undelivered": 0}  # still within the window
        Message.objects.filter(pk=canary.message_id).update(delivered_at=timezone.now() - timedelta(minutes=11))
        assert canaries_judge()["missed"] == 1
        flag = FraudFlag.objects.get(provider=job.provider_id)
        assert (flag.rule, flag.strike) == ("canary_missed", True)

    def test_inbound_needs_the_audit_token(self, api_client):
        canary = canary_send(to=AUDIT_PHONE)
        assert self.inbound(api_client, canary.message.body, token="wrong").status_code == 403
        assert api_client.post("/api/audit/inbound", {"to": AUDIT_PHONE, "body": "x"}, format="json").status_code == 403
        assert self.inbound(api_client, "an unrelated SMS 123456").json() == {"matched": False}
        assert Canary.objects.get().confirmed_at is None

    def test_undelivered_canary_is_settled_without_blame(self):
        canary = canary_send(to=AUDIT_PHONE)
        Message.objects.filter(pk=canary.message_id).update(status=MessageStatus.EXPIRED)
        assert canaries_judge()["undelivered"] == 1
        assert not FraudFlag.objects.exists()


def test_each_job_is_flagged_once_per_rule():
    job = new_job()
    assert fraud_flag(provider_id=job.provider_id, rule=FraudRule.NO_ACK, strike=False, job=job) is not None
    assert fraud_flag(provider_id=job.provider_id, rule=FraudRule.NO_ACK, strike=False, job=job) is None
    assert job.status == JobStatus.OFFERED
