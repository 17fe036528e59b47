"""Workers killed with SIGKILL mid-run: their runs start their next attempt within 30 s.

Two ways to die at once: a whole worker (main process and pool, as when a
machine is lost: its unacknowledged messages stay on Redis for the visibility
timeout, an hour) and one pool process of another worker (Celery notices and
requeues its message at once, which must then change nothing). Leases, not
redelivery, bring both back.
"""

from __future__ import annotations

import signal
import time

import psutil

from tests.live import poll

NEXT_ATTEMPT_WITHIN_SECONDS = 30
RUNS = 8


def pool_of(process) -> set[int]:
    return {
        child.pid
        for child in psutil.Process(process.popen.pid).children(recursive=True)
    }


def executing_in(stack, pids: set[int]) -> set[str]:
    """Runs whose latest execution is still going in one of these processes."""
    return {
        run_id
        for run_id, executions in stack.executions().items()
        if executions[-1].pid in pids and executions[-1].ended is None
    }


def test_killed_workers_runs_start_their_next_attempt_within_30_seconds(make_stack):
    # Given two workers, each executing runs that take a few seconds
    stack = make_stack()
    lost_worker, survivor, _, _ = stack.start_together(
        [
            lambda: stack.platform.start_worker("lost"),
            lambda: stack.platform.start_worker("survivor"),
            stack.platform.start_web,
            stack.platform.start_beat,
        ]
    )
    lost_pool, survivor_pool = pool_of(lost_worker), pool_of(survivor)
    run_ids = [stack.trigger({"seconds": 4}).json()["id"] for _ in range(RUNS)]
    poll(
        lambda: executing_in(stack, lost_pool) and executing_in(stack, survivor_pool),
        timeout=30,
        interval=0.05,
    )

    # When one worker dies whole and one pool process of the other dies, both by SIGKILL
    victim_pid = stack.executions()[next(iter(executing_in(stack, survivor_pool)))][
        -1
    ].pid
    interrupted = executing_in(stack, lost_pool) | executing_in(stack, {victim_pid})
    killed_at = stack.kill(lost_worker)
    psutil.Process(victim_pid).send_signal(signal.SIGKILL)
    stack.killed_at[victim_pid] = time.time()

    # Then each interrupted run starts its next attempt within 30 seconds
    def next_attempts() -> dict[str, float] | None:
        executions = stack.executions()
        starts = {
            run_id: executions[run_id][-1].started
            for run_id in interrupted
            if len(executions[run_id]) > 1
        }
        return starts if len(starts) == len(interrupted) else None

    restarted = poll(
        next_attempts, timeout=NEXT_ATTEMPT_WITHIN_SECONDS + 5, interval=0.2
    )
    delays = {run_id: round(at - killed_at, 1) for run_id, at in restarted.items()}
    print(
        f"{len(interrupted)} runs interrupted; next attempt started after (s): {delays}"
    )
    assert max(delays.values()) < NEXT_ATTEMPT_WITHIN_SECONDS

    # And every run completes, none executed twice at the same time, none lost
    statuses = stack.wait_final(run_ids, timeout=60)
    print(f"all runs final {time.time() - killed_at:.1f}s after the kill")
    accounting = stack.account(run_ids, statuses)
    assert accounting.completed == accounting.triggered == RUNS
    assert accounting.duplicates == 0
    assert accounting.lost == 0
    crashed = stack.query(
        "SELECT count(DISTINCT run_id) FROM runs_attempt"
        " WHERE status = 'CRASHED' AND run_id = ANY(%s)",
        [sorted(interrupted)],
    )[0][0]
    assert crashed == len(interrupted)
    assert survivor.popen.poll() is None
