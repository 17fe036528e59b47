"""Queues: what waits and runs on each; pause, resume and override the limit."""

import pytest

from runs.models import Queue, RunStatus
from tests.web.helpers import make_run, page, text


@pytest.fixture
def queue(dev):
    return Queue.objects.get(environment=dev, name="task/hello-world")


def test_each_queue_shows_its_queued_and_running_runs(as_owner, dev, queue):
    make_run(dev)
    make_run(dev)
    make_run(dev, status=RunStatus.EXECUTING)
    make_run(dev, "noop", status=RunStatus.DEQUEUED)

    response = as_owner.get(page("queues", dev))
    rows = {row.queue.name: row for row in response.context["overview"].rows}

    assert (rows["task/hello-world"].queued, rows["task/hello-world"].running) == (2, 1)
    assert (rows["task/noop"].queued, rows["task/noop"].running) == (0, 1)
    assert response.context["overview"].env_running == 2
    assert "runs at most <strong>100</strong> runs at once" in text(response)


def test_pause_and_resume_go_through_the_engine(as_owner, dev, queue):
    as_owner.post(page("queue-pause", dev, queue.pk))
    queue.refresh_from_db()
    assert queue.paused
    assert "Paused</span>" in text(as_owner.get(page("queues", dev)))

    response = as_owner.post(page("queue-resume", dev, queue.pk), follow=True)
    queue.refresh_from_db()
    assert not queue.paused
    assert "Resumed “task/hello-world”." in text(response)


def test_the_limit_can_be_set_and_cleared(as_owner, dev, queue):
    as_owner.post(page("queue-limit", dev, queue.pk), {"limit": "4"})
    queue.refresh_from_db()
    assert queue.concurrency_limit == 4

    as_owner.post(page("queue-limit", dev, queue.pk), {"limit": ""})
    queue.refresh_from_db()
    assert queue.concurrency_limit is None


@pytest.mark.parametrize("limit", ["-1", "lots", "1000000"])
def test_a_bad_limit_explains_and_changes_nothing(as_owner, dev, queue, limit):
    response = as_owner.post(
        page("queue-limit", dev, queue.pk), {"limit": limit}, follow=True
    )

    queue.refresh_from_db()
    assert queue.concurrency_limit is None
    assert "must be a whole number from 0 to 100,000" in text(response)


def test_a_queue_of_another_environment_is_404(as_owner, prod, queue):
    assert as_owner.post(page("queue-pause", prod, queue.pk)).status_code == 404
