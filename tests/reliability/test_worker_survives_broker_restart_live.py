"""A worker executing a run when the broker restarts must reconnect, not give up.

Celery's consumer closes the lost connection, and kombu's Redis channel then
tries to restore the unacknowledged message (acks_late) over that closed
connection: an AttributeError that Celery treats as unrecoverable
("CRITICAL celery.worker Unrecoverable error"), so the worker stops consuming
and shuts down. Runs are not lost (the database holds them), but nothing
executes them until something restarts the worker.
"""

from __future__ import annotations

import time

import pytest

from tests.live import poll

BUG = (
    "kombu 5.7's Redis channel restores unacked messages on close, over the closed "
    "connection (AttributeError: 'NoneType' object has no attribute 'hostname'); "
    "Celery calls it unrecoverable and the worker stops when the broker goes away "
    "while it holds an acks_late message"
)


@pytest.mark.xfail(strict=True, reason=BUG)
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
    assert stack.wait_final([later], timeout=15) == {later: "COMPLETED"}
    assert stack.wait_final([run_id], timeout=30) == {run_id: "COMPLETED"}
