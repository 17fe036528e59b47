"""Scheduled tasks and their cron schedules.

Declare a task that runs on a schedule, and workers register the schedule when
they start (a DECLARATIVE schedule)::

    from triggerkit import schedules

    @schedules.task(id="daily-report", cron="0 9 * * *", timezone="Europe/Paris")
    def daily_report(payload: schedules.ScheduledTaskPayload) -> None:
        print("report for", payload.timestamp)

A scheduled task declared without ``cron`` gets its schedules from the API
(IMPERATIVE ones), one per user for instance::

    schedules.create(
        task="daily-report", cron="0 8 * * *", deduplication_key="user-42",
        external_id="user-42", timezone="America/New_York",
    )

Every call has an async twin ending in ``_async``. The official TypeScript SDK's
``schedules.del`` is ``schedules.delete`` here.
"""

from __future__ import annotations

import builtins
import functools
import inspect
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from triggerkit._tasks import Queue, Retry, Task, register
from triggerkit.api import _Flow, _run, _run_async, _segment
from triggerkit.client import ApiRequest, ApiResponse

__all__ = [
    "Schedule",
    "ScheduleEnvironment",
    "SchedulePage",
    "ScheduleType",
    "ScheduledTask",
    "ScheduledTaskPayload",
    "activate",
    "activate_async",
    "create",
    "create_async",
    "deactivate",
    "deactivate_async",
    "delete",
    "delete_async",
    "list",
    "list_async",
    "retrieve",
    "retrieve_async",
    "task",
    "timezones",
    "timezones_async",
    "update",
    "update_async",
]

ENVIRONMENT_KINDS = frozenset({"DEVELOPMENT", "STAGING", "PRODUCTION"})
PATH = "/api/v1/schedules"


class ScheduleType(StrEnum):
    """Where a schedule comes from."""

    # Declared in code with @schedules.task(cron=…); workers keep it in sync.
    DECLARATIVE = "DECLARATIVE"
    # Created through the API, an SDK or the dashboard.
    IMPERATIVE = "IMPERATIVE"


@dataclass(frozen=True, kw_only=True)
class ScheduledTaskPayload:
    """What a scheduled task receives each time its schedule fires.

    Attributes:
        schedule_id: The schedule that fired.
        type: Whether that schedule is declarative or imperative.
        timestamp: The scheduled time of this fire (UTC); a fire that beat
            caught up late keeps its scheduled time.
        last_timestamp: The scheduled time of the schedule's previous fire, if any.
        external_id: The schedule's external id, if it has one.
        timezone: The IANA zone the cron is evaluated in.
        upcoming: The next five scheduled times (UTC).
    """

    schedule_id: str
    type: ScheduleType
    timestamp: datetime
    last_timestamp: datetime | None
    external_id: str | None
    timezone: str
    upcoming: builtins.list[datetime]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ScheduledTaskPayload:
        """Build the payload from the JSON object a scheduled run carries."""
        last = data.get("lastTimestamp")
        return cls(
            schedule_id=data["scheduleId"],
            type=ScheduleType(data["type"]),
            timestamp=datetime.fromisoformat(data["timestamp"]),
            last_timestamp=None if last is None else datetime.fromisoformat(last),
            external_id=data.get("externalId"),
            timezone=data.get("timezone", "UTC"),
            upcoming=[
                datetime.fromisoformat(moment) for moment in data.get("upcoming", [])
            ],
        )


@dataclass(frozen=True, kw_only=True)
class ScheduleEnvironment:
    """An environment a schedule belongs to."""

    id: str
    type: str
    user_name: str | None


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A cron schedule attached to a scheduled task.

    Attributes:
        id: The ``sched_…`` id.
        type: DECLARATIVE (from code) or IMPERATIVE (from the API).
        task: The id of the task it triggers.
        active: False while deactivated; it then does not fire.
        deduplication_key: The key that identifies it on upsert, if any.
        external_id: Your own id for it (a user id, say), given to each run.
        cron: The five-field cron expression.
        description: The cron in words, such as "At 09:00 AM".
        timezone: The IANA zone the cron is evaluated in.
        next_run: When it fires next; None while inactive.
        environments: The environments it belongs to.
        raw: The wire object it was built from.
    """

    id: str
    type: ScheduleType
    task: str
    active: bool
    deduplication_key: str | None
    external_id: str | None
    cron: str
    description: str
    timezone: str
    next_run: datetime | None
    environments: tuple[ScheduleEnvironment, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Schedule:
        """Build a schedule from the API's schedule object."""
        generator = data.get("generator") or {}
        next_run = data.get("nextRun")
        return cls(
            id=data["id"],
            type=ScheduleType(data["type"]),
            task=data["task"],
            active=data["active"],
            deduplication_key=data.get("deduplicationKey"),
            external_id=data.get("externalId"),
            cron=generator.get("expression", ""),
            description=generator.get("description", ""),
            timezone=data.get("timezone", "UTC"),
            next_run=None if next_run is None else datetime.fromisoformat(next_run),
            environments=tuple(
                ScheduleEnvironment(
                    id=env["id"], type=env["type"], user_name=env.get("userName")
                )
                for env in data.get("environments", [])
            ),
            raw=dict(data),
        )


@dataclass(frozen=True, kw_only=True)
class SchedulePage:
    """One page of ``schedules.list``."""

    schedules: builtins.list[Schedule]
    current_page: int
    total_pages: int
    count: int

    @property
    def has_next_page(self) -> bool:
        return self.current_page < self.total_pages


class ScheduledTask(Task[ScheduledTaskPayload, Any]):
    """A task declared with ``@schedules.task``: schedules may be attached to it.

    Its function receives a ``ScheduledTaskPayload`` (the worker parses the run's
    JSON payload into one).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        id: str,
        cron: str | None = None,
        timezone: str = "UTC",
        environments: Collection[str] | None = None,
        queue: Queue | str | None = None,
        retry: Retry | None = None,
        max_duration: int | None = None,
        ttl: int | None = None,
    ) -> None:
        super().__init__(
            _with_schedule_payload(func),
            id=id,
            queue=queue,
            retry=retry,
            max_duration=max_duration,
            ttl=ttl,
        )
        self.cron = None if cron is None else _checked_cron(cron)
        self.timezone = _checked_timezone(timezone)
        self.environments = _checked_environments(environments)

    def __repr__(self) -> str:
        return f"<ScheduledTask {self.id} cron={self.cron!r}>"


def task(
    *,
    id: str,
    cron: str | None = None,
    timezone: str = "UTC",
    environments: Collection[str] | None = None,
    queue: Queue | str | None = None,
    retry: Retry | None = None,
    max_duration: int | None = None,
    ttl: int | None = None,
) -> Callable[[Callable[..., Any]], ScheduledTask]:
    """Declare a scheduled task, optionally with its own (declarative) schedule.

    Args:
        id: The identifier schedules and callers use, unique in the codebase.
        cron: A five-field cron expression (minute hour day-of-month month
            day-of-week). Workers register it as the task's DECLARATIVE schedule
            when they start, update it when it changes, and delete it when the
            code no longer declares it. None declares no schedule: attach
            schedules with ``schedules.create``.
        timezone: The IANA zone the cron is evaluated in, such as
            "Europe/Paris"; daylight-saving changes are followed.
        environments: The environment kinds ("DEVELOPMENT", "STAGING",
            "PRODUCTION") the declarative schedule fires in; all by default.
        queue, retry, max_duration, ttl: As for ``triggerkit.task``.

    Raises:
        ValueError: for a cron that does not have five fields (seconds are not
            allowed), an unknown time zone or an unknown environment kind.
    """

    def decorate(func: Callable[..., Any]) -> ScheduledTask:
        declared = ScheduledTask(
            func,
            id=id,
            cron=cron,
            timezone=timezone,
            environments=environments,
            queue=queue,
            retry=retry,
            max_duration=max_duration,
            ttl=ttl,
        )
        return register(declared)

    return decorate


def create(
    *,
    task: str,
    cron: str,
    deduplication_key: str,
    timezone: str | None = None,
    external_id: str | None = None,
) -> Schedule:
    """Attach an imperative schedule to a scheduled task, or update it.

    Args:
        task: The id of a task declared with ``@schedules.task``.
        cron: A five-field cron expression.
        deduplication_key: Identifies the schedule: creating again with the
            same key updates that schedule instead of adding one.
        timezone: The IANA zone the cron is evaluated in; UTC if None.
        external_id: Your own id (a user id, say), given to each run.

    Raises:
        UnprocessableEntityError: for an invalid cron or time zone, or a task
            that is not a scheduled task of this environment.
    """
    return _run(_create_flow(task, cron, deduplication_key, timezone, external_id))


async def create_async(
    *,
    task: str,
    cron: str,
    deduplication_key: str,
    timezone: str | None = None,
    external_id: str | None = None,
) -> Schedule:
    """Like ``create``, without blocking the event loop."""
    flow = _create_flow(task, cron, deduplication_key, timezone, external_id)
    return await _run_async(flow)


def list(page: int | None = None, per_page: int | None = None) -> SchedulePage:
    """Fetch one page of the environment's schedules, newest first.

    Args:
        page: The page number, from 1.
        per_page: Schedules per page, at most 100; the server's default is 20.
    """
    return _run(_list_flow(page, per_page))


async def list_async(
    page: int | None = None, per_page: int | None = None
) -> SchedulePage:
    """Like ``list``, without blocking the event loop."""
    return await _run_async(_list_flow(page, per_page))


def retrieve(schedule_id: str) -> Schedule:
    """Fetch a schedule by its id or its deduplication key.

    Raises:
        NotFoundError: when the environment has no such schedule.
    """
    return _run(_schedule_flow("GET", schedule_id))


async def retrieve_async(schedule_id: str) -> Schedule:
    """Like ``retrieve``, without blocking the event loop."""
    return await _run_async(_schedule_flow("GET", schedule_id))


def update(
    schedule_id: str,
    *,
    task: str,
    cron: str,
    timezone: str | None = None,
    external_id: str | None = None,
) -> Schedule:
    """Replace an imperative schedule's task, cron, time zone and external id.

    Args:
        schedule_id: The schedule's id or deduplication key.
        task: The id of a task declared with ``@schedules.task``.
        cron: A five-field cron expression.
        timezone: The IANA zone; UTC if None.
        external_id: Your own id; None removes it.

    Raises:
        NotFoundError: when the environment has no such schedule.
        UnprocessableEntityError: for a declarative schedule (change its code
            instead), an invalid cron or zone, or a task that is not scheduled.
    """
    return _run(_update_flow(schedule_id, task, cron, timezone, external_id))


async def update_async(
    schedule_id: str,
    *,
    task: str,
    cron: str,
    timezone: str | None = None,
    external_id: str | None = None,
) -> Schedule:
    """Like ``update``, without blocking the event loop."""
    return await _run_async(
        _update_flow(schedule_id, task, cron, timezone, external_id)
    )


def delete(schedule_id: str) -> str:
    """Delete an imperative schedule; its past runs are kept.

    Returns:
        The deleted schedule's id.

    Raises:
        NotFoundError: when the environment has no such schedule.
        UnprocessableEntityError: for a declarative schedule.
    """
    return _run(_delete_flow(schedule_id))


async def delete_async(schedule_id: str) -> str:
    """Like ``delete``, without blocking the event loop."""
    return await _run_async(_delete_flow(schedule_id))


def activate(schedule_id: str) -> Schedule:
    """Let a deactivated schedule fire again, from its next tick on (no catch-up)."""
    return _run(_schedule_flow("POST", schedule_id, "/activate"))


async def activate_async(schedule_id: str) -> Schedule:
    """Like ``activate``, without blocking the event loop."""
    return await _run_async(_schedule_flow("POST", schedule_id, "/activate"))


def deactivate(schedule_id: str) -> Schedule:
    """Stop a schedule from firing until it is activated again."""
    return _run(_schedule_flow("POST", schedule_id, "/deactivate"))


async def deactivate_async(schedule_id: str) -> Schedule:
    """Like ``deactivate``, without blocking the event loop."""
    return await _run_async(_schedule_flow("POST", schedule_id, "/deactivate"))


def timezones(exclude_utc: bool = False) -> builtins.list[str]:
    """The IANA time zone names a schedule accepts, UTC first unless excluded."""
    return _run(_timezones_flow(exclude_utc))


async def timezones_async(exclude_utc: bool = False) -> builtins.list[str]:
    """Like ``timezones``, without blocking the event loop."""
    return await _run_async(_timezones_flow(exclude_utc))


def _definition(
    task: str, cron: str, timezone: str | None, external_id: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"task": task, "cron": cron}
    if timezone is not None:
        body["timezone"] = timezone
    if external_id is not None:
        body["externalId"] = external_id
    return body


def _create_flow(
    task: str,
    cron: str,
    deduplication_key: str,
    timezone: str | None,
    external_id: str | None,
) -> _Flow[Schedule]:
    body = _definition(task, cron, timezone, external_id)
    body["deduplicationKey"] = deduplication_key
    response: ApiResponse = yield ApiRequest("POST", PATH, json=body)
    return Schedule.from_wire(response.data)


def _update_flow(
    schedule_id: str,
    task: str,
    cron: str,
    timezone: str | None,
    external_id: str | None,
) -> _Flow[Schedule]:
    body = _definition(task, cron, timezone, external_id)
    path = f"{PATH}/{_segment(schedule_id)}"
    response: ApiResponse = yield ApiRequest("PUT", path, json=body)
    return Schedule.from_wire(response.data)


def _schedule_flow(method: str, schedule_id: str, action: str = "") -> _Flow[Schedule]:
    path = f"{PATH}/{_segment(schedule_id)}{action}"
    response: ApiResponse = yield ApiRequest(method, path)
    return Schedule.from_wire(response.data)


def _delete_flow(schedule_id: str) -> _Flow[str]:
    path = f"{PATH}/{_segment(schedule_id)}"
    response: ApiResponse = yield ApiRequest("DELETE", path)
    return str(response.data["id"])


def _list_flow(page: int | None, per_page: int | None) -> _Flow[SchedulePage]:
    params = {}
    if page is not None:
        params["page"] = str(page)
    if per_page is not None:
        params["perPage"] = str(per_page)
    response: ApiResponse = yield ApiRequest("GET", PATH, params=params)

    pagination = response.data.get("pagination", {})
    return SchedulePage(
        schedules=[Schedule.from_wire(item) for item in response.data["data"]],
        current_page=int(pagination.get("currentPage", 1)),
        total_pages=int(pagination.get("totalPages", 0)),
        count=int(pagination.get("count", 0)),
    )


def _timezones_flow(exclude_utc: bool) -> _Flow[builtins.list[str]]:
    params = {"excludeUtc": "true"} if exclude_utc else None
    response: ApiResponse = yield ApiRequest("GET", "/api/v1/timezones", params=params)
    return [str(name) for name in response.data["timezones"]]


def _with_schedule_payload(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a task function so that it receives a ``ScheduledTaskPayload``."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(payload: Any, *rest: Any) -> Any:
            return await func(_schedule_payload(payload), *rest)

        return run_async

    @functools.wraps(func)
    def run(payload: Any, *rest: Any) -> Any:
        return func(_schedule_payload(payload), *rest)

    return run


def _schedule_payload(payload: Any) -> ScheduledTaskPayload:
    if isinstance(payload, ScheduledTaskPayload):
        return payload
    if isinstance(payload, Mapping) and {"scheduleId", "type", "timestamp"} <= set(
        payload
    ):
        return ScheduledTaskPayload.from_wire(payload)
    raise TypeError(
        "A scheduled task receives a schedule payload (scheduleId, type, timestamp, "
        f"…); got {payload!r:.80}"
    )


def _checked_cron(cron: str) -> str:
    fields = cron.split()
    if len(fields) in (6, 7):
        raise ValueError(f"CRON expressions with seconds are not allowed: {cron!r}")
    if len(fields) != 5:
        raise ValueError(
            f"Invalid cron expression {cron!r}: it needs five fields "
            "(minute, hour, day of month, month, day of week)"
        )
    return " ".join(fields)


def _checked_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Paris'"
        ) from exc
    return name


def _checked_environments(kinds: Collection[str] | None) -> frozenset[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = [kinds]
    chosen = frozenset(kind.upper() for kind in kinds)
    unknown = chosen - ENVIRONMENT_KINDS
    if unknown or not chosen:
        raise ValueError(
            f"environments must name some of {', '.join(sorted(ENVIRONMENT_KINDS))}; "
            f"got {sorted(kinds)!r}"
        )
    return chosen
