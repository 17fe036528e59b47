"""Run and batch objects in the wire shape of API.md §3: optional fields omitted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runs import packets, storage
from runs.durations import format_duration
from runs.engine import batch_run_ids
from runs.models import Batch, Run, RunStatus

# Internal status -> public name for SDK 4.x (x-trigger-api-version present).
V2_STATUS = {RunStatus.RETRYING: "EXECUTING"}
# Internal status -> public name for older clients.
LEGACY_STATUS = {
    RunStatus.RETRYING: "REATTEMPTING",
    RunStatus.WAITING: "FROZEN",
    RunStatus.DEQUEUED: "EXECUTING",
}
QUEUED_STATES = {RunStatus.QUEUED, RunStatus.DELAYED, RunStatus.PENDING_VERSION}
EXECUTING_STATES = {RunStatus.EXECUTING, RunStatus.DEQUEUED, RunStatus.RETRYING}
COMPLETED_STATES = {
    RunStatus.COMPLETED,
    RunStatus.CANCELED,
    RunStatus.FAILED,
    RunStatus.CRASHED,
    RunStatus.SYSTEM_FAILURE,
    RunStatus.EXPIRED,
    RunStatus.TIMED_OUT,
}


def iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public_status(status: str, legacy: bool) -> str:
    mapping = LEGACY_STATUS if legacy else V2_STATUS
    return mapping.get(status, status)


def run_summary(run: Run, legacy: bool = False) -> dict[str, Any]:
    """The fields common to retrieve and list."""
    status = run.status
    completed = status in COMPLETED_STATES
    data: dict[str, Any] = {
        "id": run.pk,
        "status": public_status(status, legacy),
        "taskIdentifier": run.task_identifier,
        "isQueued": status in QUEUED_STATES,
        "isExecuting": status in EXECUTING_STATES,
        "isWaiting": status == RunStatus.WAITING,
        "isCompleted": completed,
        "isSuccess": status == RunStatus.COMPLETED,
        "isFailed": completed and status != RunStatus.COMPLETED,
        "isCancelled": status == RunStatus.CANCELED,
        "isTest": run.is_test,
        "createdAt": iso(run.created_at),
        "updatedAt": iso(run.updated_at),
        "tags": run.tags,
        "costInCents": 0,
        "baseCostInCents": 0,
        "durationMs": duration_ms(run),
        "depth": run.depth,
        "triggerFunction": run.trigger_function,
        "taskKind": "STANDARD",
    }
    optional = {
        "idempotencyKey": display_idempotency_key(run),
        "startedAt": run.started_at and iso(run.started_at),
        "finishedAt": run.finished_at and iso(run.finished_at),
        "delayedUntil": run.delay_until and run.status == RunStatus.DELAYED and iso(run.delay_until),
        "expiredAt": run.expired_at and iso(run.expired_at),
        "ttl": run.ttl_seconds and format_duration(run.ttl_seconds),
        "metadata": run.metadata,
        "batchId": run.batch_id,
    }
    data.update({key: value for key, value in optional.items() if value not in (None, False, "")})
    return data


def display_idempotency_key(run: Run) -> str | None:
    options = run.idempotency_key_options or {}
    key = options.get("key")
    return key if isinstance(key, str) and key else run.idempotency_key


def duration_ms(run: Run) -> int:
    if run.started_at is None:
        return 0
    end = run.finished_at or run.updated_at
    return max(0, int((end - run.started_at).total_seconds() * 1000))


def run_detail(run: Run, legacy: bool = False) -> dict[str, Any]:
    """The retrieve object: summary plus payload, output, error and relations."""
    data = run_summary(run, legacy)
    data["attemptCount"] = run.attempt_count
    data["attempts"] = []
    data["relatedRuns"] = related_runs(run, legacy)
    data.update(packet_fields("payload", run.payload, run.payload_type))
    if run.status == RunStatus.COMPLETED:
        data.update(packet_fields("output", run.output, run.output_type))
    if run.error:
        data["error"] = wire_error(run.error)
    return data


def packet_fields(field: str, data: str | None, data_type: str) -> dict[str, Any]:
    """The value inline as plain JSON, or a presigned URL when it is in the object store."""
    packet = storage.StoredPacket.from_column(data, data_type)
    if packet is not None:
        return {f"{field}PresignedUrl": storage.download_url(packet.key)}
    if data_type == packets.STORE:
        return {}
    value = packets.decode(data, data_type)
    return {} if value is None else {field: value}


def wire_error(error: dict[str, Any]) -> dict[str, Any]:
    wire = {"message": str(error.get("message", ""))}
    for key in ("name", "stackTrace"):
        if error.get(key):
            wire[key] = error[key]
    return wire


def related_runs(run: Run, legacy: bool) -> dict[str, Any]:
    related: dict[str, Any] = {}
    if run.root_run_id:
        related["root"] = run_summary(run.root_run, legacy)
    if run.parent_run_id:
        related["parent"] = run_summary(run.parent_run, legacy)
    children = list(run.children.order_by("id")[:100])
    if children:
        related["children"] = [run_summary(child, legacy) for child in children]
    return related


def list_item(run: Run, legacy: bool = False) -> dict[str, Any]:
    data = run_summary(run, legacy)
    environment = run.environment
    data["env"] = {"id": environment.public_id, "name": environment.slug}
    return data


def batch_object(batch: Batch) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": batch.pk,
        "status": batch.status,
        "createdAt": iso(batch.created_at),
        "updatedAt": iso(batch.updated_at),
        "runCount": batch.run_count,
        "runs": batch_run_ids(batch),
        "processing": {"errors": batch.errors},
    }
    if batch.completed_at:
        data["processing"]["completedAt"] = iso(batch.completed_at)
    if batch.idempotency_key:
        data["idempotencyKey"] = batch.idempotency_key
    return data
