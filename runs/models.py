"""Tasks, queues, runs, attempts and batches: the rows the run engine moves."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Case, Q, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.timezone import now as django_now

from apikeys.models import Environment
from runs.ids import new_batch_id, new_bulk_action_id, new_run_id, new_schedule_id
from runs.packets import STORE


class RunStatus(models.TextChoices):
    PENDING_VERSION = "PENDING_VERSION"  # no worker has registered its task yet
    DELAYED = "DELAYED"  # waits for delay_until before it joins its queue
    QUEUED = "QUEUED"  # waits for a concurrency slot
    DEQUEUED = "DEQUEUED"  # holds a slot; its message is on the broker
    EXECUTING = "EXECUTING"  # an attempt is running on a worker
    RETRYING = "RETRYING"  # an attempt failed; the next one starts at delay_until
    WAITING = "WAITING"  # suspended on a waitpoint, holding no slot
    COMPLETED = "COMPLETED"  # the last attempt returned an output
    CANCELED = "CANCELED"  # stopped by a user before it finished
    FAILED = "FAILED"  # every attempt raised, or the task aborted
    CRASHED = "CRASHED"  # the worker died during the last attempt
    SYSTEM_FAILURE = "SYSTEM_FAILURE"  # the platform could not run the task
    EXPIRED = "EXPIRED"  # its TTL passed while it was still queued
    TIMED_OUT = "TIMED_OUT"  # an attempt ran past max_duration


FINAL_STATUSES = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.CANCELED,
        RunStatus.FAILED,
        RunStatus.CRASHED,
        RunStatus.SYSTEM_FAILURE,
        RunStatus.EXPIRED,
        RunStatus.TIMED_OUT,
    }
)
# A run holds a concurrency slot only in these states.
SLOT_STATUSES = (RunStatus.DEQUEUED, RunStatus.EXECUTING)
# Statuses whose runs release their idempotency key on the next trigger.
KEY_RELEASING_STATUSES = frozenset(
    {
        RunStatus.FAILED,
        RunStatus.CRASHED,
        RunStatus.SYSTEM_FAILURE,
        RunStatus.EXPIRED,
        RunStatus.TIMED_OUT,
    }
)


class Queue(models.Model):
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    # Room for a task's own queue, "task/" and a task id of the API's 128 characters.
    name = models.CharField(max_length=200)
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="queue_name_per_env")
        ]

    def __str__(self) -> str:
        return self.name


class DispatchRequest(models.Model):
    """A dispatch asked for while another pass held the environment's lock.

    The pass holding the lock looks for these once it has committed and passes
    again, so whoever asks never waits for the lock and no request is lost.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)


class Task(models.Model):
    """A task a worker registered for an environment."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    slug = models.CharField(max_length=128)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT)
    retry = models.JSONField(default=dict)
    max_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    ttl_seconds = models.PositiveIntegerField(null=True, blank=True)
    file_path = models.CharField(max_length=500, blank=True)
    export_name = models.CharField(max_length=200, blank=True)
    # Declared with @schedules.task: schedules may be attached to it.
    is_scheduled = models.BooleanField(default=False)
    registered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "slug"], name="task_slug_per_env")
        ]

    def __str__(self) -> str:
        return self.slug


class BatchStatus(models.TextChoices):
    PENDING = "PENDING"  # created; its items are still arriving
    PROCESSING = "PROCESSING"  # sealed; runs are being created
    COMPLETED = "COMPLETED"  # every item became a run
    PARTIAL_FAILED = "PARTIAL_FAILED"  # some items could not become runs
    ABORTED = "ABORTED"  # never sealed


class Batch(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_batch_id)
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    status = models.CharField(max_length=16, choices=BatchStatus.choices)
    run_count = models.PositiveIntegerField()
    task_identifiers = ArrayField(models.CharField(max_length=128), default=list)
    idempotency_key = models.CharField(max_length=2048, null=True, blank=True)
    idempotency_key_options = models.JSONField(null=True, blank=True)
    errors = models.JSONField(default=list)
    # Items whose idempotency key named an existing run: {index: run id}.
    cached_runs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sealed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="batch_idempotency_key_per_env",
            )
        ]
        indexes = [models.Index(fields=["environment", "-id"], name="batch_env_id")]

    def __str__(self) -> str:
        return self.id


class ScheduleType(models.TextChoices):
    DECLARATIVE = "DECLARATIVE"  # declared in code with @schedules.task; workers sync it
    IMPERATIVE = "IMPERATIVE"  # created through the API, the SDK or the dashboard


class Schedule(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_schedule_id)
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    task_identifier = models.CharField(max_length=128)
    type = models.CharField(max_length=16, choices=ScheduleType.choices)
    cron = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC")
    active = models.BooleanField(default=True)
    deduplication_key = models.CharField(max_length=200, null=True, blank=True)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    # The next tick beat will fire; null while inactive.
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_now)
    updated_at = models.DateTimeField(default=django_now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "deduplication_key"],
                condition=Q(deduplication_key__isnull=False),
                name="schedule_dedup_key_per_env",
            )
        ]
        indexes = [
            models.Index(fields=["next_run_at"], condition=Q(active=True), name="schedule_due"),
            models.Index(fields=["environment", "-created_at"], name="schedule_env_created"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.cron})"


class BulkActionKind(models.TextChoices):
    CANCEL = "CANCEL"
    REPLAY = "REPLAY"


class BulkActionStatus(models.TextChoices):
    PENDING = "PENDING"  # created, not started
    RUNNING = "RUNNING"  # working through its runs
    COMPLETED = "COMPLETED"  # every run was processed
    FAILED = "FAILED"  # stopped by an error


class BulkAction(models.Model):
    """Cancel or replay many runs in the background, with progress."""

    id = models.CharField(primary_key=True, max_length=40, default=new_bulk_action_id)
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    kind = models.CharField(max_length=8, choices=BulkActionKind.choices)
    status = models.CharField(max_length=10, choices=BulkActionStatus.choices)
    # Either explicit run ids or the runs-list filters (as query parameters).
    run_ids = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last run handled: runs are handled newest first, so work resumes below it.
    cursor = models.CharField(max_length=40, default="", blank=True)
    # When it was created, claimed or republished, or last finished a chunk.
    progress_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.id


class Run(models.Model):
    # Foreign keys whose column leads one of the indexes in Meta get no index of their
    # own (db_index=False): every index is paid for on each insert and status change.
    id = models.CharField(primary_key=True, max_length=40, default=new_run_id)
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, db_index=False
    )
    task_identifier = models.CharField(max_length=128)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT)
    concurrency_key = models.CharField(max_length=128, default="", blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices)

    payload = models.TextField(null=True, blank=True)
    payload_type = models.CharField(max_length=64, default="application/json")
    output = models.TextField(null=True, blank=True)
    output_type = models.CharField(max_length=64, default="application/json")
    # A value in the object store is kept as a JSON record {"key", "size", "type"}
    # with the type "application/store" (runs/storage.py); these columns expose
    # its object key and size in bytes, and are null for values kept inline.
    payload_key = models.GeneratedField(
        expression=Case(
            When(
                payload_type=STORE,
                then=KeyTextTransform("key", Cast("payload", models.JSONField())),
            )
        ),
        output_field=models.CharField(max_length=300),
        db_persist=True,
    )
    payload_size = models.GeneratedField(
        expression=Case(
            When(
                payload_type=STORE,
                then=Cast(
                    KeyTextTransform("size", Cast("payload", models.JSONField())),
                    models.BigIntegerField(),
                ),
            )
        ),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    output_key = models.GeneratedField(
        expression=Case(
            When(
                output_type=STORE,
                then=KeyTextTransform("key", Cast("output", models.JSONField())),
            )
        ),
        output_field=models.CharField(max_length=300),
        db_persist=True,
    )
    output_size = models.GeneratedField(
        expression=Case(
            When(
                output_type=STORE,
                then=Cast(
                    KeyTextTransform("size", Cast("output", models.JSONField())),
                    models.BigIntegerField(),
                ),
            )
        ),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    error = models.JSONField(null=True, blank=True)
    tags = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    # Trigger options we accept for compatibility but do not act on (machine, region…).
    extra_options = models.JSONField(default=dict, blank=True)

    idempotency_key = models.CharField(max_length=2048, null=True, blank=True)
    idempotency_key_expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key_options = models.JSONField(null=True, blank=True)

    ttl_seconds = models.PositiveIntegerField(null=True, blank=True)
    ttl_expires_at = models.DateTimeField(null=True, blank=True)
    delay_until = models.DateTimeField(null=True, blank=True)
    # Order within a queue: when it joined, less its priority.
    queue_timestamp = models.DateTimeField(null=True, blank=True)
    priority_seconds = models.IntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    max_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    dequeued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    batch_index = models.PositiveIntegerField(null=True, blank=True)
    parent_run = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        db_index=False,
    )
    root_run = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    replayed_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replays",
        db_index=False,
    )
    schedule = models.ForeignKey(
        Schedule, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    bulk_action = models.ForeignKey(
        BulkAction, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    depth = models.PositiveIntegerField(default=0)
    trigger_function = models.CharField(max_length=32, default="trigger")
    trigger_source = models.CharField(max_length=16, default="api")
    is_test = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "task_identifier", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="run_idempotency_key_per_task",
            ),
            models.UniqueConstraint(
                fields=["batch", "batch_index"],
                condition=Q(batch__isnull=False),
                name="run_batch_index",
            ),
        ]
        indexes = [
            models.Index(fields=["environment", "-id"], name="run_env_id"),
            models.Index(fields=["environment", "status", "-id"], name="run_env_status_id"),
            models.Index(
                fields=["environment", "task_identifier", "-id"], name="run_env_task_id"
            ),
            models.Index(fields=["parent_run"], name="run_parent"),
            # Most runs are neither replays nor children: index only those that are.
            models.Index(
                fields=["root_run"], condition=Q(root_run__isnull=False), name="run_root"
            ),
            models.Index(
                fields=["replayed_from"],
                condition=Q(replayed_from__isnull=False),
                name="run_replayed_from",
            ),
            models.Index(fields=["schedule", "-id"], name="run_schedule"),
            models.Index(fields=["bulk_action"], name="run_bulk_action"),
            GinIndex(fields=["tags"], name="run_tags"),
            # The dispatcher walks lanes (queue, key) and takes each lane's oldest.
            models.Index(
                fields=["environment", "queue", "concurrency_key", "queue_timestamp"],
                condition=Q(status="QUEUED"),
                name="run_dispatch",
            ),
            models.Index(
                fields=["environment", "queue", "concurrency_key"],
                condition=Q(status__in=["DEQUEUED", "EXECUTING"]),
                name="run_slots",
            ),
            models.Index(
                fields=["delay_until"],
                condition=Q(status__in=["DELAYED", "RETRYING"]),
                name="run_due",
            ),
            models.Index(
                fields=["ttl_expires_at"],
                condition=Q(status="QUEUED", ttl_expires_at__isnull=False),
                name="run_ttl",
            ),
            models.Index(
                fields=["dequeued_at"], condition=Q(status="DEQUEUED"), name="run_dequeued"
            ),
            models.Index(
                fields=["task_identifier"],
                condition=Q(status="PENDING_VERSION"),
                name="run_pending_version",
            ),
            # The orphan sweep asks which object keys runs still use.
            models.Index(
                fields=["payload_key"],
                condition=Q(payload_key__isnull=False),
                name="run_payload_key",
            ),
            models.Index(
                fields=["output_key"],
                condition=Q(output_key__isnull=False),
                name="run_output_key",
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class AttemptStatus(models.TextChoices):
    EXECUTING = "EXECUTING"
    SUSPENDED = "SUSPENDED"  # reached an unresolved waitpoint; resumes as a new segment
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"


class Attempt(models.Model):
    """One execution segment: attempt `number`, resumed `segment` times after waits."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    segment = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=AttemptStatus.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # The lease: an executing attempt whose heartbeat lapsed lost its worker.
    heartbeat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "number", "segment"], name="attempt_segment_per_run"
            )
        ]
        indexes = [
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(status="EXECUTING"),
                name="attempt_lease",
            )
        ]


class WaitpointKind(models.TextChoices):
    TRIGGER = "TRIGGER"  # a child run started without waiting
    BATCH_TRIGGER = "BATCH_TRIGGER"  # a batch started without waiting
    RUN = "RUN"  # waits for one child run to finish
    BATCH = "BATCH"  # waits for every run of a batch to finish
    DURATION = "DURATION"  # waits until a point in time


class Waitpoint(models.Model):
    """One step of a task's journal, numbered in the order the task reached it.

    On re-execution (after a wait or a retry) a step that exists returns its
    recorded result instead of acting again.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="waitpoints")
    step = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=WaitpointKind.choices)
    # What the code asked for at this step, to detect non-deterministic code.
    signature = models.CharField(max_length=300)
    child_run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL)
    resume_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "step"], name="waitpoint_step_per_run")
        ]
        indexes = [
            models.Index(
                fields=["child_run"],
                condition=Q(resolved_at__isnull=True),
                name="waitpoint_child_open",
            ),
            models.Index(
                fields=["batch"], condition=Q(resolved_at__isnull=True), name="waitpoint_batch_open"
            ),
            models.Index(
                fields=["resume_at"],
                condition=Q(resolved_at__isnull=True, kind="DURATION"),
                name="waitpoint_due",
            ),
        ]


class ScheduleFire(models.Model):
    """One fired tick; the unique constraint means a tick fires at most once."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="fires")
    scheduled_for = models.DateTimeField()
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "scheduled_for"], name="one_fire_per_tick"
            )
        ]


class RunLog(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="logs")
    attempt_number = models.PositiveIntegerField()
    logged_at = models.DateTimeField()
    level = models.CharField(max_length=10)
    message = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["run", "id"], name="runlog_run")]


class RequestIdempotency(models.Model):
    """Remembers what a retried API request created (x-trigger-request-idempotency-key)."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    key = models.CharField(max_length=64)
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "key"], name="request_key_per_env")
        ]
        indexes = [models.Index(fields=["created_at"], name="request_key_created")]
