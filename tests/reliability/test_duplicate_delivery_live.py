"""The same message delivered several times gives one execution.

A message only says "look at run X now": the worker claims the run with a
guarded update, and every copy after the first finds it claimed (or finished)
and does nothing. Copies race on four pool processes of two workers.
"""

from __future__ import annotations

import time

from celery import Celery
from django.conf import settings
from kombu import Connection

from tests.live import poll

RUNS = 20
COPIES_WHILE_QUEUED = 3
COPIES_AFTER_COMPLETION = 2


def delivered(stack) -> int:
    """Messages the workers took from the broker, as their logs tell."""
    return sum(
        line.endswith("] received")
        for line in stack.logs().splitlines()
        if "Task triggerkit.execute_run[" in line
    )


def send_copies(stack, run_ids: list[str], copies: int) -> None:
    """Publish execute_run messages to the stack's broker, as the dispatcher does.

    The connection is explicit: Celery prefers CELERY_BROKER_URL from the
    environment, which names the test session's broker, to any app setting.
    """
    app = Celery("duplicates")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    with (
        Connection(stack.redis.url, transport_options=options) as connection,
        app.producer_or_acquire(app.amqp.Producer(connection)) as producer,
    ):
        for run_id in run_ids:
            for _ in range(copies):
                app.send_task(
                    "triggerkit.execute_run",
                    args=[run_id],
                    queue="triggerkit",
                    producer=producer,
                )


def test_a_message_delivered_several_times_executes_its_run_once(make_stack):
    # Given runs each published once by the dispatcher, no worker yet to take them
    stack = make_stack()
    stack.start(workers=0)
    run_ids = [stack.trigger({"seconds": 0.3}).json()["id"] for _ in range(RUNS)]

    # When every run's message is there three more times, and two workers race for them
    send_copies(stack, run_ids, COPIES_WHILE_QUEUED)
    stack.start(web=False, workers=2, beat=False)
    statuses = stack.wait_final(run_ids, timeout=60)
    # And twice more once the runs have finished
    send_copies(stack, run_ids, COPIES_AFTER_COMPLETION)
    messages = RUNS * (1 + COPIES_WHILE_QUEUED + COPIES_AFTER_COMPLETION)
    poll(lambda: delivered(stack) >= messages, timeout=30, interval=0.2)
    time.sleep(1)

    # Then each run executed once, in one attempt, and stayed completed
    accounting = stack.account(run_ids, stack.statuses(run_ids))
    attempts = dict(
        stack.query(
            "SELECT run_id, count(*) FROM runs_attempt WHERE run_id = ANY(%s) GROUP BY run_id",
            [run_ids],
        )
    )
    print(f"{delivered(stack)} messages delivered for {RUNS} runs")
    assert statuses == stack.statuses(run_ids)
    assert accounting.completed == accounting.triggered == RUNS
    assert accounting.duplicates == 0
    assert accounting.reexecuted == 0
    assert accounting.lost == 0
    assert set(attempts.values()) == {1}
