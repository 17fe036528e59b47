"""Batch items become runs in one INSERT, stored exactly as single triggers store them."""

from datetime import timedelta

from django.forms.models import model_to_dict
from django.utils import timezone

from runs.engine import BatchItem, TriggerSpec, add_batch_items, create_batch, trigger_run
from runs.models import Run, RunStatus

# What differs between any two runs, or between a batch item and a single trigger.
OWN_FIELDS = {
    "id",
    "batch",
    "batch_index",
    "trigger_function",
    "created_at",
    "updated_at",
    "queue_timestamp",
    "ttl_expires_at",
    "idempotency_key",
    "idempotency_key_expires_at",
}


def spec(**options):
    defaults = {
        "payload": '{"n": 1}',
        "tags": ["blue", "alpha"],
        "metadata": {"step": [1, 2]},
        "concurrency_key": "tenant-1",
        "priority_seconds": 5,
        "max_attempts": 4,
        "ttl_seconds": 60,
        "extra_options": {"machine": "large-1x"},
    }
    return TriggerSpec(**{**defaults, **options})


def stored(run_id):
    run = Run.objects.get(pk=run_id)
    return {k: v for k, v in model_to_dict(run).items() if k not in OWN_FIELDS}


def test_a_batch_item_is_stored_like_a_single_trigger(project):
    env = project.environments["PRODUCTION"]
    single = trigger_run(env, "echo", spec(idempotency_key="single")).run
    batch, _ = create_batch(env, 2, ["echo", "not-deployed"])

    add_batch_items(
        batch,
        [
            BatchItem(0, "echo", spec(idempotency_key="item")),
            BatchItem(1, "not-deployed", spec(tags=[], metadata=None)),
        ],
    )

    item, pending = Run.objects.filter(batch=batch).order_by("batch_index")
    assert stored(item.pk) == stored(single.pk)
    assert item.tags == ["alpha", "blue"] and item.status == RunStatus.QUEUED
    assert (item.trigger_function, item.idempotency_key) == ("batchTrigger", "item")
    assert pending.status == RunStatus.PENDING_VERSION
    assert (pending.tags, pending.metadata) == ([], None)


def test_a_delayed_batch_item_waits_for_its_time(project):
    env = project.environments["PRODUCTION"]
    later = timezone.now() + timedelta(hours=1)
    batch, _ = create_batch(env, 1, ["echo"])

    add_batch_items(batch, [BatchItem(0, "echo", spec(delay_until=later))])

    run = Run.objects.get(batch=batch)
    assert (run.status, run.delay_until) == (RunStatus.DELAYED, later)
