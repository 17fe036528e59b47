"""Batches: the list newest first, and one batch with its runs counted per status."""

import html
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.views import batches as batch_views
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


def group_counts_in(response, batch) -> dict[str, int]:
    """What the list's "Runs by status" cell of a batch says: {label: count}."""
    row = text(response).split(page("batch", batch.environment, batch.pk))[1]
    cell = row.split("</tr>")[0].split('<ul class="group-counts">')[1].split("</ul>")[0]
    found = re.findall(r">(\d[\d,]*) ([a-z ]+)</a>", cell)
    return {label: int(count.replace(",", "")) for count, label in found}


def test_each_batch_in_the_list_counts_its_runs_per_status(as_owner, dev):
    batch = batch_of(
        dev,
        [
            RunStatus.COMPLETED,
            RunStatus.COMPLETED,
            RunStatus.FAILED,
            RunStatus.CRASHED,
            RunStatus.EXECUTING,
            RunStatus.RETRYING,
            RunStatus.QUEUED,
            RunStatus.CANCELED,
        ],
    )
    quiet = batch_of(dev, [RunStatus.DELAYED])

    response = as_owner.get(page("batches", dev))

    assert group_counts_in(response, batch) == {
        "running": 2,
        "waiting to start": 1,
        "completed": 2,
        "failed": 2,
        "canceled": 1,
    }
    assert group_counts_in(response, quiet) == {"waiting to start": 1}
    body = html.unescape(text(response))
    runs = page("runs", dev)
    failed = "&".join(
        f"status={s}" for s in ("FAILED", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT")
    )
    assert f'href="{runs}?batch={batch.pk}&{failed}"' in body
    running = "status=DEQUEUED&status=EXECUTING&status=WAITING"
    assert f'href="{runs}?batch={batch.pk}&{running}"' in body


def test_a_batch_without_runs_yet_says_so_in_the_list(as_owner, dev):
    batch_of(dev, [])

    assert "no runs yet" in text(as_owner.get(page("batches", dev)))


def test_the_list_counts_every_batch_of_the_page_in_one_query(as_owner, dev):
    batch_of(dev, [RunStatus.COMPLETED])
    as_owner.get(page("batches", dev))  # the first visit also saves the session
    with CaptureQueriesContext(connection) as one:
        as_owner.get(page("batches", dev))
    for statuses in ([RunStatus.FAILED], [RunStatus.QUEUED, RunStatus.COMPLETED]) * 3:
        batch_of(dev, statuses)

    with CaptureQueriesContext(connection) as many:
        response = as_owner.get(page("batches", dev))

    assert len(response.context["batches"]) == 7
    assert len(many) == len(one)
    counting = [q["sql"] for q in many if "GROUP BY" in q["sql"]]
    assert len(counting) == 1


def test_the_counts_cover_only_the_batches_of_the_page(as_owner, dev, monkeypatch):
    monkeypatch.setattr(batch_views, "PAGE_SIZE", 2)
    oldest = batch_of(dev, [RunStatus.FAILED])
    batch_of(dev, [RunStatus.COMPLETED])
    newest = batch_of(dev, [RunStatus.COMPLETED])

    response = as_owner.get(page("batches", dev))

    assert set(response.context["status_groups"]) == {
        newest.pk,
        response.context["batches"][1].pk,
    }
    assert oldest.pk not in response.context["status_groups"]
    assert response.context["older"]
