"""The broker stops and comes back under a stream of triggers: nothing is lost.

The database is the source of truth: while Redis is down, triggers are still
committed and acknowledged; their messages are lost with it, and the
lost-message sweep publishes them again once it is back.
"""

from __future__ import annotations

import time

from tests.reliability.stack import TriggerStream

OUTAGE_SECONDS = 6
# Runs dequeued during the outage are published again once their message has
# been missing this long (production default: 30).
LOST_MESSAGE_SECONDS = "10"


def test_triggers_succeed_while_the_broker_is_down_and_every_run_completes_once(
    make_stack,
):
    # Given a stack whose broker (and rate limiter's cache: the same Redis, by
    # default) serves a steady stream of triggers
    stack = make_stack(TRIGGERKIT_LOST_MESSAGE_SECONDS=LOST_MESSAGE_SECONDS)
    stack.start(workers=1)
    worker = stack.process("worker0")
    streams = [
        TriggerStream(stack, f"client{number}", interval=0.1, task_seconds=0.2)
        for number in range(2)
    ]
    for stream in streams:
        stream.start()
    time.sleep(2)

    # When the broker dies (losing every message it held) and restarts later
    stack.redis.stop()
    down_at = time.time()
    time.sleep(OUTAGE_SECONDS)
    stack.redis.start()
    up_at = time.time()
    time.sleep(2)
    for stream in streams:
        stream.stop()
    for stream in streams:
        stream.join(30)

    # Then every trigger was acknowledged, during the outage too
    sent = [request for stream in streams for request in stream.sent]
    during = [request for request in sent if down_at <= request.at < up_at]
    failures = [request for request in sent if request.status != 200]
    slowest = max(request.seconds for request in during)
    print(
        f"{len(sent)} triggers sent, {len(during)} while the broker was down "
        f"(slowest answer {slowest:.2f}s), {len(failures)} failed"
    )
    assert during, "no trigger was sent during the outage"
    assert failures == [], (failures[:3], stack.process("web").log()[-4000:])

    # And every run completes exactly once, none lost
    run_ids = [run_id for stream in streams for run_id in stream.run_ids]
    statuses = stack.wait_final(run_ids, timeout=90)
    accounting = stack.account(run_ids, statuses)
    assert accounting.completed == accounting.triggered == len(sent)
    assert accounting.duplicates == 0
    assert accounting.reexecuted == 0
    assert accounting.lost == 0

    # And the only worker, the one that rode the outage out, ran them all: the
    # same process from start to end, never restarted
    assert worker.popen.poll() is None, worker.log()[-3000:]
    assert "Unrecoverable error" not in worker.log()
