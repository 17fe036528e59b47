"""Batches: one row per batch trigger, its items inserted as runs in bulk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    connection,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field
from django.utils import timezone
from psycopg.types.json import Jsonb

from apikeys.models import Environment
from runs.engine.dispatch import request_dispatch
from runs.engine.errors import InvalidRequestError, UnprocessableError
from runs.engine.spec import TriggerSpec
from runs.engine.trigger import build_run, claim_idempotency_key, find_task, resolve_queue
from runs.models import Batch, BatchStatus, Queue, Run, RunStatus, Task


@dataclass(frozen=True)
class BatchItem:
    index: int
    task_identifier: str
    spec: TriggerSpec


@dataclass(frozen=True)
class ItemsResult:
    accepted: int
    deduplicated: int
    sealed: bool


def check_batch_size(run_count: int) -> None:
    limit = settings.TRIGGERKIT_BATCH_MAX_ITEMS
    if run_count > limit:
        raise InvalidRequestError(
            f"Batch size of {run_count} is too large: at most {limit} items per batch"
        )
    if run_count < 1:
        raise InvalidRequestError("A batch needs at least one item")


def create_batch(
    environment: Environment,
    run_count: int,
    task_identifiers: list[str],
    idempotency_key: str | None = None,
    idempotency_key_options: dict | None = None,
) -> tuple[Batch, bool]:
    """Create a pending batch, or return the one holding the idempotency key."""
    check_batch_size(run_count)
    if idempotency_key:
        existing = Batch.objects.filter(
            environment=environment, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing, True
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                environment=environment,
                status=BatchStatus.PENDING,
                run_count=run_count,
                task_identifiers=sorted(set(task_identifiers)),
                idempotency_key=idempotency_key,
                idempotency_key_options=idempotency_key_options,
            )
    except IntegrityError:
        batch = Batch.objects.get(environment=environment, idempotency_key=idempotency_key)
        return batch, True
    return batch, False


def add_batch_items(batch: Batch, items: list[BatchItem]) -> ItemsResult:
    """Turn items into runs, once per index; seal the batch when all have arrived."""
    with transaction.atomic():
        batch = (
            Batch.objects.select_for_update(of=("self",))
            .select_related("environment")
            .get(pk=batch.pk)
        )
        if batch.status != BatchStatus.PENDING:
            return ItemsResult(0, len(items), sealed=True)
        for item in items:
            if item.index >= batch.run_count:
                raise UnprocessableError(
                    f"Item index {item.index} is out of range for a batch of "
                    f"{batch.run_count} runs"
                )

        seen = set(
            Run.objects.filter(batch=batch).values_list("batch_index", flat=True)
        ) | {int(index) for index in batch.cached_runs}
        fresh: dict[int, BatchItem] = {}
        for item in items:
            if item.index not in seen:
                fresh.setdefault(item.index, item)

        runs = build_item_runs(batch, list(fresh.values()))
        insert_runs(runs)
        if any(run.status == RunStatus.QUEUED for run in runs):
            request_dispatch(batch.environment_id)

        received = len(seen) + len(fresh)
        sealed = received == batch.run_count
        if sealed:
            seal_batch(batch)
        elif fresh:
            batch.save(update_fields=["cached_runs", "updated_at"])
    return ItemsResult(len(fresh), len(items) - len(fresh), sealed)


def build_item_runs(batch: Batch, items: list[BatchItem]) -> list[Run]:
    """Build the runs of new items; items naming a live idempotent run reuse it."""
    environment = batch.environment
    tasks: dict[str, Task | None] = {}
    queues: dict[tuple[str, str | None, int | None], Queue] = {}
    runs = []
    for item in items:
        slug = item.task_identifier
        if slug not in tasks:
            tasks[slug] = find_task(environment.pk, slug)
        queue_key = (slug, item.spec.queue_name, item.spec.queue_concurrency_limit)
        if queue_key not in queues:
            queues[queue_key] = resolve_queue(environment, slug, tasks[slug], item.spec)

        run = build_run(environment, slug, tasks[slug], queues[queue_key], item.spec)
        run.batch = batch
        run.batch_index = item.index
        if run.trigger_function == "trigger":
            run.trigger_function = "batchTrigger"
        if run.idempotency_key:
            existing = claim_idempotency_key(run)
            if existing is not None:
                batch.cached_runs[str(item.index)] = existing.pk
                continue
        runs.append(run)
    return runs


def insert_runs(runs: list[Run]) -> None:
    """Insert runs in one statement that unnests one array per column.

    bulk_create would send a placeholder per value (40,000 for a 1,000-item
    batch), which Django's compiler and psycopg then walk one by one. Array
    columns (tags) travel as JSON: unnest() would flatten an array of arrays.
    """
    if not runs:
        return
    fields = [field for field in Run._meta.concrete_fields if not field.generated]
    columns = ", ".join(quote(field) for field in fields)
    selected = ", ".join(selected_column(field) for field in fields)
    arrays = ", ".join(array_placeholder(field) for field in fields)
    # The connection itself, not the django.db.connection proxy, which looks
    # it up again on each of the 40,000 values' preparation.
    database = connections[DEFAULT_DB_ALIAS]
    params = [column_values(field, runs, database) for field in fields]
    with database.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO runs_run ({columns}) SELECT {selected} "
            f"FROM unnest({arrays}) AS item({columns})",
            params,
        )


def quote(field: Field) -> str:
    return connection.ops.quote_name(field.column)


def array_placeholder(field: Field) -> str:
    if isinstance(field, ArrayField):
        return "%s::jsonb[]"
    return f"%s::{field.cast_db_type(connection)}[]"


def selected_column(field: Field) -> str:
    if isinstance(field, ArrayField):
        return f"ARRAY(SELECT jsonb_array_elements_text(item.{quote(field)}))"
    return f"item.{quote(field)}"


def column_values(
    field: Field, runs: list[Run], database: BaseDatabaseWrapper
) -> list[object]:
    """One column's values, prepared as Model.save() would prepare them.

    Django's per-value preparation was most of a batch's Python time, and for
    NULLs and timezone-aware datetimes it hands psycopg the value unchanged,
    so those skip it.
    """
    values = [field.pre_save(run, add=True) for run in runs]
    if isinstance(field, ArrayField):
        return [Jsonb(value) for value in values]
    return [
        value if passes_through(value) else field.get_db_prep_save(value, database)
        for value in values
    ]


def passes_through(value: object) -> bool:
    return value is None or (isinstance(value, datetime) and value.tzinfo is not None)


def seal_batch(batch: Batch) -> None:
    now = timezone.now()
    batch.status = BatchStatus.COMPLETED
    batch.sealed_at = now
    batch.completed_at = now
    batch.save(update_fields=["status", "sealed_at", "completed_at", "cached_runs", "updated_at"])


def batch_run_ids(batch: Batch) -> list[str]:
    """Return the batch's run ids in item order."""
    by_index = dict(
        Run.objects.filter(batch=batch).values_list("batch_index", "pk").order_by()
    )
    by_index.update({int(index): run_id for index, run_id in batch.cached_runs.items()})
    return [by_index[index] for index in sorted(by_index)]
