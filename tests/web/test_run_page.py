"""The run page: status in words, why it waits, timeline, data, logs, live parts."""

import json
import re
import shlex
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import runinfo
from runs.engine import (
    TriggerSpec,
    complete_attempt,
    dispatch,
    fail_attempt,
    pause_queue,
    promote_due_runs,
    set_queue_limit,
    start_attempt,
)
from runs.models import (
    Attempt,
    AttemptStatus,
    Batch,
    BatchStatus,
    Queue,
    Run,
    RunLog,
    RunStatus,
    Waitpoint,
    WaitpointKind,
)
from tests.web.helpers import make_run, page, text

TRACE = 'Traceback (most recent call last):\n  File "tasks.py", line 3, in fail\nValueError: nope'


def finished(dev, status=RunStatus.COMPLETED, **fields):
    now = timezone.now()
    return make_run(
        dev,
        status=status,
        started_at=now - timedelta(seconds=2),
        finished_at=now,
        attempt_count=1,
        **fields,
    )


@pytest.mark.parametrize(
    "status, words",
    [
        (RunStatus.QUEUED, "waiting in its queue"),
        (RunStatus.EXECUTING, "running on a worker now"),
        (RunStatus.COMPLETED, "finished successfully"),
        (RunStatus.CRASHED, "worker running it stopped"),
        (RunStatus.EXPIRED, "time to live ran out"),
    ],
)
def test_the_status_is_said_in_plain_words(as_owner, dev, status, words):
    run = make_run(dev, status=status)

    response = as_owner.get(page("run", dev, run.pk))

    assert response.status_code == 200
    assert words in text(response)


def test_a_run_in_a_paused_queue_says_so(as_owner, dev):
    run = make_run(dev)
    pause_queue(run.queue_id)

    response = as_owner.get(page("run", dev, run.pk))

    assert "Why it has not started" in text(response)
    assert "Its queue “task/hello-world” is paused" in text(response)


def test_a_run_behind_a_full_queue_says_how_full(as_owner, dev):
    set_queue_limit(Queue.objects.get(environment=dev, name="task/hello-world").pk, 1)
    make_run(dev, status=RunStatus.EXECUTING)
    waiting = make_run(dev)

    response = as_owner.get(page("run", dev, waiting.pk))

    assert "at its concurrency limit: 1 of 1 slots are taken" in text(response)


def test_a_run_behind_a_full_environment_says_so(as_owner, dev):
    dev.concurrency_limit = 1
    dev.save()
    make_run(dev, "noop", status=RunStatus.DEQUEUED)
    waiting = make_run(dev)

    response = as_owner.get(page("run", dev, waiting.pk))

    assert "The environment is at its concurrency limit: 1 of 1" in text(response)


def test_a_delayed_run_says_until_when_and_offers_to_reschedule(as_owner, dev):
    due = timezone.now() + timedelta(hours=2)
    run = make_run(dev, spec=TriggerSpec(payload="{}", delay_until=due))

    response = as_owner.get(page("run", dev, run.pk))

    assert "It is delayed until" in text(response)
    assert due.strftime("%Y-%m-%d %H:%M:%S UTC") in text(response)
    assert "Reschedule…" in text(response)


def test_a_run_of_an_unregistered_task_says_no_worker_knows_it(as_owner, dev):
    run = make_run(dev, "not-deployed")

    response = as_owner.get(page("run", dev, run.pk))

    assert run.status == RunStatus.PENDING_VERSION
    assert "No worker has registered the task “not-deployed”" in text(response)


def test_a_waiting_run_names_the_child_it_waits_for(as_owner, dev):
    parent = make_run(dev, status=RunStatus.WAITING)
    child = make_run(dev, spec=TriggerSpec(payload="{}", parent_run_id=parent.pk))
    Waitpoint.objects.create(
        run=parent, step=0, kind=WaitpointKind.RUN, signature="x", child_run=child
    )

    response = as_owner.get(page("run", dev, parent.pk))

    assert "It waits for its child run to finish" in text(response)
    assert page("run", dev, child.pk) in text(response)


def test_the_timeline_shows_attempts_waits_and_the_end(as_owner, dev):
    run = finished(dev, status=RunStatus.FAILED, error={"message": "nope"})
    start = run.created_at
    Run.objects.filter(pk=run.pk).update(finished_at=start + timedelta(seconds=6))
    Attempt.objects.create(
        run=run,
        number=1,
        status=AttemptStatus.SUSPENDED,
        started_at=start + timedelta(seconds=1),
        finished_at=start + timedelta(seconds=2),
    )
    Waitpoint.objects.create(
        run=run,
        step=0,
        kind=WaitpointKind.DURATION,
        signature="wait",
        created_at=start + timedelta(seconds=2),
        resolved_at=start + timedelta(seconds=3),
        resume_at=start + timedelta(seconds=3),
    )
    Attempt.objects.create(
        run=run,
        number=1,
        segment=1,
        status=AttemptStatus.FAILED,
        started_at=start + timedelta(seconds=4),
        finished_at=start + timedelta(seconds=5),
        error={"name": "ValueError", "message": "nope", "stackTrace": TRACE},
    )

    response = as_owner.get(page("run", dev, run.pk))
    labels = [event.label for event in response.context["timeline"]]

    assert labels[0] == "Triggered"
    assert "Attempt 1 started" in labels
    assert "Attempt 1 suspended at a wait" in labels
    assert any(label.startswith("Waiting until") for label in labels)
    assert "Wait ended" in labels
    assert "Attempt 1 resumed" in labels
    assert "Attempt 1 failed" in labels
    assert labels[-1] == "Failed"
    assert [bar.kind for bar in response.context["bars"]] == [
        "queued",
        "run",
        "run",
        "wait",
    ]


def labels_on_the_page(response) -> list[str]:
    """The timeline's labels as the page shows them, in page order."""
    timeline = text(response).split('<ol class="timeline">')[1].split("</ol>")[0]
    return re.findall(r'<span class="event-label">([^<]+)</span>', timeline)


def run_once(dev, run, output='{"ok":true}'):
    """Dispatch a queued run and complete its attempt, as a worker would."""
    assert dispatch(dev.pk) == [run.pk]
    started = start_attempt(run.pk, "worker-1")
    assert complete_attempt(started.attempt, output, "application/json", [])


def test_the_timeline_shows_when_the_run_was_queued_and_dequeued(as_owner, dev):
    run = make_run(dev)
    run_once(dev, run)

    response = as_owner.get(page("run", dev, run.pk))
    events = response.context["timeline"]

    assert labels_on_the_page(response) == [
        "Triggered",
        "Queued",
        "Dequeued",
        "Attempt 1 started",
        "Attempt 1 completed",
        "Completed",
    ]
    run.refresh_from_db()
    by_label = {event.label: event for event in events}
    assert by_label["Queued"].at == run.created_at  # queued by its trigger
    assert by_label["Queued"].detail == "in task/hello-world"
    assert by_label["Dequeued"].at == run.dequeued_at
    assert "handed to a worker" in text(response)
    assert "A run keeps only its latest entry" not in text(response)


def test_a_queued_run_shows_it_is_queued_but_not_dequeued(as_owner, dev):
    run = make_run(dev)

    response = as_owner.get(page("run", dev, run.pk))

    assert labels_on_the_page(response) == ["Triggered", "Queued"]


def test_a_delayed_run_is_queued_when_its_delay_ends(as_owner, dev):
    due = timezone.now() + timedelta(hours=1)
    run = make_run(dev, spec=TriggerSpec(payload="{}", delay_until=due))
    before = as_owner.get(page("run", dev, run.pk))
    assert labels_on_the_page(before) == ["Triggered", "Due to join its queue"]

    # Its delay ends: beat's sweep moves it into its queue, then it is dispatched.
    Run.objects.filter(pk=run.pk).update(delay_until=timezone.now())
    assert promote_due_runs() == 1
    assert dispatch(dev.pk) == [run.pk]

    response = as_owner.get(page("run", dev, run.pk))
    events = {event.label: event for event in response.context["timeline"]}

    assert labels_on_the_page(response) == ["Triggered", "Queued", "Dequeued"]
    assert events["Queued"].at > run.created_at
    assert "once its delay ended" in events["Queued"].detail
    assert events["Queued"].at <= events["Dequeued"].at


def test_a_retried_run_shows_its_latest_queue_entry_and_says_so(as_owner, dev):
    run = make_run(dev, spec=TriggerSpec(payload="{}", max_attempts=2))
    assert dispatch(dev.pk) == [run.pk]
    first = start_attempt(run.pk, "worker-1")
    error = {"name": "ValueError", "message": "nope"}
    assert fail_attempt(first.attempt, error, []) == RunStatus.RETRYING
    # Its backoff passes: beat queues it again and it is dispatched once more.
    Run.objects.filter(pk=run.pk).update(delay_until=timezone.now())
    assert promote_due_runs() == 1
    run_once(dev, run)

    response = as_owner.get(page("run", dev, run.pk))
    events = {event.label: event for event in response.context["timeline"]}

    assert labels_on_the_page(response) == [
        "Triggered",
        "Attempt 1 started",
        "Attempt 1 failed",
        "Queued again",
        "Dequeued again",
        "Attempt 2 started",
        "Attempt 2 completed",
        "Completed",
    ]
    assert events["Queued again"].detail == "after attempt 1 failed"
    # The first entry into the queue and the first dequeue were overwritten.
    assert "A run keeps only its latest entry into its queue" in text(response)


def test_a_run_resumed_after_a_wait_is_queued_again_after_the_wait(as_owner, dev):
    run = finished(dev)
    start = run.created_at
    Attempt.objects.create(
        run=run,
        number=1,
        status=AttemptStatus.SUSPENDED,
        started_at=start + timedelta(seconds=1),
        finished_at=start + timedelta(seconds=2),
    )
    Attempt.objects.create(
        run=run,
        number=1,
        segment=1,
        status=AttemptStatus.COMPLETED,
        started_at=start + timedelta(seconds=5),
        finished_at=start + timedelta(seconds=6),
    )
    Run.objects.filter(pk=run.pk).update(
        queue_timestamp=start + timedelta(seconds=3),
        dequeued_at=start + timedelta(seconds=4),
        finished_at=start + timedelta(seconds=6),
        updated_at=start + timedelta(seconds=6),
    )

    response = as_owner.get(page("run", dev, run.pk))
    events = {event.label: event for event in response.context["timeline"]}

    assert labels_on_the_page(response) == [
        "Triggered",
        "Attempt 1 started",
        "Attempt 1 suspended at a wait",
        "Queued again",
        "Dequeued again",
        "Attempt 1 resumed",
        "Attempt 1 completed",
        "Completed",
    ]
    assert events["Queued again"].detail == "after its wait ended"


def test_payload_and_output_are_pretty_json(as_owner, dev):
    run = finished(dev, output='{"message":"Hello, Ada!","n":[1,2]}')

    body = text(as_owner.get(page("run", dev, run.pk)))

    assert "{\n  &quot;name&quot;: &quot;Ada&quot;\n}" in body
    assert "&quot;message&quot;: &quot;Hello, Ada!&quot;," in body
    assert 'data-copy-from="#payload-json"' in body


def test_the_error_shows_with_its_stack_trace_per_attempt(as_owner, dev):
    error = {"name": "ValueError", "message": "bad input", "stackTrace": TRACE}
    run = finished(dev, status=RunStatus.FAILED, error=error)
    Attempt.objects.create(
        run=run,
        number=1,
        status=AttemptStatus.FAILED,
        finished_at=timezone.now(),
        error=error,
    )

    body = text(as_owner.get(page("run", dev, run.pk)))

    assert "<strong>ValueError</strong>: bad input" in body
    assert body.count("line 3, in fail") == 2  # the run's error and its attempt's


def test_metadata_tags_keys_and_relations_are_shown(as_owner, dev):
    parent = make_run(dev, status=RunStatus.WAITING)
    batch = Batch.objects.create(
        environment=dev, status=BatchStatus.COMPLETED, run_count=1
    )
    run = make_run(
        dev,
        spec=TriggerSpec(
            payload="{}",
            tags=["vip"],
            metadata={"progress": 40},
            idempotency_key="order-7",
            concurrency_key="tenant-1",
            parent_run_id=parent.pk,
            root_run_id=parent.pk,
        ),
        batch=batch,
        batch_index=0,
    )
    child = make_run(dev, spec=TriggerSpec(payload="{}", parent_run_id=run.pk))

    body = text(as_owner.get(page("run", dev, run.pk)))

    assert "&quot;progress&quot;: 40" in body
    assert "order-7" in body and "tenant-1" in body
    assert page("runs", dev) + "?tag=vip" in body
    for other in (parent.pk, child.pk, batch.pk):
        assert other in body


def test_copy_as_reproduces_the_trigger(as_owner, dev):
    run = make_run(
        dev,
        spec=TriggerSpec(
            payload='{"name":"Ada"}', tags=["vip"], concurrency_key="t1", max_attempts=5
        ),
    )

    context = as_owner.get(page("run", dev, run.pk)).context
    python, curl = context["python_snippet"], context["curl_snippet"]

    assert "tasks.trigger(\n    'hello-world',\n    {'name': 'Ada'}," in python
    assert "tags=['vip']" in python and "concurrency_key='t1'" in python
    assert "max_attempts=5" in python
    assert "ttl=" not in python  # the environment's default is left out
    body = json.loads(shlex.split(curl.split("-d ", 1)[1])[0])
    assert body == {
        "payload": {"name": "Ada"},
        "options": {"tags": ["vip"], "concurrencyKey": "t1", "maxAttempts": 5},
    }
    assert "http://testserver/api/v1/tasks/hello-world/trigger" in curl


def test_the_live_part_is_polled_until_the_run_is_final(as_owner, dev):
    run = make_run(dev)
    body = text(as_owner.get(page("run", dev, run.pk)))
    assert "part=live" in body

    changed = as_owner.get(
        page("run", dev, run.pk), {"part": "live"}, HTTP_HX_REQUEST="true"
    )
    assert changed.status_code == 200
    assert "<html" not in text(changed)

    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.COMPLETED, finished_at=timezone.now()
    )
    final = as_owner.get(
        page("run", dev, run.pk), {"part": "live"}, HTTP_HX_REQUEST="true"
    )
    assert final.status_code == 286
    assert "Completed" in text(final)
    assert "part=live" not in text(final)


def test_an_unchanged_run_answers_the_poll_with_no_content(as_owner, dev):
    run = make_run(dev, status=RunStatus.WAITING)

    response = as_owner.get(
        page("run", dev, run.pk),
        {"part": "live", "since": run.updated_at.isoformat()},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 204


def add_logs(run, count):
    now = timezone.now()
    RunLog.objects.bulk_create(
        RunLog(
            run=run, attempt_number=1, logged_at=now, level="INFO", message=f"line {i}"
        )
        for i in range(count)
    )


def test_logs_come_in_pages(as_owner, dev, monkeypatch):
    monkeypatch.setattr(runinfo, "LOG_PAGE_SIZE", 3)
    run = finished(dev)
    add_logs(run, 5)

    first = as_owner.get(page("run", dev, run.pk))
    log = first.context["log"]
    assert [line.message for line in log.lines] == ["line 0", "line 1", "line 2"]
    assert "Show the next lines" in text(first)

    rest = as_owner.get(
        page("run", dev, run.pk),
        {"part": "logs", "after": log.after, "shown": log.shown},
        HTTP_HX_REQUEST="true",
    )
    assert "line 3" in text(rest) and "line 4" in text(rest)
    assert "line 2" not in text(rest)
    assert rest.status_code == 286  # finished, nothing more: stop asking


def test_logs_of_a_running_run_keep_listening(as_owner, dev):
    run = make_run(dev, status=RunStatus.EXECUTING)
    add_logs(run, 2)

    body = text(as_owner.get(page("run", dev, run.pk)))
    assert "Listening for new lines" in body

    add_logs(run, 1)
    last = RunLog.objects.filter(run=run).order_by("pk")[1].pk
    more = as_owner.get(
        page("run", dev, run.pk),
        {"part": "logs", "after": last, "shown": 2},
        HTTP_HX_REQUEST="true",
    )
    assert more.status_code == 200
    assert "line 0" in text(more) and 'hx-trigger="every 2s"' in text(more)


def test_live_logs_stop_past_a_large_count(as_owner, dev, monkeypatch):
    monkeypatch.setattr(runinfo, "LIVE_LOG_LINES", 3)
    run = make_run(dev, status=RunStatus.EXECUTING)
    add_logs(run, 3)

    body = text(as_owner.get(page("run", dev, run.pk)))

    assert "Live updates stopped after 3 lines" in body
    assert "Listening for new lines" not in body


def test_a_run_that_logged_nothing_says_so(as_owner, dev):
    run = finished(dev)

    assert "This run wrote no log lines" in text(as_owner.get(page("run", dev, run.pk)))


def test_the_page_costs_a_bounded_number_of_queries(as_owner, dev):
    run = finished(dev)
    for number in range(1, 6):
        Attempt.objects.create(run=run, number=number, status=AttemptStatus.FAILED)
    for _ in range(5):
        make_run(dev, spec=TriggerSpec(payload="{}", parent_run_id=run.pk))
    add_logs(run, 20)
    as_owner.get(page("run", dev, run.pk))

    with CaptureQueriesContext(connection) as queries:
        as_owner.get(page("run", dev, run.pk))

    assert len(queries) <= 12, "\n".join(q["sql"][:150] for q in queries)


def test_a_payload_in_the_object_store_is_offered_as_a_download(as_owner, dev):
    record = '{"key": "packets/p1/payload.json", "size": 20000000, "type": "application/json"}'
    run = make_run(dev, payload=record, payload_type="application/store")

    response = as_owner.get(page("run", dev, run.pk))

    assert f"/runs/{run.pk}/packets/payload" in text(response)
    assert "packets/p1" not in response.context["python_snippet"]
    replay_form = as_owner.get(page("run-replay", dev, run.pk)).context["form"]
    assert replay_form.payload == ""
