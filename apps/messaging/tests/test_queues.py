"""Signals reach the broker after commit: for messages due now, one together dispatcher of every priority on the high
queue (high never waits behind the default and low queues); a priority's backlog, on that priority's own queue."""

import time

import pytest
from kombu.exceptions import ChannelError

from apps.core.tests.broker_queues import broker_purge, broker_take
from apps.messaging.choices import Priority
from apps.messaging.filtering.runtime import publish_rules_changed
from apps.messaging.models import FilterTerm, Message
from apps.messaging.services import MessageInput, message_submit, message_submit_bulk, signal
from apps.messaging.services.dispatch import dispatch_signal_received
from apps.messaging.services.signal import dispatch_signal
from apps.messaging.tasks import dispatch_due
from peerpower.celery import app

pytestmark = pytest.mark.django_db(transaction=True)

QUEUES = ("high", "default", "low")


def queue_sizes() -> dict[str, int]:
    with app.connection_for_write() as connection, connection.channel() as channel:
        return {name: _size(channel, name) for name in QUEUES}


def _size(channel, name: str) -> int:
    try:
        return channel.queue_declare(queue=name, passive=True).message_count
    except ChannelError:  # Redis keeps no empty queue: not found means empty
        return 0


@pytest.fixture(autouse=True)
def empty_queues():
    broker_purge(*QUEUES)
    yield
    broker_purge(*QUEUES)


def submit(organization, priority, to="012 345 678"):
    return message_submit(
        organization=organization, api_key=None, data=MessageInput(to=to, body="hello", priority=priority)
    )


def test_a_burst_of_mixed_priorities_publishes_one_dispatcher_on_the_high_queue(organization):
    submit(organization, Priority.LOW)
    submit(organization, Priority.HIGH, to="012 345 679")
    submit(organization, Priority.NORMAL, to="012 345 680")
    assert [(task.name, task.args) for task in broker_take("high")] == [("messaging.dispatch_due", [])]
    assert queue_sizes() == {"high": 0, "default": 0, "low": 0}
    # It takes all three, of every priority, in one batch (no provider is online: they wait, but taken together).
    assert dispatch_due()["taken"] == 3


def test_a_dispatcher_on_its_way_is_not_signalled_again(organization):
    submit(organization, Priority.LOW)
    submit(organization, Priority.HIGH, to="012 345 679")
    assert queue_sizes()["high"] == 1  # the one dispatcher takes both from the database
    # Once it has started it may have read past newer messages: the next signal publishes again.
    dispatch_signal_received()
    submit(organization, Priority.LOW, to="012 345 680")
    assert queue_sizes()["high"] == 2


def test_a_bulk_request_sends_one_signal_for_all_its_priorities(organization):
    items = [MessageInput(to=f"010 123 {n:03d}", body="x", priority=Priority.LOW) for n in range(20)]
    items.append(MessageInput(to="010 123 999", body="x", priority=Priority.HIGH))
    message_submit_bulk(organization=organization, api_key=None, items=items)
    assert queue_sizes() == {"high": 1, "default": 0, "low": 0}


def test_a_backlog_is_handed_to_its_priority_s_own_dispatcher_and_high_is_read_first(organization, settings):
    """Heavy load: the together dispatcher takes one batch of each priority, high first; a priority whose batch was
    full has more waiting, and goes to a dispatcher of its own on its own queue (one on its way at a time), which
    carries on with it there."""
    settings.MESSAGE_DISPATCH_BATCH = 2
    # The waiting ones back off a minute or more: on a loaded machine the test's own steps outlast the default
    # base's 2-6 s, and the backed-off messages (and their delayed signal) would come due mid-test.
    settings.MESSAGE_DISPATCH_BACKOFF_BASE = 60
    for n in range(5):
        submit(organization, Priority.LOW, to=f"012 345 6{n:02d}")
    submit(organization, Priority.HIGH, to="012 345 699")
    broker_purge(*QUEUES)

    assert dispatch_due() == {"taken": 3, "waiting": 3}  # high's one and a batch of low: no provider, they wait
    assert Message.objects.get(priority=Priority.HIGH).dispatch_tries == 1
    assert Message.objects.filter(priority=Priority.LOW, dispatch_tries=1).count() == 2
    handed = [(task.name, task.args, task.starts_at) for task in broker_take("low")]
    assert handed == [("messaging.dispatch_due", [Priority.LOW], None)]
    assert starting_soon("high") == [] and queue_sizes()["default"] == 0  # only the waiting ones' delayed signal

    assert dispatch_due()["taken"] == 2  # another together dispatcher finds low still full
    assert queue_sizes()["low"] == 0  # its own dispatcher is already on its way: not handed again
    assert dispatch_due(Priority.LOW) == {"taken": 1, "waiting": 1}  # which drains the rest on the low queue
    assert dispatch_due()["taken"] == 0


def test_a_batch_not_full_is_not_handed_off(organization, settings):
    settings.MESSAGE_DISPATCH_BATCH = 2
    submit(organization, Priority.LOW)
    submit(organization, Priority.NORMAL, to="012 345 679")
    broker_purge(*QUEUES)
    assert dispatch_due()["taken"] == 2
    assert queue_sizes()["default"] == 0 and queue_sizes()["low"] == 0


def test_nothing_is_queued_when_the_transaction_rolls_back(organization):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        submit(organization, Priority.HIGH)
        raise RuntimeError("the caller failed after submitting")
    assert queue_sizes() == {"high": 0, "default": 0, "low": 0}


def test_held_messages_are_not_queued(organization):
    # Transactional tests empty the tables between tests (seeded rules included), so bring the term along.
    FilterTerm.objects.update_or_create(
        term="casino", language="en", defaults={"category": "gambling", "weight": 60, "active": True}
    )
    publish_rules_changed()
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Win big at our casino")
    )
    assert message.status == "held"
    # Its signal asked in the round trip that counted its limits, before the filter held it: having put the mark, it
    # published the dispatcher others may trust (apps.messaging.services.signal), which finds nothing of it.
    assert queue_sizes() == {"high": 1, "default": 0, "low": 0}
    assert dispatch_due()["taken"] == 0


def published(queue: str) -> list[tuple[str, float | None]]:
    """The tasks waiting in `queue`: each one's name and when it may start (a Unix time; None: at once)."""
    return [(task.name, task.starts_at) for task in broker_take(queue)]


def starting_soon(queue: str) -> list[float | None]:
    """The dispatchers in `queue` signalled for messages due now (not the delayed ones of a backoff, a second or more
    away)."""
    return [starts for _, starts in published(queue) if starts is None or starts < time.time() + 1]


def test_a_dispatcher_lingers_so_messages_submitted_within_the_window_share_its_batch(organization, settings):
    settings.DISPATCH_LINGER_MS = 50
    before = time.time()
    submit(organization, Priority.LOW)
    after = time.time()
    submit(organization, Priority.LOW, to="012 345 679")
    submit(organization, Priority.LOW, to="012 345 680")

    [(task, starts_at)] = published("high")
    assert task == "messaging.dispatch_due"
    # It reads at the end of the window the first message opened: it starts the grace it waits after taking its mark
    # sooner.
    starts = 0.05 - settings.DISPATCH_SIGNAL_GRACE_MS / 1000
    assert before + starts - 0.001 <= starts_at <= after + starts + 0.001
    # The one task takes all three in one batch (no provider is online: they wait, but they were taken together).
    assert dispatch_due()["taken"] == 3


def test_a_message_submitted_after_the_dispatcher_started_gets_a_dispatcher_of_its_own(organization, settings):
    settings.DISPATCH_LINGER_MS = 50
    submit(organization, Priority.LOW)
    assert dispatch_due()["taken"] == 1  # the window is over: the task started

    submit(organization, Priority.HIGH, to="012 345 679")

    assert len(starting_soon("high")) == 2
    assert dispatch_due()["taken"] == 1


def test_without_a_linger_window_the_dispatcher_starts_at_once(organization, settings):
    settings.DISPATCH_LINGER_MS = 0
    submit(organization, Priority.HIGH)
    assert published("high") == [("messaging.dispatch_due", None)]


def _stream_settings(settings, monkeypatch) -> list[float]:
    """A 50 ms linger, 200 ms for a stream (a priority signalled again within a second); the signals' clock, pinned
    at 1000.0 (returned, to move it)."""
    settings.DISPATCH_LINGER_MS = 50
    settings.DISPATCH_LINGER_BUSY_MS = 200
    settings.DISPATCH_LINGER_BUSY_SECONDS = 1.0
    settings.DISPATCH_SIGNAL_GRACE_MS = 20
    now = [1000.0]
    monkeypatch.setattr(signal, "_clock", lambda: now[0])
    return now


def dispatcher_taken() -> None:
    """The together dispatcher takes its "on its way" mark (it would then wait out the grace before reading)."""
    from django.core.cache import cache

    cache.delete("dispatch:pending:all")


def test_a_priority_signalled_again_within_a_second_lingers_longer(settings, monkeypatch):
    """A lone signal's dispatcher reads DISPATCH_LINGER_MS after it; the next signal of the same priority from the same
    process within DISPATCH_LINGER_BUSY_SECONDS is a stream's, whose dispatcher reads DISPATCH_LINGER_BUSY_MS after it
    (so that the stream's next messages, 40 ms or more apart, find it on its way)."""
    now = _stream_settings(settings, monkeypatch)
    lone = [time.time()]
    assert dispatch_signal(priority=Priority.LOW)
    lone.append(time.time())
    dispatcher_taken()
    now[0] += 0.5  # past the grace of the first signal: the next one asks
    stream = [time.time()]
    assert dispatch_signal(priority=Priority.LOW)
    stream.append(time.time())

    first, second = (starts for _, starts in published("high"))  # oldest first
    assert lone[0] + 0.03 - 0.001 <= first <= lone[1] + 0.03 + 0.001  # 50 ms less the grace it waits after starting
    assert stream[0] + 0.18 - 0.001 <= second <= stream[1] + 0.18 + 0.001  # 200 ms less the grace


def test_after_a_quiet_spell_the_linger_is_short_again(settings, monkeypatch):
    now = _stream_settings(settings, monkeypatch)
    assert dispatch_signal(priority=Priority.LOW)
    dispatcher_taken()
    now[0] += 1.5  # more than DISPATCH_LINGER_BUSY_SECONDS since the last signal
    before = time.time()
    assert dispatch_signal(priority=Priority.LOW)
    after = time.time()

    latest = max(starts for _, starts in published("high"))
    assert before + 0.03 - 0.001 <= latest <= after + 0.03 + 0.001


def test_signals_of_every_priority_are_one_stream(settings, monkeypatch):
    """A mixed stream (here low, then high) is one stream: within the linger a signal of another priority finds the
    dispatcher on its way, and after it the next one lingers as a stream's."""
    now = _stream_settings(settings, monkeypatch)
    assert dispatch_signal(priority=Priority.LOW)
    now[0] += 0.025  # past the grace, within the linger
    assert not dispatch_signal(priority=Priority.HIGH)  # refused: the low one's dispatcher reads high too
    dispatcher_taken()
    now[0] += 0.5
    before = time.time()
    assert dispatch_signal(priority=Priority.NORMAL)
    after = time.time()

    _, second = (starts for _, starts in published("high"))
    assert before + 0.18 - 0.001 <= second <= after + 0.18 + 0.001
    assert queue_sizes() == {"high": 0, "default": 0, "low": 0}


def test_a_refused_signal_counts_towards_the_stream(settings, monkeypatch):
    """A process whose signals found a dispatcher on its way still saw the stream: its next published dispatcher
    lingers longer."""
    now = _stream_settings(settings, monkeypatch)
    assert dispatch_signal(priority=Priority.LOW)
    now[0] += 0.9
    assert not dispatch_signal(priority=Priority.LOW)  # refused: the first one's dispatcher is on its way
    dispatcher_taken()
    now[0] += 0.9  # 1.8 s after the first signal, 0.9 s after the refused one
    before = time.time()
    assert dispatch_signal(priority=Priority.LOW)
    after = time.time()

    latest = max(starts for _, starts in published("high"))
    assert before + 0.18 - 0.001 <= latest <= after + 0.18 + 0.001


def test_a_send_of_a_stream_publishes_its_dispatcher_with_the_longer_linger(organization, settings, monkeypatch):
    """The single send's early mark (counted with its limits, `dispatch_marked`) lingers as a signal after commit
    would."""
    now = _stream_settings(settings, monkeypatch)
    submit(organization, Priority.LOW)  # puts the mark: its dispatcher is published
    dispatcher_taken()
    now[0] += 0.5
    before = time.time()
    submit(organization, Priority.LOW, to="012 345 679")  # puts it again: a stream's dispatcher
    after = time.time()

    latest = max(starts for _, starts in published("high"))
    assert before + 0.18 - 0.001 <= latest <= after + 0.18 + 0.001


def test_a_lone_send_signalling_again_after_its_early_mark_keeps_the_short_linger(settings, monkeypatch):
    """A send that asked early (its mark counted with its limits) and committed only after the grace signals again
    after commit: that is the same message, not a stream, so a dispatcher it publishes lingers DISPATCH_LINGER_MS."""
    from apps.messaging.services.signal import dispatch_marked

    now = _stream_settings(settings, monkeypatch)
    dispatch_marked(priority=Priority.LOW, asked=now[0], count=1)  # it put the mark: its dispatcher is published
    dispatcher_taken()  # which starts before the send commits
    now[0] += 0.03  # the send commits after the grace
    before = time.time()
    assert dispatch_signal(priority=Priority.LOW)  # its signal after commit finds no mark
    after = time.time()

    latest = max(starts for _, starts in published("high"))
    assert before + 0.03 - 0.001 <= latest <= after + 0.03 + 0.001


def test_without_a_linger_window_a_stream_s_dispatcher_starts_at_once_too(settings, monkeypatch):
    now = _stream_settings(settings, monkeypatch)
    settings.DISPATCH_LINGER_MS = 0
    assert dispatch_signal(priority=Priority.HIGH)
    dispatcher_taken()
    now[0] += 0.5
    assert dispatch_signal(priority=Priority.HIGH)
    assert published("high") == [("messaging.dispatch_due", None)] * 2


def test_a_dispatcher_carrying_on_with_its_backlog_does_not_linger(settings):
    settings.DISPATCH_LINGER_MS = 50
    assert dispatch_signal(priority=Priority.LOW, force=True)
    assert [(task.name, task.args, task.starts_at) for task in broker_take("low")] == [
        ("messaging.dispatch_due", [Priority.LOW], None)
    ]  # its own dispatcher, on its own queue
    assert queue_sizes() == {"high": 0, "default": 0, "low": 0}


def test_a_process_that_found_a_dispatcher_on_its_way_trusts_it_for_the_grace(organization, settings, monkeypatch):
    """Within DISPATCH_SIGNAL_GRACE_MS of a refused signal a process asks nothing (here even though the mark is gone:
    the dispatcher that took it reads only after the grace); after it, it asks again."""
    from django.core.cache import cache

    settings.DISPATCH_SIGNAL_GRACE_MS = 20
    now = [1000.0]
    monkeypatch.setattr(signal, "_clock", lambda: now[0])
    submit(organization, Priority.LOW)  # the mark is set, a dispatcher published
    submit(organization, Priority.LOW, to="012 345 679")  # refused: a dispatcher is on its way
    cache.delete("dispatch:pending:all")  # a dispatcher takes the mark (and would wait out the grace before reading)
    now[0] += 0.019
    submit(organization, Priority.LOW, to="012 345 680")
    assert len(starting_soon("high")) == 1  # trusted the dispatcher: no signal
    now[0] += 0.002
    submit(organization, Priority.LOW, to="012 345 681")
    assert len(starting_soon("high")) == 1  # the grace is over: it asked, and found no dispatcher on its way


def test_with_no_grace_every_signal_asks(organization, settings, monkeypatch):
    from django.core.cache import cache

    settings.DISPATCH_SIGNAL_GRACE_MS = 0
    monkeypatch.setattr(signal, "_clock", lambda: 1000.0)
    submit(organization, Priority.LOW)
    submit(organization, Priority.LOW, to="012 345 679")
    cache.delete("dispatch:pending:all")
    submit(organization, Priority.LOW, to="012 345 680")
    assert len(starting_soon("high")) == 2


def test_a_message_committed_within_the_grace_is_in_the_starting_dispatchers_batch(organization, settings):
    """The race the grace closes: a process's signal is refused, a dispatcher then takes the mark, and the process
    commits a message without signalling (within its grace). The dispatcher, waiting out the grace before it reads,
    takes that message too."""
    import threading

    from django.core.cache import cache
    from django.db import connections

    # Generous: the steps below take far less on a quiet machine, and over a second were seen on a loaded one.
    settings.DISPATCH_SIGNAL_GRACE_MS = 3000
    submit(organization, Priority.LOW)
    submit(organization, Priority.LOW, to="012 345 679")  # refused: trusts the dispatcher on its way
    taken: list[int] = []

    def dispatcher() -> None:
        try:
            taken.append(dispatch_due()["taken"])
        finally:
            connections.close_all()

    thread = threading.Thread(target=dispatcher)
    thread.start()
    for _ in range(10_000):  # until the dispatcher has taken the mark
        if cache.get("dispatch:pending:all") is None:
            break
        time.sleep(0.001)
    submit(organization, Priority.LOW, to="012 345 680")  # within the grace: no signal of its own
    thread.join(30)
    assert len(starting_soon("high")) == 1
    assert taken == [3]


def _signal_commands(sent: list) -> list[bytes]:
    """The commands among `sent` that touch the dispatch signal's mark (others: the admission snapshot, a new
    connection's handshake)."""
    return [command[0].split(b"\r\n")[2] for command in sent if b"dispatch:pending:" in command[0]]


def test_a_send_asks_for_its_signal_in_the_round_trip_that_counts_its_limits(organization, settings, monkeypatch):
    """Outside a transaction (the API's single send) the "on its way" mark rides in the counters' script, before the
    row is written: the send that puts it publishes the dispatcher at once; one that finds it trusts that dispatcher
    for the grace, counted from before it asked, and makes no signal round trip of its own."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from apps.messaging.tests.test_send_cost import redis_commands

    settings.DISPATCH_SIGNAL_GRACE_MS = 20
    now = [1000.0]
    monkeypatch.setattr(signal, "_clock", lambda: now[0])
    submit(organization, Priority.LOW)  # puts the mark: its dispatcher is published
    assert len(starting_soon("high")) == 1
    now[0] += 0.021  # past the grace: the next send asks again
    sent = redis_commands(monkeypatch)
    submit(organization, Priority.LOW, to="012 345 679")  # finds the mark: trusts the dispatcher on its way
    assert starting_soon("high") == []
    if isinstance(caches["default"], RedisCache):
        assert _signal_commands(sent) == [b"EVALSHA"], sent


def stepping_clock(monkeypatch, seconds: float) -> list[float]:
    """The signals' clock, from 1000.0 on, moving `seconds` at each reading; returns the step to change it."""
    now, step = [1000.0], [seconds]

    def clock() -> float:
        now[0] += step[0]
        return now[0]

    monkeypatch.setattr(signal, "_clock", clock)
    return step


def test_a_send_slower_than_the_grace_signals_after_commit(organization, settings, monkeypatch):
    """The early mark only covers what commits within the grace from before it was asked for: a send that took longer
    asks again after commit, as every signal did before."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from apps.messaging.tests.test_send_cost import redis_commands

    settings.DISPATCH_SIGNAL_GRACE_MS = 20
    # The process's clock, pinned from the first send on (the real monotonic clock is the host's uptime: a fixed
    # figure below it would fall within the first send's grace and skip the second's mark).
    step = stepping_clock(monkeypatch, 0.0)
    submit(organization, Priority.LOW)  # the mark is set, a dispatcher published
    assert len(starting_soon("high")) == 1
    step[0] = 0.025  # 25 ms a reading: past the grace
    sent = redis_commands(monkeypatch)
    submit(organization, Priority.LOW, to="012 345 679")
    assert starting_soon("high") == []  # asked again after commit, and found the dispatcher still on its way
    if isinstance(caches["default"], RedisCache):
        assert _signal_commands(sent) == [b"EVALSHA", b"SET"], sent


def test_a_send_expected_to_commit_after_the_grace_asks_in_the_counters_round_trip(organization, settings, monkeypatch):
    """Within the grace of its last asking, a send that would commit only after that grace (judged by how long the
    last asking send took, twice over) asks for the mark in the round trip that counts its limits, rather than in a
    round trip of its own after commit."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from apps.messaging.tests.test_send_cost import redis_commands

    settings.DISPATCH_SIGNAL_GRACE_MS = 20
    # 5 ms a reading of the process's clock: the first send takes 5 ms from asking to its signal, so the second, which
    # starts 15 ms after that asking (within the grace), is expected to signal 25 ms after it (past the grace).
    stepping_clock(monkeypatch, 0.005)
    submit(organization, Priority.LOW)  # puts the mark: its dispatcher is published
    assert len(starting_soon("high")) == 1
    sent = redis_commands(monkeypatch)
    submit(organization, Priority.LOW, to="012 345 679")  # finds the mark: trusts the dispatcher on its way
    assert starting_soon("high") == []
    if isinstance(caches["default"], RedisCache):
        assert _signal_commands(sent) == [b"EVALSHA"], sent


def test_a_send_inside_a_transaction_signals_after_commit(organization, settings, monkeypatch):
    """Its caller may roll back: no mark before commit, so no dispatcher for nothing."""
    from django.db import transaction

    settings.DISPATCH_SIGNAL_GRACE_MS = 20
    with transaction.atomic():
        submit(organization, Priority.LOW)
        assert queue_sizes()["high"] == 0
    assert len(starting_soon("high")) == 1
