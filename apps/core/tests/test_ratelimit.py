"""Rate limits: fixed windows in the shared cache, a 429 with Retry-After when a key goes over."""

import time

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured

from apps.core.errors import RateLimited
from apps.core.ratelimit import parse_rate, rate_limit, rate_window


@pytest.mark.parametrize(
    ("rate", "parsed"), [("5/h", (5, 3600)), ("100/s", (100, 1)), ("10/5m", (10, 300)), ("2/d", (2, 86400))]
)
def test_parse_rate(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["5", "5/x", "/h", "five/h"])
def test_a_malformed_rate_is_a_configuration_error(rate):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)


def test_allows_the_rate_then_refuses_with_retry_after():
    for _ in range(3):
        rate_limit(group="test.hour", key="+85512345678", rate="3/h")
    with pytest.raises(RateLimited) as refused:
        rate_limit(group="test.hour", key="+85512345678", rate="3/h")
    assert 1 <= refused.value.retry_after <= 3600
    # Other keys and other groups have their own counters.
    rate_limit(group="test.hour", key="+85512345679", rate="3/h")
    rate_limit(group="test.other", key="+85512345678", rate="3/h")


def test_looking_without_counting():
    rate_limit(group="test.peek", key="k", rate="1/h")
    rate_limit(group="test.peek", key="k", rate="1/h", increment=False)  # full, not over: allowed, not counted
    with pytest.raises(RateLimited):
        rate_limit(group="test.peek", key="k", rate="1/h")
    with pytest.raises(RateLimited):
        rate_limit(group="test.peek", key="k", rate="1/h", increment=False)


def test_no_rate_is_no_limit():
    for _ in range(5):
        rate_limit(group="test.off", key="k", rate=None)


def test_a_new_window_allows_again():
    with time_machine.travel(time.time(), tick=False) as clock:
        rate_limit(group="test.second", key="k", rate="1/s")
        with pytest.raises(RateLimited):
            rate_limit(group="test.second", key="k", rate="1/s")
        clock.shift(1)
        rate_limit(group="test.second", key="k", rate="1/s")


def test_windows_end_at_a_point_of_their_own_and_name_no_key():
    now = 1_800_000_000
    windows = [rate_window(group="otp", key=f"+8551234567{n}", rate="5/h", now=now) for n in range(10)]
    assert all(1 <= w.seconds_left <= 3600 for w in windows)
    assert len({w.seconds_left for w in windows}) > 1  # not every key's window resets at the same instant
    assert all("+855" not in w.key for w in windows)
    # The same key keeps its window until that window ends, then moves to the next one.
    first = windows[0]
    assert rate_window(group="otp", key="+85512345670", rate="5/h", now=now + first.seconds_left - 1) == (
        type(first)(key=first.key, limit=5, seconds_left=1)
    )
    assert rate_window(group="otp", key="+85512345670", rate="5/h", now=now + first.seconds_left).key != first.key
