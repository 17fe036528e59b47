"""Tasks used only by the test suite."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from triggerkit import Queue, Retry, TaskContext, metadata, task, tasks, wait
from triggerkit.results import TaskRunFailedError


@task(id="record-interval", queue=Queue("limited", concurrency_limit=3))
def record_interval(payload: dict, ctx: TaskContext) -> dict:
    """Sleep a little and report when it ran, so tests can check overlaps."""
    started = time.time()
    time.sleep(float(payload.get("seconds", 0.2)))
    return {"started": started, "finished": time.time(), "run": ctx.run_id}


@task(id="echo")
def echo(payload: object) -> object:
    return payload


@task(id="child-limited", queue=Queue("children", concurrency_limit=1))
def child_limited(payload: dict) -> dict:
    started = time.time()
    time.sleep(float(payload.get("seconds", 0.01)))
    return {"i": payload["i"], "started": started, "finished": time.time()}


@task(id="parent-sequential")
def parent_sequential(payload: dict) -> dict:
    """Waits for each child in turn; counts in metadata how often its code re-ran."""
    metadata.increment("executions")
    outputs = []
    for i in range(int(payload["n"])):
        outputs.append(child_limited.trigger_and_wait({"i": i}).unwrap())
    return {"outputs": [output["i"] for output in outputs]}


@task(id="parent-batch")
def parent_batch(payload: dict) -> dict:
    metadata.append("before_wait", time.time())
    results = echo.batch_trigger_and_wait([{"i": i} for i in range(int(payload["n"]))])
    return {"ok": all(r.ok for r in results), "outputs": [r.output["i"] for r in results]}


@task(id="quick-fail", retry=Retry(max_attempts=1))
def quick_fail(payload: dict) -> None:
    raise ValueError(payload.get("why", "no reason"))


@task(id="parent-handles-failure")
def parent_handles_failure(payload: dict) -> dict:
    result = quick_fail.trigger_and_wait({"why": "bad input"})
    try:
        result.unwrap()
    except TaskRunFailedError as exc:
        return {"ok": result.ok, "message": exc.error.message, "child": exc.run_id}
    return {"ok": True}


@task(id="parent-mixed-batch")
def parent_mixed_batch(payload: dict) -> dict:
    results = tasks.batch_trigger_and_wait(
        None, [("echo", {"i": 0}), ("quick-fail", {"why": "second"}), ("echo", {"i": 2})]
    )
    return {"ok": [r.ok for r in results], "errors": [r.error.message if r.error else None for r in results]}


@task(id="parent-nondeterministic", retry=Retry(max_attempts=1))
def parent_nondeterministic(payload: dict, ctx: TaskContext) -> dict:
    first_time = not metadata.get("seen")
    metadata.set("seen", True)
    if first_time:
        echo.trigger_and_wait({"i": 1})
    else:
        wait.for_(seconds=1)
    return {}


@task(id="parent-gather", retry=Retry(max_attempts=1))
async def parent_gather(payload: dict) -> dict:
    await asyncio.gather(echo.trigger_and_wait_async({"i": 1}), echo.trigger_and_wait_async({"i": 2}))
    return {}


@task(id="parent-thread", retry=Retry(max_attempts=1))
def parent_thread(payload: dict) -> dict:
    with ThreadPoolExecutor(1) as pool:
        pool.submit(echo.trigger_and_wait, {"i": 1}).result()
    return {}


@task(id="parent-waits-on-sleeper")
def parent_waits_on_sleeper(payload: dict) -> dict:
    result = tasks.trigger_and_wait("sleep", {"seconds": payload.get("seconds", 60)})
    return {"child_ok": result.ok}


@task(id="parent-wait-for")
def parent_wait_for(payload: dict) -> dict:
    metadata.append("before_wait", time.time())
    wait.for_(seconds=float(payload.get("seconds", 1)))
    return {"waited": True}


@task(id="log-then-sleep", retry=Retry(max_attempts=1))
def log_then_sleep(payload: dict) -> dict:
    """Print a line, then sleep: the line should show while the run sleeps."""
    print(payload.get("line", "a line before the nap"))
    time.sleep(float(payload.get("seconds", 8)))
    return {"slept": True}
