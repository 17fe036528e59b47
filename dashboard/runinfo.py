"""What the run page says about a run: its status in plain words, why it has not
started, its timeline, and snippets that trigger it again."""

from __future__ import annotations

import json
import pprint
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apikeys.models import EnvironmentKind
from runs import packets
from runs.durations import format_duration
from runs.engine.trigger import DEVELOPMENT_DEFAULT_TTL_SECONDS
from runs.models import (
    SLOT_STATUSES,
    Attempt,
    AttemptStatus,
    Run,
    RunLog,
    RunStatus,
    Task,
    Waitpoint,
    WaitpointKind,
)

SNIPPET_WIDTH = 88
# Stands in for a payload kept in the object store, which the page links to.
STORED_PLACEHOLDER = "<the payload, downloaded from the run page>"
# A queued run older than this with free slots suggests no worker is running.
STALLED_AFTER = timedelta(seconds=30)
# A run that joined its queue this soon after its trigger was queued by the trigger.
QUEUED_AT_TRIGGER = timedelta(milliseconds=1)

MEANINGS = {
    RunStatus.PENDING_VERSION: "No worker has registered this task in this environment yet.",
    RunStatus.DELAYED: "It was triggered with a delay and joins its queue later.",
    RunStatus.QUEUED: "It is waiting in its queue for a free concurrency slot.",
    RunStatus.DEQUEUED: "A worker has been handed this run and is about to start it.",
    RunStatus.EXECUTING: "It is running on a worker now.",
    RunStatus.RETRYING: "An attempt failed; the next attempt is scheduled.",
    RunStatus.WAITING: "It is paused at a wait and holds no worker; it resumes when the wait ends.",
    RunStatus.COMPLETED: "It finished successfully and returned its output.",
    RunStatus.CANCELED: "It was canceled before it finished.",
    RunStatus.FAILED: "It failed: every attempt raised an error, or the task gave up.",
    RunStatus.CRASHED: "The worker running it stopped in the middle of the attempt.",
    RunStatus.SYSTEM_FAILURE: "Triggerkit could not run it because of an internal error.",
    RunStatus.EXPIRED: (
        "Its time to live ran out while it waited in the queue, so it never started."
    ),
    RunStatus.TIMED_OUT: "It ran longer than its maximum duration and was stopped.",
}
ATTEMPT_ENDINGS = {
    AttemptStatus.COMPLETED: "completed",
    AttemptStatus.FAILED: "failed",
    AttemptStatus.CRASHED: "crashed",
    AttemptStatus.TIMED_OUT: "timed out",
    AttemptStatus.CANCELED: "was canceled",
    AttemptStatus.SUSPENDED: "suspended at a wait",
}
FINAL_EVENTS = {
    RunStatus.COMPLETED: ("Completed", "ok"),
    RunStatus.FAILED: ("Failed", "bad"),
    RunStatus.CRASHED: ("Crashed", "bad"),
    RunStatus.SYSTEM_FAILURE: ("System failure", "bad"),
    RunStatus.TIMED_OUT: ("Timed out", "bad"),
    RunStatus.CANCELED: ("Canceled", "muted"),
}


@dataclass(frozen=True)
class Event:
    at: datetime
    label: str
    detail: str = ""
    tone: str = ""
    # A run, batch or schedule id the event is about, shown as a link.
    run_id: str = ""
    batch_id: str = ""
    schedule_id: str = ""


@dataclass(frozen=True)
class Bar:
    """A stretch of the run's life drawn to scale: an execution or a wait."""

    kind: str
    label: str
    left: float
    width: float


def meaning(run: Run) -> str:
    return MEANINGS.get(RunStatus(run.status), "")


@dataclass(frozen=True)
class Blocker:
    """Why a run has not started: a sentence, and the moment it names, if any."""

    code: str
    text: str
    at: datetime | None = None
    link: str = ""


def blocker(run: Run, waitpoints: list[Waitpoint]) -> Blocker | None:
    """Why a run that has not started is not starting; None for a started run."""
    status = run.status
    if status == RunStatus.DELAYED and run.delay_until:
        return Blocker("delayed", "It is delayed until", run.delay_until)
    if status == RunStatus.RETRYING and run.delay_until:
        return Blocker(
            "retrying",
            f"Attempt {run.attempt_count} failed; the next one starts at",
            run.delay_until,
        )
    if status == RunStatus.PENDING_VERSION:
        return Blocker(
            "pending",
            f"No worker has registered the task “{run.task_identifier}” in this environment. "
            "Start a worker whose TRIGGERKIT_TASK_MODULES include it.",
        )
    if status == RunStatus.WAITING:
        return waiting_blocker(open_wait(waitpoints))
    if status == RunStatus.QUEUED:
        return queued_blocker(run)
    return None


def waiting_blocker(waitpoint: Waitpoint | None) -> Blocker:
    if waitpoint is None:
        return Blocker("waiting", "Its wait has ended; it is about to be queued again.")
    if waitpoint.kind == WaitpointKind.RUN:
        return Blocker(
            "waiting",
            "It waits for its child run to finish:",
            link=waitpoint.child_run_id or "",
        )
    if waitpoint.kind == WaitpointKind.BATCH:
        return Blocker(
            "waiting",
            f"It waits for every run of batch {waitpoint.batch_id} to finish.",
        )
    return Blocker("waiting", "It waits until", waitpoint.resume_at)


def queued_blocker(run: Run) -> Blocker:
    queue = run.queue
    if queue.paused:
        return Blocker(
            "queue-paused",
            f"Its queue “{queue.name}” is paused. Resume the queue to let it start.",
        )
    if queue.concurrency_limit is not None:
        busy = lane_usage(run)
        if busy >= queue.concurrency_limit:
            key = (
                f" for concurrency key “{run.concurrency_key}”"
                if run.concurrency_key
                else ""
            )
            return Blocker(
                "queue-full",
                f"Its queue “{queue.name}” is at its concurrency limit{key}: "
                f"{busy} of {queue.concurrency_limit} slots are taken.",
            )
    limit = run.environment.concurrency_limit
    env_busy = Run.objects.filter(
        environment_id=run.environment_id, status__in=SLOT_STATUSES
    )
    busy = env_busy.count()
    if busy >= limit:
        return Blocker(
            "environment-full",
            f"The environment is at its concurrency limit: {busy} of {limit} runs hold a slot.",
        )
    # queue_timestamp is moved back by the run's priority; undo that here.
    joined = run.queue_timestamp and run.queue_timestamp + timedelta(
        seconds=run.priority_seconds
    )
    if joined and timezone.now() - joined > STALLED_AFTER:
        return Blocker(
            "no-worker",
            "A slot is free but no worker has taken it for a while. "
            "Is a worker running and consuming the triggerkit queue?",
        )
    return Blocker("starting", "A slot is free; it should start in a moment.")


def lane_usage(run: Run) -> int:
    """Runs holding a slot in the run's lane: its queue and concurrency key."""
    return Run.objects.filter(
        environment_id=run.environment_id,
        queue_id=run.queue_id,
        concurrency_key=run.concurrency_key,
        status__in=SLOT_STATUSES,
    ).count()


def open_wait(waitpoints: list[Waitpoint]) -> Waitpoint | None:
    waiting_kinds = (WaitpointKind.RUN, WaitpointKind.BATCH, WaitpointKind.DURATION)
    pending = [
        wp for wp in waitpoints if wp.kind in waiting_kinds and wp.resolved_at is None
    ]
    return pending[-1] if pending else None


def timeline(
    run: Run, attempts: list[Attempt], waitpoints: list[Waitpoint]
) -> list[Event]:
    """The moments of a run's life, oldest first."""
    events = [
        Event(
            run.created_at,
            "Triggered",
            trigger_detail(run),
            schedule_id="" if run.replayed_from_id else run.schedule_id or "",
        )
    ]
    if run.status == RunStatus.DELAYED and run.delay_until:
        events.append(Event(run.delay_until, "Due to join its queue", tone="wait"))
    for attempt in attempts:
        verb = "resumed" if attempt.segment else "started"
        events.append(
            Event(
                attempt.started_at,
                f"Attempt {attempt.number} {verb}",
                attempt.worker,
                "live",
            )
        )
        if attempt.finished_at and attempt.status != AttemptStatus.EXECUTING:
            ending = ATTEMPT_ENDINGS.get(
                AttemptStatus(attempt.status), attempt.status.lower()
            )
            message = (attempt.error or {}).get("message", "")
            tone = "bad" if attempt.status in ("FAILED", "CRASHED", "TIMED_OUT") else ""
            events.append(
                Event(
                    attempt.finished_at,
                    f"Attempt {attempt.number} {ending}",
                    message,
                    tone,
                )
            )
    for waitpoint in waitpoints:
        events += wait_events(waitpoint)
    # After the attempts: an attempt that suspends at a wait which has already
    # ended queues its run again in the same instant, and ties keep this order.
    events += queue_events(run, attempts)
    if run.status == RunStatus.RETRYING and run.delay_until:
        events.append(Event(run.delay_until, "Next attempt due", tone="wait"))
    if run.expired_at:
        events.append(
            Event(run.expired_at, "Expired", "Its time to live ran out", "muted")
        )
    elif run.finished_at and run.status in FINAL_EVENTS:
        label, tone = FINAL_EVENTS[RunStatus(run.status)]
        events.append(Event(run.finished_at, label, tone=tone))
    return sorted(events, key=lambda event: event.at)


def queue_events(run: Run, attempts: list[Attempt]) -> list[Event]:
    """When the run last joined its queue, and when it was last dequeued.

    A run keeps only the latest of each: queue_timestamp is rewritten each time
    it joins its queue (at its trigger, at the end of its delay, for a retry or
    after a wait) and dequeued_at each time the dispatcher hands it to a worker,
    or the sweep publishes it again. Earlier ones are not recorded anywhere: the
    timeline shows the latest, and the page says so when there were others.
    """
    events: list[Event] = []
    joined = joined_queue_at(run)
    if joined is not None:
        before = [a for a in attempts if a.started_at < joined]
        if not before:
            events.append(Event(joined, "Queued", first_queue_detail(run, joined)))
        else:
            last = before[-1]
            ending = ATTEMPT_ENDINGS.get(AttemptStatus(last.status), "ended")
            reason = (
                "after its wait ended"
                if last.status == AttemptStatus.SUSPENDED
                else f"after attempt {last.number} {ending}"
            )
            events.append(Event(joined, "Queued again", reason))
    if run.dequeued_at is not None:
        again = any(a.started_at < run.dequeued_at for a in attempts)
        label = "Dequeued again" if again else "Dequeued"
        events.append(Event(run.dequeued_at, label, "handed to a worker"))
    return events


def joined_queue_at(run: Run) -> datetime | None:
    """When the run last joined its queue, or None if it never did."""
    if run.queue_timestamp is None:
        return None
    # Every way into the queue moves queue_timestamp back by the run's priority,
    # which is undone here. Versions before 4 December 2026 did not for a resume
    # after a wait or a task's first registration: the cap by what must have come
    # later keeps such runs' times in order.
    joined = run.queue_timestamp + timedelta(seconds=run.priority_seconds)
    later = [run.updated_at]
    if run.dequeued_at is not None and run.dequeued_at >= run.queue_timestamp:
        later.append(run.dequeued_at)
    return min(joined, *later)


def first_queue_detail(run: Run, joined: datetime) -> str:
    where = f"in {run.queue.name}"
    if joined - run.created_at <= QUEUED_AT_TRIGGER:
        return where
    # Nothing records which of the two it was once the run has joined its queue.
    return f"{where}, once its delay ended (or a worker registered its task)"


def requeued(run: Run, attempts: list[Attempt]) -> bool:
    """Whether the run joined its queue or was dequeued more often than recorded."""
    joined = joined_queue_at(run)
    requeued_after_attempt = joined is not None and any(
        a.started_at < joined for a in attempts
    )
    return requeued_after_attempt or len(attempts) > 1


def trigger_detail(run: Run) -> str:
    if run.replayed_from_id:
        return f"as a replay of {run.replayed_from_id}"
    if run.schedule_id:
        return "by schedule"
    if run.parent_run_id:
        return f"by run {run.parent_run_id}"
    if run.is_test:
        return "as a test run"
    source = run.trigger_source
    return f"through the {'API' if source == 'api' else source}"


def wait_events(waitpoint: Waitpoint) -> list[Event]:
    links = {
        "run_id": waitpoint.child_run_id or "",
        "batch_id": waitpoint.batch_id or "",
    }
    if waitpoint.kind == WaitpointKind.TRIGGER:
        return [Event(waitpoint.created_at, "Triggered a child run", **links)]
    if waitpoint.kind == WaitpointKind.BATCH_TRIGGER:
        return [Event(waitpoint.created_at, "Triggered a batch", **links)]
    events = [Event(waitpoint.created_at, wait_label(waitpoint), tone="wait", **links)]
    if waitpoint.resolved_at:
        events.append(Event(waitpoint.resolved_at, "Wait ended"))
    return events


def wait_label(waitpoint: Waitpoint) -> str:
    if waitpoint.kind == WaitpointKind.RUN:
        return "Waiting for a child run"
    if waitpoint.kind == WaitpointKind.BATCH:
        return "Waiting for a batch"
    when = (
        waitpoint.resume_at.strftime("%H:%M:%S UTC") if waitpoint.resume_at else "later"
    )
    return f"Waiting until {when}"


def bars(run: Run, attempts: list[Attempt], waitpoints: list[Waitpoint]) -> list[Bar]:
    """Executions and waits as percentages of the run's life so far."""
    start = run.created_at
    end = run.finished_at or run.expired_at or timezone.now()
    span = max((end - start).total_seconds(), 0.001)

    def bar(kind: str, label: str, begin: datetime, finish: datetime | None) -> Bar:
        finish = finish or end
        left = max(0.0, (begin - start).total_seconds() / span * 100)
        width = max(0.6, (finish - begin).total_seconds() / span * 100)
        return Bar(kind, label, round(left, 2), round(min(width, 100 - left), 2))

    # Before its first attempt a run was delayed or queued (or both).
    first_start = attempts[0].started_at if attempts else None
    drawn = []
    if first_start is not None or not run.is_final:
        drawn.append(bar("queued", "Before its first attempt", start, first_start))
    drawn += [
        bar(
            "run",
            f"Attempt {a.number}" + (f", part {a.segment + 1}" if a.segment else ""),
            a.started_at,
            a.finished_at,
        )
        for a in attempts
    ]
    drawn += [
        bar("wait", wait_label(wp), wp.created_at, wp.resolved_at)
        for wp in waitpoints
        if wp.kind in (WaitpointKind.RUN, WaitpointKind.BATCH, WaitpointKind.DURATION)
    ]
    return drawn


def trigger_options(run: Run, task: Task | None) -> dict[str, Any]:
    """The wire options that reproduce a run, leaving out the task's defaults."""
    options: dict[str, Any] = {}
    if run.tags:
        options["tags"] = run.tags
    if run.metadata:
        options["metadata"] = run.metadata
    if task is None or run.queue.name != task.queue.name:
        options["queue"] = {"name": run.queue.name}
    if run.concurrency_key:
        options["concurrencyKey"] = run.concurrency_key
    if run.ttl_seconds and run.ttl_seconds != usual_ttl(run, task):
        options["ttl"] = format_duration(run.ttl_seconds)
    task_attempts = int((task.retry if task else {}).get("max_attempts") or 0)
    if run.max_attempts and run.max_attempts != task_attempts:
        options["maxAttempts"] = run.max_attempts
    if run.max_duration_seconds and run.max_duration_seconds != (
        task and task.max_duration_seconds
    ):
        options["maxDuration"] = run.max_duration_seconds
    if run.priority_seconds:
        options["priority"] = run.priority_seconds
    if run.status == RunStatus.DELAYED and run.delay_until:
        options["delay"] = run.delay_until.isoformat().replace("+00:00", "Z")
    options.update(run.extra_options or {})
    return options


def usual_ttl(run: Run, task: Task | None) -> int:
    """The TTL a trigger without one gets: the task's, else the environment's."""
    if task is not None and task.ttl_seconds:
        return task.ttl_seconds
    if run.environment.kind == EnvironmentKind.DEVELOPMENT:
        return DEVELOPMENT_DEFAULT_TTL_SECONDS
    return 0


SDK_OPTION_NAMES = {
    "tags": "tags",
    "metadata": "metadata",
    "concurrencyKey": "concurrency_key",
    "ttl": "ttl",
    "maxAttempts": "max_attempts",
    "maxDuration": "max_duration",
    "priority": "priority",
    "delay": "delay",
    "machine": "machine",
}


def inline_payload(run: Run) -> Any:
    """The payload as JSON, or a placeholder when it is kept in the object store."""
    if run.payload is None:
        return None
    if run.payload_type == packets.STORE:
        return STORED_PLACEHOLDER
    return packets.decode(run.payload, run.payload_type)


def python_snippet(run: Run, options: dict[str, Any]) -> str:
    payload = inline_payload(run)
    lines = [
        "from triggerkit import tasks",
        "",
        "result = tasks.trigger(",
        f"    {run.task_identifier!r},",
    ]
    lines.append(f"    {python_literal(payload, 4)},")
    for name, value in options.items():
        if name == "queue":
            lines.append(f"    queue={value['name']!r},")
        elif name in SDK_OPTION_NAMES:
            lines.append(f"    {SDK_OPTION_NAMES[name]}={python_literal(value, 4)},")
    lines.append(")")
    if run.idempotency_key:
        lines.append(
            "# The idempotency key is left out: reusing it would return this run."
        )
    lines.append("print(result.id)")
    return "\n".join(lines)


def python_literal(value: Any, indent: int) -> str:
    """A JSON value written as Python and indented to sit inside a call."""
    text = pprint.pformat(value, width=SNIPPET_WIDTH - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


def curl_snippet(run: Run, options: dict[str, Any], base_url: str) -> str:
    body: dict[str, Any] = {}
    if run.payload is not None:
        body["payload"] = inline_payload(run)
    if options:
        body["options"] = options
    url = f"{base_url}/api/v1/tasks/{run.task_identifier}/trigger"
    return "\n".join(
        [
            f"curl -X POST {shlex.quote(url)} \\",
            '  -H "Authorization: Bearer $TRIGGER_SECRET_KEY" \\',
            "  -H 'Content-Type: application/json' \\",
            f"  -d {shlex.quote(json.dumps(body, ensure_ascii=False))}",
        ]
    )


LOG_PAGE_SIZE = 200
# Past this many lines on the page, the logs stop updating by themselves.
LIVE_LOG_LINES = 2000
CHILDREN_SHOWN = 50


@dataclass
class LogChunk:
    lines: list[RunLog]
    after: int
    shown: int
    more: bool
    live: bool
    capped: bool


def log_chunk(run: Run, after: int, shown: int) -> LogChunk:
    """The next page of a run's captured lines, and whether to keep listening."""
    lines = list(
        RunLog.objects.filter(run=run, pk__gt=after).order_by("pk")[: LOG_PAGE_SIZE + 1]
    )
    more = len(lines) > LOG_PAGE_SIZE
    lines = lines[:LOG_PAGE_SIZE]
    shown += len(lines)
    last = lines[-1].pk if lines else after
    capped = shown >= LIVE_LOG_LINES
    live = not more and not run.is_final and not capped
    return LogChunk(lines, last, shown, more, live, capped and not run.is_final)


def run_details(run: Run, base_url: str) -> dict[str, Any]:
    """Everything the run page shows about a run besides its logs."""
    attempts = list(run.attempts.order_by("number", "segment"))
    waitpoints = list(run.waitpoints.order_by("step"))
    children = list(
        Run.objects.filter(parent_run=run)
        .only("id", "task_identifier", "status", "created_at")
        .order_by("id")[: CHILDREN_SHOWN + 1]
    )
    replays = list(
        Run.objects.filter(replayed_from=run)
        .only("id", "status", "created_at")
        .order_by("-id")[:10]
    )
    task = (
        Task.objects.select_related("queue")
        .filter(environment_id=run.environment_id, slug=run.task_identifier)
        .first()
    )
    options = trigger_options(run, task)
    return {
        "meaning": meaning(run),
        "blocker": blocker(run, waitpoints),
        "attempts": attempts,
        "attempt_errors": [a for a in attempts if a.error],
        "timeline": timeline(run, attempts, waitpoints),
        "timeline_partial": requeued(run, attempts),
        "bars": bars(run, attempts, waitpoints),
        "children": children[:CHILDREN_SHOWN],
        "more_children": len(children) > CHILDREN_SHOWN,
        "replays": replays,
        "task": task,
        "python_snippet": python_snippet(run, options),
        "curl_snippet": curl_snippet(run, options, base_url),
        "version": run.updated_at.isoformat(),
    }
