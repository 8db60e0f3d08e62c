"""Admission control: the send API refuses work beyond what the network's phones and reports can absorb (429
`overloaded`), a flooding client first, keeping a share for high priority."""

from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from apps.accounts.services import api_key_create, client_create
from apps.accounts.tests.factories import UserFactory
from apps.messaging.choices import JobStatus, MessageStatus, Priority
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, job_accept, message_submit
from apps.messaging.services.admission import SNAPSHOT_KEY, admission_refresh, admission_snapshot
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

CARRIERS = len(Carrier.values)


@pytest.fixture
def small_network(settings, db):
    """Each carrier may hold a backlog of 10 messages (no phones online), 20 % of it kept for high priority. The
    clock stands still, so one snapshot lasts the test unless it moves the clock on (a slow machine would not)."""
    settings.ADMISSION_MIN_BACKLOG = 10
    settings.ADMISSION_BACKLOG_ROUNDS = 2
    settings.ADMISSION_HIGH_RESERVED_SHARE = 0.2
    settings.MESSAGE_RATE_PER_SECOND = 10_000
    with time_machine.travel(timezone.now(), tick=False):
        yield settings


def _client(name: str):
    from rest_framework.test import APIClient

    organization = client_create(user=UserFactory(), name=name)
    _, secret = api_key_create(organization=organization, actor=None, name="server")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.organization = organization
    return client


def _queue(organization) -> Message:
    """A message on Smart queued by `organization` (its own staff, no API key)."""
    return message_submit(organization=organization, api_key=None, data=MessageInput(to="+85510000001", body="x"))


def _send(client, priority: str = Priority.NORMAL, to: str = "+85512345678"):
    return client.post("/api/messages/send", {"to": to, "body": "Hello", "priority": priority}, format="json")


def _bulk(client, count: int, priority: str = Priority.NORMAL):
    items = [{"to": f"+8551234{n:04d}", "body": "Hello", "priority": priority} for n in range(count)]
    return client.post("/api/messages/bulk", {"messages": items}, format="json")


def test_the_snapshot_measures_backlog_against_online_capacity(small_network, organization):
    assert admission_refresh().headroom == 10 * CARRIERS  # nothing queued, no phone: the minimum everywhere
    for _ in range(3):
        provider_with_sim(carrier=Carrier.SMART)  # 3 SIMs × 3 jobs × 2 rounds = 18 > the minimum
    small_network.PROVIDER_MAX_JOBS_IN_FLIGHT = 3
    for _ in range(4):
        _queue(organization)
    snapshot = admission_refresh()
    assert snapshot.carriers[Carrier.SMART] == (4, 18)
    assert snapshot.headroom == 14 + 10 * (CARRIERS - 1)
    assert snapshot.client_backlog == {organization.pk: 4}


def test_beyond_the_headroom_a_send_is_refused_with_retry_after_and_nothing_stored(small_network):
    client = _client("Flood Co")
    normal_limit = 10 * CARRIERS - 10 * CARRIERS // 5  # high priority keeps 20 %
    assert _bulk(client, normal_limit).status_code == 200
    stored = Message.objects.count()

    response = _send(client)

    assert response.status_code == 429
    assert response.json()["code"] == "overloaded"
    assert int(response["Retry-After"]) >= 1
    assert Message.objects.count() == stored


def test_a_refused_request_gives_its_claim_and_quota_back(small_network):
    client = _client("Retry Co")
    normal_limit = 10 * CARRIERS * 4 // 5
    assert _bulk(client, normal_limit + 1).status_code == 429  # too big as a whole
    assert _bulk(client, normal_limit).status_code == 200  # the refused one took nothing


def test_high_priority_keeps_its_reserved_share(small_network):
    client = _client("Bank")
    assert _bulk(client, 10 * CARRIERS * 4 // 5).status_code == 200
    assert _send(client).status_code == 429
    assert _send(client, priority=Priority.HIGH).status_code == 202


def test_a_flooding_client_is_refused_first(small_network):
    flood, small = _client("Flood Co"), _client("Small Co")
    budget = 10 * CARRIERS * 4 // 5  # 48 for normal priority, each client's equal share 24
    assert _send(small).status_code == 202
    assert _bulk(flood, 20).status_code == 200
    # Past half the headroom, the client above its equal share is refused while the other still gets in.
    flood_singles = [_send(flood).status_code for _ in range(6)]
    assert flood_singles == [202] * 4 + [429] * 2
    accepted = sum(_send(small).status_code == 202 for _ in range(budget))
    assert accepted == budget - 25  # the rest of the headroom, and no more


def test_headroom_comes_back_with_a_new_snapshot_once_the_backlog_drains(small_network):
    client = _client("Patient Co")
    assert _bulk(client, 10 * CARRIERS * 4 // 5).status_code == 200
    assert _send(client).status_code == 429
    Message.objects.update(status=MessageStatus.CANCELLED)  # drained (as if sent), whatever the way
    with time_machine.travel(timezone.now() + timedelta(seconds=small_network.ADMISSION_SNAPSHOT_SECONDS + 1)):
        assert _send(client).status_code == 202  # the stale snapshot was measured again by this request


def test_lagging_reports_admit_only_high_priority(small_network, organization):
    small_network.ADMISSION_REPORT_LAG_SECONDS = 30
    provider = provider_with_sim(carrier=Carrier.SMART)
    message = _queue(organization)
    assert dispatch(message) == "assigned"
    job_accept(job_id=Job.objects.get(message=message).pk, user=provider.user)
    client = _client("Busy Co")
    admission_refresh()
    assert _send(client).status_code == 202  # acknowledged just now: reports are keeping up

    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        snapshot = admission_refresh()
        assert (snapshot.accepted_jobs, snapshot.late_reports) == (1, 1)
        refused = _send(client)
        assert refused.status_code == 429 and refused.json()["code"] == "overloaded"
        assert _send(client, priority=Priority.HIGH).status_code == 202
    assert Job.objects.get(message=message).status == JobStatus.ACCEPTED


def test_off_switch(small_network):
    small_network.ADMISSION_ENABLED = False
    client = _client("Any Co")
    assert _bulk(client, 10 * CARRIERS + 5).status_code == 200


def test_the_snapshot_is_shared_not_measured_per_request(small_network, django_assert_num_queries):
    admission_refresh()
    with django_assert_num_queries(0):
        admission_snapshot()


def test_each_process_reuses_the_snapshot_it_read_for_a_second(small_network):
    small_network.ADMISSION_LOCAL_CACHE_SECONDS = 1
    mine = admission_refresh()
    # Another process takes a newer snapshot: this one goes on with what it read, for a second at most.
    theirs = replace(mine, version=mine.version + 1)
    cache.set(SNAPSHOT_KEY, theirs, timeout=60)
    assert admission_snapshot() == mine
    with time_machine.travel(timezone.now() + timedelta(seconds=1), tick=False):
        assert admission_snapshot() == theirs


def test_a_stale_snapshot_is_not_reused_but_refreshed(small_network):
    small_network.ADMISSION_LOCAL_CACHE_SECONDS = 60  # longer than a snapshot lives
    first = admission_refresh()
    with time_machine.travel(timezone.now() + timedelta(seconds=small_network.ADMISSION_SNAPSHOT_SECONDS + 1)):
        assert admission_snapshot().version != first.version


def test_a_clock_set_back_reads_the_shared_snapshot_again(small_network):
    small_network.ADMISSION_LOCAL_CACHE_SECONDS = 60
    with time_machine.travel(timezone.now() + timedelta(seconds=3), tick=False):
        mine = admission_refresh()  # remembered "3 s from now"
    theirs = replace(mine, version=mine.version + 1, taken_at=mine.taken_at - 3)
    cache.set(SNAPSHOT_KEY, theirs, timeout=60)
    assert admission_snapshot() == theirs


def test_reading_the_snapshot_again_is_off_by_default_in_tests(small_network):
    first = admission_refresh()
    theirs = replace(first, version=first.version + 1)
    cache.set(SNAPSHOT_KEY, theirs, timeout=60)
    assert admission_snapshot() == theirs


def test_the_headroom_follows_the_measured_drain(small_network, organization):
    """The backlog may hold what drains in ADMISSION_DRAIN_SECONDS: measured between snapshots, smoothed, never
    below the minimum, and never above what the phones' capacity allows."""
    small_network.ADMISSION_DRAIN_SECONDS = 10
    small_network.ADMISSION_ENABLED = False  # queued before any snapshot was taken
    queued = [_queue(organization).pk for _ in range(8)]
    small_network.ADMISSION_ENABLED = True
    first = admission_refresh()
    assert first.drain_per_second is None and first.headroom == 2 + 10 * (CARRIERS - 1)  # capacity alone

    Message.objects.filter(pk__in=queued[:4]).update(status=MessageStatus.SENT)  # four reports processed in 2 s
    now = timezone.now()
    with time_machine.travel(now + timedelta(seconds=2), tick=False):
        second = admission_refresh()
        assert second.drain_per_second == 2.0
        assert second.headroom == 2 * 10 - 4  # what drains in 10 s, less the 4 still waiting
        client = _client("Drain Co")
        assert _bulk(client, 13).status_code == 429  # 16 less high priority's 20 % is 12
        assert _bulk(client, 8).status_code == 200  # its fair share of the 12 beside Acme's 4 waiting

    with time_machine.travel(now + timedelta(seconds=4), tick=False):
        Message.objects.filter(organization=client.organization).update(status=MessageStatus.SENT)
        third = admission_refresh()  # 8 admitted and drained in 2 s: 4/s measured, smoothed with 2/s
        assert third.drain_per_second == 3.0 and third.headroom == 3 * 10 - 4

    with time_machine.travel(now + timedelta(seconds=14), tick=False):
        assert admission_refresh().drain_per_second == 1.5  # nothing left the backlog for 10 s
    with time_machine.travel(now + timedelta(seconds=24), tick=False):
        stalled = admission_refresh()  # 0.75/s would clear 7 in 10 s: the minimum of 10 holds
        assert stalled.drain_per_second == 0.75 and stalled.headroom == small_network.ADMISSION_MIN_BACKLOG - 4


def test_a_quiet_spell_does_not_pass_for_a_slow_path(small_network, organization):
    """An interval in which the path cleared everything that waited says only that it kept up: an idle network
    leaves the drain unmeasured (capacity alone decides, so the first burst after a quiet spell is not held to the
    minimum backlog), and a trickle may raise a measured figure, never lower it."""
    small_network.ADMISSION_DRAIN_SECONDS = 10
    now = timezone.now()
    assert admission_refresh().drain_per_second is None
    with time_machine.travel(now + timedelta(seconds=5), tick=False):
        idle = admission_refresh()  # nothing waited, nothing drained
        assert idle.drain_per_second is None and idle.headroom == 10 * CARRIERS  # capacity alone
        client = _client("Burst Co")
        assert _bulk(client, 8).status_code == 200  # sent in one snapshot; all of it drains before the next

    with time_machine.travel(now + timedelta(seconds=7), tick=False):
        Message.objects.filter(organization=client.organization).update(status=MessageStatus.SENT)
        assert admission_refresh().drain_per_second is None  # it kept up: still unmeasured

    # Behind once: 8 waited, 4 drained in 2 s — the path's speed is measured, 2/s.
    small_network.ADMISSION_ENABLED = False
    queued = [_queue(organization).pk for _ in range(8)]
    small_network.ADMISSION_ENABLED = True
    with time_machine.travel(now + timedelta(seconds=8), tick=False):
        assert admission_refresh().drain_per_second is None  # 8 appeared, none had waited: nothing measured
    with time_machine.travel(now + timedelta(seconds=10), tick=False):
        Message.objects.filter(pk__in=queued[:4]).update(status=MessageStatus.SENT)
        assert admission_refresh().drain_per_second == 2.0

    # Then a trickle: the 4 left drain in 10 s (0.4/s) — it kept up, so the 2/s stands.
    Message.objects.filter(pk__in=queued[4:]).update(status=MessageStatus.SENT)
    with time_machine.travel(now + timedelta(seconds=20), tick=False):
        trickle = admission_refresh()
        assert trickle.drain_per_second == 2.0 and trickle.headroom == 2 * 10
