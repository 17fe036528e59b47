"""Typed results of API calls, parsed from the camelCase objects of the wire.

Optional fields the server leaves out are ``None``; timestamps are timezone-aware
``datetime`` objects. Each ``Run`` also keeps the wire object it came from in ``raw``,
for fields this module does not name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)


class RunStatus(StrEnum):
    """Status of a run, with the names of the API's v2 vocabulary."""

    # Waiting for a deployed worker version that knows the task.
    PENDING_VERSION = "PENDING_VERSION"
    # In its queue, waiting for a free concurrency slot.
    QUEUED = "QUEUED"
    # Taken from the queue and handed to a worker, not started yet.
    DEQUEUED = "DEQUEUED"
    # Running on a worker, including between retry attempts.
    EXECUTING = "EXECUTING"
    # Suspended until a child run, a batch or a wait resolves.
    WAITING = "WAITING"
    # Finished successfully.
    COMPLETED = "COMPLETED"
    # Cancelled by a user or an API call.
    CANCELED = "CANCELED"
    # Failed after its last attempt.
    FAILED = "FAILED"
    # The worker process died while running it.
    CRASHED = "CRASHED"
    # Triggerkit itself failed while handling it.
    SYSTEM_FAILURE = "SYSTEM_FAILURE"
    # Triggered with a delay that has not elapsed yet.
    DELAYED = "DELAYED"
    # Its TTL ran out before it left the queue.
    EXPIRED = "EXPIRED"
    # It ran longer than its max duration.
    TIMED_OUT = "TIMED_OUT"


class BatchStatus(StrEnum):
    """Status of a batch."""

    # Created; the server is still receiving its items.
    PENDING = "PENDING"
    # Every item received; runs are being created.
    PROCESSING = "PROCESSING"
    # A run was created for every item.
    COMPLETED = "COMPLETED"
    # Runs were created for some items; see the batch's errors.
    PARTIAL_FAILED = "PARTIAL_FAILED"
    # The batch was given up before all of its runs were created.
    ABORTED = "ABORTED"


class IdempotencyKey(str):
    """A hashed idempotency key that remembers the key and scope it was made from.

    It is the 64-character hex string the API stores; ``key`` and ``scope`` travel
    beside it so that the server can show the original key.
    """

    key: str
    scope: str

    def __new__(cls, digest: str, *, key: str, scope: str) -> IdempotencyKey:
        self = super().__new__(cls, digest)
        self.key = key
        self.scope = scope
        return self


@dataclass(frozen=True, kw_only=True)
class RunError:
    """Why a run failed, was cancelled or expired."""

    message: str
    name: str | None
    stack_trace: str | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> RunError:
        """Build the error from its wire object."""
        return cls(
            message=data.get("message", ""),
            name=data.get("name"),
            stack_trace=data.get("stackTrace"),
        )


@dataclass(frozen=True, kw_only=True)
class Run:
    """One run of a task, as ``runs.retrieve`` and ``runs.list`` return it.

    Runs from ``runs.list`` carry no payload, output, error or related runs, and
    their ``depth`` is 0.
    """

    id: str
    status: RunStatus
    task_identifier: str
    payload: Any
    output: Any
    error: RunError | None
    tags: list[str]
    metadata: dict[str, Any] | None
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    delayed_until: datetime | None
    expired_at: datetime | None
    ttl: str | None
    attempt_count: int
    duration_ms: float
    depth: int
    trigger_function: str | None
    batch_id: str | None
    is_queued: bool
    is_executing: bool
    is_waiting: bool
    is_completed: bool
    is_success: bool
    is_failed: bool
    is_cancelled: bool
    is_test: bool
    related_runs: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Run:
        """Build a run from the API's run object."""
        error = data.get("error")
        return cls(
            id=data["id"],
            status=RunStatus(data["status"]),
            task_identifier=data["taskIdentifier"],
            payload=data.get("payload"),
            output=data.get("output"),
            error=None if error is None else RunError.from_wire(error),
            tags=list(data.get("tags", [])),
            metadata=data.get("metadata"),
            idempotency_key=data.get("idempotencyKey"),
            created_at=datetime.fromisoformat(data["createdAt"]),
            updated_at=datetime.fromisoformat(data["updatedAt"]),
            started_at=_datetime(data.get("startedAt")),
            finished_at=_datetime(data.get("finishedAt")),
            delayed_until=_datetime(data.get("delayedUntil")),
            expired_at=_datetime(data.get("expiredAt")),
            ttl=data.get("ttl"),
            attempt_count=data.get("attemptCount", 0),
            duration_ms=data.get("durationMs", 0),
            depth=data.get("depth", 0),
            trigger_function=data.get("triggerFunction"),
            batch_id=data.get("batchId"),
            is_queued=data.get("isQueued", False),
            is_executing=data.get("isExecuting", False),
            is_waiting=data.get("isWaiting", False),
            is_completed=data.get("isCompleted", False),
            is_success=data.get("isSuccess", False),
            is_failed=data.get("isFailed", False),
            is_cancelled=data.get("isCancelled", False),
            is_test=data.get("isTest", False),
            related_runs=dict(data.get("relatedRuns", {})),
            raw=dict(data),
        )


@dataclass(frozen=True, kw_only=True)
class RunPage:
    """One page of ``runs.list``, with the cursors of its neighbours."""

    runs: list[Run]
    next_cursor: str | None
    previous_cursor: str | None


@dataclass(frozen=True, kw_only=True)
class TriggerResult:
    """What triggering a run returns.

    Attributes:
        id: The run id.
        is_cached: True when the idempotency key matched an existing run, whose id
            this is.
        public_access_token: A short-lived token that may read this run, for a
            browser; None if the server sent none.
    """

    id: str
    is_cached: bool
    public_access_token: str | None


@dataclass(frozen=True, kw_only=True)
class BatchHandle:
    """What triggering a batch returns; the runs are created after it returns."""

    batch_id: str
    run_count: int
    is_cached: bool
    public_access_token: str | None


@dataclass(frozen=True, kw_only=True)
class BatchItemError:
    """An item of a batch for which no run could be created."""

    index: int
    task_identifier: str
    error: str
    error_code: str | None


@dataclass(frozen=True, kw_only=True)
class Batch:
    """A batch and the ids of the runs created for it so far."""

    id: str
    status: BatchStatus
    run_count: int
    runs: list[str]
    created_at: datetime
    updated_at: datetime
    idempotency_key: str | None
    errors: list[BatchItemError]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Batch:
        """Build a batch from the API's batch object."""
        processing = data.get("processing", {})
        return cls(
            id=data["id"],
            status=BatchStatus(data["status"]),
            run_count=data["runCount"],
            runs=list(data.get("runs", [])),
            created_at=datetime.fromisoformat(data["createdAt"]),
            updated_at=datetime.fromisoformat(data["updatedAt"]),
            idempotency_key=data.get("idempotencyKey"),
            errors=[_batch_item_error(item) for item in processing.get("errors", [])],
        )


def _batch_item_error(data: Mapping[str, Any]) -> BatchItemError:
    return BatchItemError(
        index=data["index"],
        task_identifier=data["taskIdentifier"],
        error=data["error"],
        error_code=data.get("errorCode"),
    )


def _datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
