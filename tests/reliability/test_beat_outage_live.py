"""Beat is killed while delayed runs fall due: they wait for it, then catch up at once.

Time lives in the database: delays and TTLs are timestamps that beat
promotes or expires; with beat down nothing moves, nothing is lost, and the
first ticks after its return do all the overdue work, each run once.
"""

from __future__ import annotations

import time

DELAYS_SECONDS = [1, 2, 3, 4, 5, 6]
RUNS_PER_DELAY = 2
KILL_AFTER_SECONDS = 2.5
BEAT_DOWN_SECONDS = 6
CATCH_UP_WITHIN_SECONDS = 10


def test_delayed_runs_and_ttls_due_while_beat_is_down_catch_up_when_it_returns(
    make_stack,
):
    # Given delayed runs falling due over six seconds, and runs that can only expire
    stack = make_stack()
    stack.start(workers=1)
    triggered_at = time.time()
    delayed = {
        stack.trigger({"echo": delay}, delay=f"{delay}s").json()["id"]: delay
        for delay in DELAYS_SECONDS
        for _ in range(RUNS_PER_DELAY)
    }
    held = [
        stack.trigger(
            {}, ttl="5s", queue={"name": "held", "concurrencyLimit": 0}
        ).json()["id"]
        for _ in range(4)
    ]

    # When beat is killed while they fall due, and stays down past the last of them
    time.sleep(max(0.0, triggered_at + KILL_AFTER_SECONDS - time.time()))
    killed_at = stack.kill(stack.process("beat"))
    time.sleep(BEAT_DOWN_SECONDS)
    statuses_while_down = stack.statuses(list(delayed) + held)
    stack.platform.start_beat()
    back_at = time.time()

    # Then nothing fell due while beat was away
    overdue = [
        run_id
        for run_id, delay in delayed.items()
        if triggered_at + delay > killed_at + 1
    ]
    assert {statuses_while_down[run_id] for run_id in overdue} == {"DELAYED"}
    assert {statuses_while_down[run_id] for run_id in held} == {"QUEUED"}

    # And once it is back every overdue run starts promptly, the held ones expire
    statuses = stack.wait_final(list(delayed) + held, timeout=60)
    executions = stack.executions()
    started = {
        run_id: executions[run_id][0].started
        for run_id in delayed
        if executions.get(run_id)
    }
    catch_up = max(started[run_id] - back_at for run_id in overdue)
    print(
        f"beat down {back_at - killed_at:.1f}s; {len(overdue)} runs fell due meanwhile, "
        f"all started within {catch_up:.1f}s of its return"
    )
    assert all(started[run_id] >= back_at for run_id in overdue)
    assert catch_up < CATCH_UP_WITHIN_SECONDS
    assert {statuses[run_id] for run_id in held} == {"EXPIRED"}

    accounting = stack.account(list(delayed), statuses)
    assert accounting.completed == accounting.triggered == len(delayed)
    assert accounting.duplicates == 0
    assert accounting.reexecuted == 0
    assert accounting.lost == 0
    for run_id, delay in delayed.items():
        assert started[run_id] >= triggered_at + delay - 0.5
    assert stack.process("beat").popen.poll() is None
