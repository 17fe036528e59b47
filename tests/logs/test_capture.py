"""Captured lines are saved while the attempt runs, each once and in order."""

import io
import threading

import pytest
from django.db import connection, transaction

from runs import capture, worker
from runs.engine import TriggerSpec, trigger_run
from runs.models import Run, RunLog


@pytest.fixture
def run(project):
    env = project.environments["DEVELOPMENT"]
    return trigger_run(env, "echo", TriggerSpec(payload="{}")).run


@pytest.fixture
def out():
    """What a task's print() goes through (pytest holds sys.stdout itself)."""
    return capture._StreamTee(io.StringIO(), "INFO")


def saved(run):
    return list(
        RunLog.objects.filter(run=run).order_by("pk").values_list("message", flat=True)
    )


def test_lines_saved_during_the_attempt_are_not_handed_out_again_at_its_end(run, out):
    # Given a task that printed two lines, the second without its newline yet
    with capture.capture_logs() as lines:
        out.write("first\n")
        out.write("second, half")
        assert lines.save_pending(run.pk, 1) == 1

        # When it writes more and the attempt ends
        out.write(" and done\n")
        out.write("third\n")
    capture.save_lines(run.pk, 1, list(lines))

    # Then every line is saved once, in the order written
    assert saved(run) == ["first", "second, half and done", "third"]


def test_a_line_left_without_its_newline_is_kept_at_the_end(run, out):
    with capture.capture_logs() as lines:
        out.write("whole\n")
        out.write("no newline")
        remaining = [line.message for line in lines]

    assert remaining == ["whole", "no newline"]


def test_nothing_is_saved_after_the_end_has_taken_the_rest(run, out):
    with capture.capture_logs() as lines:
        out.write("only line\n")
        rest = list(lines)
        out.write("after the end\n")

        assert lines.save_pending(run.pk, 1) == 0

    assert [line.message for line in rest] == ["only line"]
    assert saved(run) == []


def test_lines_stay_pending_when_saving_them_fails(run, out, monkeypatch):
    def database_down(*args):
        raise RuntimeError("database down")

    with capture.capture_logs() as lines:
        out.write("one\n")
        out.write("two\n")
        monkeypatch.setattr(capture, "save_lines", database_down)
        with pytest.raises(RuntimeError):
            lines.save_pending(run.pk, 1)

    assert [line.message for line in lines] == ["one", "two"]


def test_the_heartbeat_saves_the_lines_of_the_attempt_running_on_its_thread(run, out):
    from runs.models import Attempt

    attempt = Attempt.objects.create(run=run, number=1, status="EXECUTING")
    beat = worker.Heartbeat(attempt.pk)

    with capture.capture_logs() as lines:
        out.write("seen while running\n")
        beat.save_logs()

        assert saved(run) == ["seen while running"]
        assert list(lines) == []


@pytest.mark.django_db(transaction=True)
def test_saving_skips_a_beat_rather_than_wait_for_a_run_locked_for_update(
    project, out
):
    # Given the attempt's own thread holds the run's row for update (as
    # suspend_attempt does before it takes the last lines)
    env = project.environments["DEVELOPMENT"]
    run = trigger_run(env, "echo", TriggerSpec(payload="{}")).run
    with capture.capture_logs() as lines:
        out.write("written before the end\n")
        outcome = {}

        def heartbeat_thread():
            try:
                outcome["saved"] = lines.save_pending(run.pk, 1)
            finally:
                connection.close()

        with transaction.atomic():
            Run.objects.select_for_update().get(pk=run.pk)
            # When the heartbeat thread tries to save meanwhile
            other = threading.Thread(target=heartbeat_thread)
            other.start()
            other.join(timeout=10)

            # Then it gives up at once instead of waiting for this transaction
            assert not other.is_alive()
            assert outcome == {"saved": 0}
            capture.save_lines(run.pk, 1, list(lines))

    assert saved(run) == ["written before the end"]
