"""The run engine: every run state change goes through these functions."""

from runs.engine.annotations import add_tags, check_metadata_size, update_metadata
from runs.engine.batches import (
    BatchItem,
    ItemsResult,
    add_batch_items,
    batch_run_ids,
    check_batch_size,
    create_batch,
)
from runs.engine.dispatch import dispatch, request_dispatch
from runs.engine.errors import (
    EngineError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    UnprocessableError,
)
from runs.engine.lifecycle import (
    LogLine,
    StartedAttempt,
    cancel_run,
    complete_attempt,
    crash_stale_attempts,
    expire_runs,
    fail_attempt,
    heartbeat,
    pause_queue,
    promote_due_runs,
    republish_lost_runs,
    reschedule_run,
    resume_queue,
    set_queue_limit,
    start_attempt,
    suspend_attempt,
)
from runs.engine.registry import TaskDefinition, copy_known_tasks, register_tasks
from runs.engine.spec import TriggerSpec
from runs.engine.trigger import Triggered, check_tags, replay_run, trigger_run

__all__ = [
    "BatchItem",
    "EngineError",
    "InvalidRequestError",
    "ItemsResult",
    "LogLine",
    "NotFoundError",
    "PayloadTooLargeError",
    "StartedAttempt",
    "TaskDefinition",
    "TriggerSpec",
    "Triggered",
    "UnprocessableError",
    "add_batch_items",
    "add_tags",
    "batch_run_ids",
    "cancel_run",
    "check_tags",
    "check_batch_size",
    "check_metadata_size",
    "complete_attempt",
    "copy_known_tasks",
    "crash_stale_attempts",
    "create_batch",
    "dispatch",
    "expire_runs",
    "fail_attempt",
    "heartbeat",
    "pause_queue",
    "promote_due_runs",
    "register_tasks",
    "replay_run",
    "republish_lost_runs",
    "request_dispatch",
    "reschedule_run",
    "resume_queue",
    "set_queue_limit",
    "start_attempt",
    "suspend_attempt",
    "trigger_run",
    "update_metadata",
]
