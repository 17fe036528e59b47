"""The tasks page: runs per task over the last day, failure rate, throughput chart."""

from datetime import timedelta

from runs.models import RunStatus
from tests.web.helpers import make_run, page, text


def test_each_task_shows_its_last_days_runs_and_failure_rate(as_owner, dev):
    for status in (
        RunStatus.COMPLETED,
        RunStatus.COMPLETED,
        RunStatus.COMPLETED,
        RunStatus.FAILED,
    ):
        make_run(dev, status=status)
    make_run(dev)
    make_run(dev, status=RunStatus.FAILED, age=timedelta(days=2))

    response = as_owner.get(page("tasks", dev))
    row = next(row for row in response.context["rows"] if row.slug == "hello-world")

    assert (row.runs, row.completed, row.failed, row.active) == (5, 3, 1, 1)
    assert row.failure_rate == 0.25
    assert "25%" in text(response)
    assert page("task-test", dev, "hello-world") in text(response)


def test_tasks_without_runs_are_listed_with_a_link_to_test_them(as_owner, dev):
    response = as_owner.get(page("tasks", dev))
    row = next(row for row in response.context["rows"] if row.slug == "noop")

    assert row.runs == 0 and row.failure_rate is None
    assert page("task-test", dev, "noop") in text(response)


def test_the_chart_counts_runs_per_minute_by_how_they_ended(as_owner, dev):
    make_run(dev, status=RunStatus.COMPLETED)
    make_run(dev, status=RunStatus.FAILED)
    make_run(dev, status=RunStatus.CANCELED)
    make_run(dev, status=RunStatus.COMPLETED, age=timedelta(minutes=5))
    make_run(dev, status=RunStatus.COMPLETED, age=timedelta(hours=2))

    chart = as_owner.get(page("tasks", dev)).context["chart"]

    assert chart.totals == {"completed": 2, "failed": 1, "canceled": 1}
    assert chart.peak == 3
    assert sum(column.total for column in chart.columns) == 4
    assert len(chart.columns) == 60


def test_the_chart_refreshes_as_a_fragment(as_owner, dev):
    make_run(dev)

    response = as_owner.get(page("tasks", dev), HTTP_HX_REQUEST="true")

    assert "<html" not in text(response)
    assert "<svg" in text(response)
