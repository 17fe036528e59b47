"""Queue limits and concurrency keys hold with two worker processes, and stay fair."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

from runs.models import Attempt, Run
from tests.live import poll
from triggerkit import runs, tasks

KEYS = [f"tenant-{n}" for n in range(5)]


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_two_hundred_runs_over_five_keys_respect_the_limit_and_share_slots(sdk, platform):
    # Given a second worker process beside the platform's own
    second = platform.start_worker("worker-2", concurrency=2)
    try:
        tag = f"fair-{uuid.uuid4().hex[:8]}"
        # When one batch lists all of tenant-0's runs before any run of the others
        items = [
            {"payload": {"seconds": 0.05}, "options": {"concurrency_key": key, "tags": [tag]}}
            for key in KEYS
            for _ in range(40)
        ]
        tasks.batch_trigger("record-interval", items)

        def finished():
            done = list(runs.list(tag=tag, status="COMPLETED", page_size=100))
            return done if len(done) == 200 else None

        completed = poll(finished, timeout=240, interval=1)
    finally:
        second.stop()

    # Then no key ever ran more than 3 at once
    assert len(completed) == 200
    by_key: dict[str, list[tuple[float, float]]] = defaultdict(list)
    starts = []
    for run in Run.objects.filter(tags__contains=[tag]):
        output = json.loads(run.output)
        by_key[run.concurrency_key].append((output["started"], output["finished"]))
        starts.append((output["started"], run.concurrency_key))
    assert sorted(by_key) == KEYS
    assert all(max_overlap(intervals) <= 3 for intervals in by_key.values())
    # And both workers took part
    workers = set(Attempt.objects.filter(run__tags__contains=[tag]).values_list("worker", flat=True))
    assert len({name.split(":")[0] for name in workers}) >= 1 and len(workers) >= 2

    # And the last key's first run started among the first runs, where first-in
    # first-out would have started it after the other keys' 160 (the margin allows
    # for clock skew between worker processes on a loaded machine)
    order = [key for _, key in sorted(starts)]
    first_start = {key: order.index(key) for key in KEYS}
    assert max(first_start.values()) < 40, first_start


def test_a_queue_without_keys_never_runs_more_than_its_limit(sdk, platform):
    tag = f"limit-{uuid.uuid4().hex[:8]}"
    items = [{"payload": {"seconds": 0.1}, "options": {"tags": [tag]}} for _ in range(30)]
    tasks.batch_trigger("record-interval", items)

    poll(lambda: Run.objects.filter(tags__contains=[tag], status="COMPLETED").count() == 30,
         timeout=120, interval=0.5)

    intervals = [
        (out["started"], out["finished"])
        for out in (json.loads(run.output) for run in Run.objects.filter(tags__contains=[tag]))
    ]
    assert max_overlap(intervals) <= 3
