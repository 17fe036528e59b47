"""Messages to the broker. Each says only "look at run X now"."""

from __future__ import annotations

import logging

from kombu.exceptions import BatchPublishError, OperationalError

logger = logging.getLogger(__name__)

RUNS_QUEUE = "triggerkit"
# Seconds a timed-out attempt gets to clean up before its process is killed.
HARD_LIMIT_GRACE_SECONDS = 5
# Publishing gives up quickly: the database already holds the run.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}


def execute_runs(picked: list[tuple[str, int | None]]) -> None:
    """Publish one message per dequeued run; a lost message is found by the sweep."""
    if not picked:
        return
    from runs.tasks import execute_run

    try:
        # A Redis broker takes the whole batch in one round trip at the end of
        # the block; other transports publish each message at once.
        with execute_run.app.producer_or_acquire() as producer, producer.batch():
            for run_id, max_duration in picked:
                execute_run.apply_async(
                    args=[run_id],
                    queue=RUNS_QUEUE,
                    producer=producer,
                    retry_policy=PUBLISH_RETRY_POLICY,
                    **time_limits(max_duration),
                )
    except (OperationalError, BatchPublishError):
        # The runs stay DEQUEUED; the lost-message sweep publishes them again (a
        # run whose message did get through is then delivered twice, which the
        # claim tells apart).
        logger.warning(
            "broker unreachable, %d runs wait for the sweep",
            len(picked),
            extra={"action": "publish_failed"},
        )


def time_limits(max_duration: int | None) -> dict[str, int]:
    if not max_duration:
        return {}
    return {
        "soft_time_limit": max_duration,
        "time_limit": max_duration + HARD_LIMIT_GRACE_SECONDS,
    }
