"""One heartbeat thread per worker process renews the leases of the attempts it runs."""

import time

import pytest

from runs import worker
from runs.engine import TriggerSpec, cancel_run, dispatch, start_attempt, trigger_run
from runs.models import Attempt, Run
from tests.live import poll

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fast_beats(settings):
    settings.TRIGGERKIT_HEARTBEAT_SECONDS = 0.05


def started_attempt(project) -> Attempt:
    env = project.environments["DEVELOPMENT"]
    run = trigger_run(env, "echo", TriggerSpec(payload="{}")).run
    dispatch(env.pk)
    return start_attempt(run.pk, "test-worker").attempt


def heartbeat_at(attempt: Attempt):
    return Attempt.objects.get(pk=attempt.pk).heartbeat_at


def wait_for_a_beat(attempt: Attempt) -> None:
    before = heartbeat_at(attempt)
    poll(lambda: heartbeat_at(attempt) > before, timeout=10, interval=0.02)


def test_one_thread_renews_the_lease_of_each_attempt_in_turn(project, fast_beats):
    threads = []
    for attempt in (started_attempt(project), started_attempt(project)):
        with worker.Heartbeat(attempt.pk):
            wait_for_a_beat(attempt)
            threads.append(worker.heartbeats.thread)

    assert threads[0] is threads[1]
    assert threads[0].is_alive()


def test_a_detached_attempt_is_not_beaten_again(project, fast_beats):
    attempt = started_attempt(project)
    with worker.Heartbeat(attempt.pk):
        wait_for_a_beat(attempt)
    last = heartbeat_at(attempt)

    time.sleep(0.3)

    assert heartbeat_at(attempt) == last


def test_a_cancelled_attempt_is_interrupted_and_let_go(project, fast_beats):
    attempt = started_attempt(project)
    with worker.Heartbeat(attempt.pk) as heartbeat:
        cancel_run(Run.objects.get(pk=attempt.run_id))

        poll(lambda: heartbeat.interrupted, timeout=10, interval=0.02)

        assert attempt.pk not in worker.heartbeats.attached
