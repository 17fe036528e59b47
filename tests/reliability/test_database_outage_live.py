"""The database restarts under load: the API says 503 and when to retry, nothing half-done.

The clients behave like the SDK: each logical trigger carries a request
idempotency key and is sent again with the same key until it is accepted.
Workers and beat lose their connections mid-work and must carry on by
themselves once the database is back.
"""

from __future__ import annotations

import time

import httpx

from tests.reliability.stack import TriggerStream

OUTAGE_SECONDS = 6
LOST_MESSAGE_SECONDS = "10"


def test_a_database_restart_gives_503s_with_a_retry_hint_and_loses_nothing(make_stack):
    # Given a stack under a steady stream of triggers from two clients, whose
    # runs take long enough that some are executing when the database goes
    stack = make_stack(TRIGGERKIT_LOST_MESSAGE_SECONDS=LOST_MESSAGE_SECONDS)
    stack.start(workers=1)
    worker = stack.process("worker0")
    streams = [
        TriggerStream(stack, f"client{n}", interval=0.1, retry=True, task_seconds=0.5)
        for n in range(2)
    ]
    for stream in streams:
        stream.start()
    time.sleep(2)

    # When the database stops, stays down a few seconds and starts again
    stack.cluster.stop("fast")
    down_at = time.time()
    time.sleep(OUTAGE_SECONDS / 2)
    ready = httpx.get(f"{stack.platform.url}/readyz", timeout=10)
    time.sleep(OUTAGE_SECONDS / 2)
    stack.cluster.start()
    up_at = time.time()
    time.sleep(3)
    for stream in streams:
        stream.stop()
    for stream in streams:
        stream.join(90)

    # Then the API answered 503 with a retry hint while it was down, and never a 500
    sent = [request for stream in streams for request in stream.sent]
    during = [request for request in sent if down_at <= request.at < up_at]
    unavailable = [request for request in sent if request.status == 503]
    others = [r for r in sent if r.status not in (200, 503)]
    print(
        f"{len(sent)} requests, {len(during)} during the outage, {len(unavailable)} answered 503, "
        f"slowest answer during the outage {max(r.seconds for r in during):.2f}s"
    )
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
    assert unavailable, "no request saw the outage"
    assert others == [], others[:3]
    for request in unavailable:
        assert request.retry_after == "5"
        assert request.should_retry == "true"
        assert "database" in request.error
    assert max(request.seconds for request in during) < 5

    # And each logical trigger made exactly one run (a retried 503 left nothing behind)
    assert [key for stream in streams for key in stream.given_up] == []
    run_ids = [run_id for stream in streams for run_id in stream.run_ids]
    assert len(set(run_ids)) == len(run_ids)
    in_database = stack.query(
        "SELECT count(*) FROM runs_run WHERE task_identifier = 'journaled-echo'"
    )[0][0]
    assert in_database == len(run_ids)

    # And the worker carried on by itself: every run completes, none twice at once
    statuses = stack.wait_final(run_ids, timeout=120)
    print(f"all runs final {time.time() - up_at:.1f}s after the database returned")
    accounting = stack.account(run_ids, statuses)
    assert worker.popen.poll() is None
    assert accounting.completed == accounting.triggered
    assert accounting.duplicates == 0
    assert accounting.lost == 0
