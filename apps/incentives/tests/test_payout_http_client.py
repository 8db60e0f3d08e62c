"""The payout clients keep one HTTP client per process: calls reuse its kept-alive connection (seen by the fake at
the wire), and a forked child (a Celery prefork pool process) opens its own instead of sharing the parent's."""

from __future__ import annotations

import os

import pytest

from apps.incentives.payouts.clients import AirtimeClient, PaywayClient


@pytest.mark.django_db
def test_calls_reuse_one_connection(airtime, payway):
    airtime_before, payway_before = airtime.connections, payway.connections
    client = AirtimeClient()
    for reference in ("reuse-1", "reuse-2", "reuse-3"):
        # The token request and three status checks: four requests over one connection (four connections before).
        assert client.status(custom_identifier=reference).state == "not_found"
    assert airtime.connections - airtime_before <= 1
    for reference in ("reuse-1", "reuse-2"):
        assert PaywayClient().check(tran_id=reference).state == "not_found"
    assert payway.connections - payway_before <= 1


def test_a_forked_child_opens_its_own_connection(payway):
    client = PaywayClient()
    assert client.check(tran_id="parent-1").state == "not_found"
    before = payway.connections
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into pytest
        try:
            state = client.check(tran_id="child-1").state
            os.write(write, state.encode())
        finally:
            os._exit(0)
    os.close(write)
    child_state = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child_state == "not_found"
    assert payway.connections == before + 1  # the child's own connection, not the parent's socket
    assert client.check(tran_id="parent-2").state == "not_found"
    assert payway.connections == before + 1  # the parent's connection is still its own, and still open
