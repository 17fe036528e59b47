"""A worker executing a run when the broker restarts must reconnect, not give up.

With kombu's own Redis transport it gave up: closing the lost connection read
the pending BRPOP reply first, failed before the channel was marked closed,
and the second close restored the unacknowledged (acks_late) message over a
transport already detached from its connection, an AttributeError Celery
calls unrecoverable. config/redis_transport.py closes the channel in one go
and leaves the message to the visibility timeout and the lost-message sweep.
"""

from __future__ import annotations

import time

import pytest

from config import redis_transport
from config.celery import app
from tests.live import poll


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://127.0.0.1:6380/0",
        "redis+socket:///tmp/r.sock",
    ],
    ids=["redis", "rediss", "socket"],
)
def test_every_redis_url_gets_the_transport_that_survives_restarts(url):
    with app.connection_for_write(url) as connection:
        assert isinstance(connection.transport, redis_transport.Transport)


def test_a_worker_holding_a_run_survives_a_broker_restart(make_stack):
    # Given a worker in the middle of a run, its message not yet acknowledged
    stack = make_stack()
    stack.start(workers=1)
    worker = stack.process("worker0")
    run_id = stack.trigger({"seconds": 6}).json()["id"]
    poll(lambda: stack.executions().get(run_id), timeout=30, interval=0.05)

    # When the broker dies and comes back
    stack.redis.stop()
    time.sleep(2)
    stack.redis.start()

    # Then the worker is still there, and takes new runs at once
    time.sleep(3)
    assert worker.popen.poll() is None, worker.log()[-2000:]
    later = stack.trigger({"seconds": 0}).json()["id"]
    finished = stack.wait_final([later], timeout=15)
    assert finished == {later: "COMPLETED"}, worker.log()[-3000:]
    assert stack.wait_final([run_id], timeout=30) == {run_id: "COMPLETED"}

    # And it never called its state unrecoverable, nor ran the first run twice
    assert "Unrecoverable error" not in worker.log()
    assert len(stack.executions()[run_id]) == 1
