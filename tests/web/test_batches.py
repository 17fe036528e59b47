"""Batches: the list newest first, and one batch with its runs counted per status."""

from runs.models import Batch, BatchStatus, RunStatus
from tests.web.helpers import make_run, page, text


def batch_of(dev, statuses):
    batch = Batch.objects.create(
        environment=dev,
        status=BatchStatus.COMPLETED,
        run_count=len(statuses),
        task_identifiers=["hello-world"],
    )
    for index, status in enumerate(statuses):
        make_run(dev, batch=batch, batch_index=index, status=status)
    return batch


def test_batches_are_listed_newest_first(as_owner, dev):
    older = batch_of(dev, [RunStatus.COMPLETED])
    newer = batch_of(dev, [RunStatus.QUEUED, RunStatus.QUEUED])

    response = as_owner.get(page("batches", dev))

    assert [b.pk for b in response.context["batches"]] == [newer.pk, older.pk]
    assert page("batch", dev, newer.pk) in text(response)


def test_a_batch_counts_its_runs_per_status_and_lists_them_in_order(as_owner, dev):
    batch = batch_of(dev, [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.COMPLETED])

    response = as_owner.get(page("batch", dev, batch.pk))

    assert response.context["counts"] == [("COMPLETED", 2), ("FAILED", 1)]
    assert [run.batch_index for run in response.context["runs"]] == [0, 1, 2]
    assert f"?batch={batch.pk}&amp;status=FAILED" in text(response)


def test_an_empty_list_explains_what_a_batch_is(as_owner, dev):
    assert "No batches yet" in text(as_owner.get(page("batches", dev)))


def test_a_batch_of_another_environment_is_404(as_owner, dev, prod):
    batch = batch_of(prod, [RunStatus.QUEUED])

    assert as_owner.get(page("batch", dev, batch.pk)).status_code == 404
