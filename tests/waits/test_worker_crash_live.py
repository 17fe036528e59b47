"""A worker killed with SIGKILL loses nothing: leases lapse, runs retry, parents finish."""

from __future__ import annotations

import os
import signal

import psutil

from runs.models import Attempt
from tests.live import poll
from triggerkit import RunStatus, runs, tasks


def test_parents_and_children_survive_a_killed_worker(sdk, platform):
    # Given a second worker that will be killed while it executes runs
    victim = platform.start_worker("victim", concurrency=2)
    victim_pids = {child.pid for child in psutil.Process(victim.popen.pid).children(recursive=True)}
    parents = [tasks.trigger("parent-batch", {"n": 20}) for _ in range(6)]
    sleepers = [tasks.trigger("parent-waits-on-sleeper", {"seconds": 4}) for _ in range(6)]

    def victim_attempts(**filters):
        return [
            attempt
            for attempt in Attempt.objects.filter(status="EXECUTING", **filters)
            if int(attempt.worker.rsplit(":", 1)[1]) in victim_pids
        ]

    # A 4-second sleep on the victim is sure to be mid-attempt when the kill lands.
    poll(lambda: victim_attempts(run__task_identifier="sleep"), timeout=60, interval=0.05)

    # When it is killed mid-attempt, with no chance to clean up
    os.killpg(victim.popen.pid, signal.SIGKILL)
    victim.popen.wait()
    in_flight = victim_attempts()

    # Then every parent completes with every child's result
    for handle in parents:
        run = runs.poll(handle.id, interval=0.5, timeout=180)
        assert run.status is RunStatus.COMPLETED, run.error
        assert run.output == {"ok": True, "outputs": list(range(20))}
    for handle in sleepers:
        run = runs.poll(handle.id, interval=0.5, timeout=180)
        assert run.status is RunStatus.COMPLETED, run.error
        assert run.output == {"child_ok": True}

    # And the attempts the worker was running were marked crashed and retried
    crashed = Attempt.objects.get(pk=in_flight[0].pk)
    assert crashed.status == "CRASHED"
    assert Attempt.objects.filter(run_id=crashed.run_id, number__gt=crashed.number).exists()
    print(f"runs in flight on the killed worker: {len(in_flight)}; all recovered")
