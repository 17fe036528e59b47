from datetime import UTC, datetime

from triggerkit.models import Batch, BatchStatus, Run, RunError, RunStatus


def test_run_statuses_are_the_v2_names_of_the_api():
    assert {status.value for status in RunStatus} == {
        "PENDING_VERSION", "QUEUED", "DEQUEUED", "EXECUTING", "WAITING", "COMPLETED",
        "CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "DELAYED", "EXPIRED",
        "TIMED_OUT",
    }  # fmt: skip


def test_a_run_is_parsed_into_snake_case_fields(run_object):
    wire = run_object(
        status="FAILED",
        isQueued=False,
        isCompleted=True,
        isFailed=True,
        payload={"to": "ada@example.com"},
        error={"message": "boom", "name": "ValueError", "stackTrace": "line 1"},
        tags=["org:9", "user:1"],
        metadata={"step": 2},
        idempotencyKey="order-42",
        startedAt="2025-01-02T03:04:07Z",
        finishedAt="2025-01-02T03:04:09.500Z",
        ttl="10m",
        attemptCount=3,
        durationMs=1234,
        depth=1,
        batchId="batch_9",
        relatedRuns={"parent": {"id": "run_0"}},
        attempts=[],
    )

    run = Run.from_wire(wire)

    assert run.status is RunStatus.FAILED
    assert run.task_identifier == "send-email"
    assert run.payload == {"to": "ada@example.com"}
    assert run.error == RunError(
        message="boom", name="ValueError", stack_trace="line 1"
    )
    assert run.created_at == datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert run.finished_at == datetime(2025, 1, 2, 3, 4, 9, 500000, tzinfo=UTC)
    assert (run.is_completed, run.is_failed, run.is_queued) == (True, True, False)
    assert run.tags == ["org:9", "user:1"]
    assert run.metadata == {"step": 2}
    assert run.idempotency_key == "order-42"
    assert (run.ttl, run.attempt_count, run.duration_ms, run.depth) == (
        "10m",
        3,
        1234,
        1,
    )
    assert run.batch_id == "batch_9"
    assert run.related_runs == {"parent": {"id": "run_0"}}
    assert run.raw == wire


def test_optional_fields_the_server_leaves_out_are_none(run_object):
    run = Run.from_wire(run_object())

    assert run.payload is None
    assert run.output is None
    assert run.error is None
    assert run.metadata is None
    assert run.started_at is None
    assert run.delayed_until is None
    assert run.expired_at is None
    assert run.idempotency_key is None
    assert run.batch_id is None
    assert run.attempt_count == 0


def test_a_list_item_without_retrieve_only_fields_is_parsed(run_object):
    item = run_object(env={"id": "env_1", "name": "dev"})
    for name in ("depth", "triggerFunction", "relatedRuns"):
        del item[name]

    run = Run.from_wire(item)

    assert (run.depth, run.trigger_function, run.related_runs) == (0, None, {})


def test_a_batch_is_parsed_with_its_runs_and_item_errors():
    batch = Batch.from_wire(
        {
            "id": "batch_1",
            "status": "PARTIAL_FAILED",
            "createdAt": "2025-01-02T03:04:05Z",
            "updatedAt": "2025-01-02T03:04:06Z",
            "runCount": 2,
            "runs": ["run_a"],
            "processing": {
                "completedAt": "2025-01-02T03:04:06Z",
                "errors": [
                    {"index": 1, "taskIdentifier": "t", "error": "too big",
                     "errorCode": "PAYLOAD_TOO_LARGE"},
                ],
            },
        }
    )  # fmt: skip

    assert batch.status is BatchStatus.PARTIAL_FAILED
    assert batch.runs == ["run_a"]
    assert batch.idempotency_key is None
    assert [(e.index, e.error_code) for e in batch.errors] == [(1, "PAYLOAD_TOO_LARGE")]
