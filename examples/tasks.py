"""Example tasks a newcomer sees running on first start.

Trigger them with the Python SDK:

    from triggerkit import tasks
    tasks.trigger("hello-world", {"name": "Ada"})
"""

from __future__ import annotations

import asyncio
import logging
import time

from triggerkit import AbortTaskRunError, Queue, Retry, TaskContext, metadata, tags, task, wait

logger = logging.getLogger(__name__)


@task(id="hello-world")
def hello_world(payload: dict, ctx: TaskContext) -> dict:
    name = (payload or {}).get("name", "world")
    logger.info("saying hello to %s", name)
    print(f"run {ctx.run_id}, attempt {ctx.attempt_number}")
    return {"message": f"Hello, {name}!"}


@task(id="add-numbers")
async def add_numbers(payload: dict) -> dict:
    await asyncio.sleep(0)
    return {"sum": sum(payload["numbers"])}


@task(id="noop")
def noop(payload: object) -> None:
    return None


@task(id="sleep", queue=Queue("sleepers", concurrency_limit=2))
def sleep(payload: dict) -> dict:
    seconds = float(payload.get("seconds", 1))
    time.sleep(seconds)
    return {"slept": seconds}


@task(id="always-fails", retry=Retry(max_attempts=3, min_delay=0.2, factor=2, max_delay=1))
def always_fails(payload: dict, ctx: TaskContext) -> None:
    raise RuntimeError(f"attempt {ctx.attempt_number} failed on purpose")


@task(id="fails-once", retry=Retry(max_attempts=2, min_delay=0.2, max_delay=0.2))
def fails_once(payload: dict, ctx: TaskContext) -> dict:
    """Fails its first attempt on purpose; the retry succeeds."""
    if ctx.attempt_number == 1:
        raise RuntimeError("the first attempt fails on purpose")
    return {"attempts": ctx.attempt_number}


@task(id="abort-at-once")
def abort_at_once(payload: dict) -> None:
    raise AbortTaskRunError("this run cannot succeed, so it is not retried")


@task(id="count-to")
def count_to(payload: dict) -> dict:
    """Counts slowly, reporting progress in the run's metadata."""
    target = int(payload.get("n", 3))
    metadata.set("status", "counting")
    for _ in range(target):
        time.sleep(float(payload.get("pause", 0.2)))
        metadata.increment("count")
        metadata.append("log", f"reached {metadata.get('count')}")
    tags.add(f"counted:{target}")
    metadata.set("status", "done")
    return {"count": metadata.get("count")}


@task(id="greet-team")
def greet_team(payload: dict) -> dict:
    """Greets everyone through child runs and waits for all of them."""
    names = payload.get("names", ["Ada", "Grace", "Linus"])
    results = hello_world.batch_trigger_and_wait([{"name": name} for name in names])
    return {"greetings": [result.unwrap()["message"] for result in results]}


@task(id="slow-greeting")
def slow_greeting(payload: dict) -> dict:
    """Waits a little between two greetings, holding no worker while it waits."""
    first = hello_world.trigger_and_wait({"name": payload.get("name", "world")}).unwrap()
    wait.for_(seconds=float(payload.get("pause", 1)))
    return {"first": first["message"], "then": "and goodbye"}
