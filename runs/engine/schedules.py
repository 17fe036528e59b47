"""Cron schedules: validation, fire times, registration, and firing due ticks.

A schedule keeps the next tick it will fire in `next_run_at`. Beat calls
`fire_due_schedules()` on every tick, and each due schedule fires in a
transaction of its own:

1. its row is locked with SKIP LOCKED, so a second beat moves on;
2. a ScheduleFire row is inserted for the tick; the unique (schedule,
   scheduled_for) pair means a tick fires at most once, whatever the beats do;
3. the run is triggered with the schedule payload;
4. `next_run_at` moves to the first tick after now, so a beat that was down
   for several ticks fires one catch-up run, not one per missed tick.

A tick that fires MISSED_AFTER_SECONDS or more after its time was missed (beat
was down or behind): the catch-up fire raises the `schedule.missed` alert,
which the alerts app holds to one per task per interval.

Fire times come from croniter, evaluated in the schedule's IANA zone; around
daylight-saving changes they follow croniter: a local time that does not exist
fires at the first instant after the gap, and one that happens twice fires
twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from cron_descriptor import (
    FormatError,
    MissingFieldError,
    WrongArgumentError,
    get_description,
)
from croniter import CroniterBadDateError, CroniterError, croniter
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts.hooks import schedule_missed as alert_schedule_missed
from apikeys.models import Environment
from runs import packets
from runs.engine.errors import NotFoundError, UnprocessableError
from runs.engine.spec import TriggerSpec
from runs.engine.trigger import trigger_run
from runs.models import Run, Schedule, ScheduleFire, ScheduleType, Task

logger = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "UTC"
UPCOMING_COUNT = 5
# Due schedules fired per beat tick; the rest fire on the next tick.
FIRE_BATCH_SIZE = 500
# A tick still unfired this long after its time is missed: beat was down or behind.
MISSED_AFTER_SECONDS = 60
# First key of the advisory lock that serialises declarative syncs per environment.
SCHEDULE_SYNC_LOCK_CLASS = 7302
# A unique-index race on a deduplication key is retried this many times.
DEDUPLICATION_RACE_RETRIES = 5
CRON_FIELDS = "minute, hour, day of month, month, day of week"
# Names zoneinfo lists that are not zones a schedule should run in.
NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})
# The areas of canonical zone names, as Intl.supportedValuesOf("timeZone") lists them.
ZONE_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)

FIRE_SQL = """
INSERT INTO runs_schedulefire (schedule_id, scheduled_for, created_at)
VALUES (%s, %s, %s)
ON CONFLICT (schedule_id, scheduled_for) DO NOTHING
RETURNING id
"""


class DeduplicationKeyTakenError(UnprocessableError):
    """A create named a deduplication key that another schedule holds."""


@dataclass(frozen=True)
class DeclaredSchedule:
    """A task declared with @schedules.task, with its cron if it declares one."""

    task_identifier: str
    cron: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    # Environment kinds the cron applies to; None means every environment.
    environments: frozenset[str] | None = None

    def applies_to(self, environment: Environment) -> bool:
        if self.cron is None:
            return False
        return self.environments is None or environment.kind in self.environments


# Validation


def check_cron(expression: str) -> str:
    """Return the expression with single spaces, or refuse it with a clear message."""
    fields = expression.split()
    if len(fields) in (6, 7):
        raise UnprocessableError("CRON expressions with seconds are not allowed")
    if len(fields) != 5:
        raise UnprocessableError(
            f"Invalid cron expression {expression!r}: it needs five fields "
            f"({CRON_FIELDS})"
        )

    normalised = " ".join(fields)
    try:
        croniter(normalised, timezone.now()).get_next(datetime)
    except CroniterBadDateError as exc:
        raise UnprocessableError(
            f"Invalid cron expression {expression!r}: it never fires"
        ) from exc
    except CroniterError as exc:
        raise UnprocessableError(
            f"Invalid cron expression {expression!r}: {exc}"
        ) from exc
    return normalised


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones() - NOT_ZONES)


def check_timezone(name: str) -> str:
    if name not in known_timezones():
        raise UnprocessableError(
            f"Invalid timezone {name!r}: use an IANA time zone such as "
            "'Europe/Paris' (GET /api/v1/timezones lists them)"
        )
    return name


def list_timezones(exclude_utc: bool = False) -> list[str]:
    """UTC, then the canonical IANA zone names in alphabetical order."""
    names = sorted(
        name for name in known_timezones() if name.split("/")[0] in ZONE_AREAS
    )
    return names if exclude_utc else [DEFAULT_TIMEZONE, *names]


def check_scheduled_task(environment: Environment, task_identifier: str) -> None:
    task = Task.objects.filter(environment=environment, slug=task_identifier).first()
    if task is None:
        raise UnprocessableError(
            f"Task {task_identifier!r} not found: no worker has registered it "
            "in this environment"
        )
    if not task.is_scheduled:
        raise UnprocessableError(
            f"Task {task_identifier!r} is not a scheduled task: declare it with "
            "@schedules.task to attach schedules to it"
        )


# Fire times


def next_fire_times(
    cron: str, timezone_name: str, after: datetime, count: int = 1
) -> list[datetime]:
    """The next `count` ticks strictly after `after`, as UTC datetimes."""
    ticks = croniter(cron, after.astimezone(ZoneInfo(timezone_name)))
    return [ticks.get_next(datetime).astimezone(UTC) for _ in range(count)]


def first_tick_after(schedule: Schedule, now: datetime) -> datetime:
    return next_fire_times(schedule.cron, schedule.timezone, now)[0]


def describe_cron(cron: str) -> str:
    """A human description such as "At 09:00 AM"; the expression itself if none."""
    try:
        return get_description(cron)
    except (FormatError, MissingFieldError, WrongArgumentError, ValueError):
        return cron


def upcoming(schedule: Schedule, now: datetime | None = None) -> list[datetime]:
    """The next five fire times of an active schedule; none for an inactive one."""
    if not schedule.active:
        return []
    return next_fire_times(
        schedule.cron, schedule.timezone, now or timezone.now(), UPCOMING_COUNT
    )


def is_late(tick: datetime, now: datetime) -> bool:
    """Whether a tick fired (or still unfired) at `now` counts as missed."""
    return now - tick >= timedelta(seconds=MISSED_AFTER_SECONDS)


def is_overdue(schedule: Schedule, now: datetime | None = None) -> bool:
    """Whether an active schedule's pending tick should have fired by now."""
    tick = schedule.next_run_at
    return schedule.active and tick is not None and is_late(tick, now or timezone.now())


# Imperative schedules


def find_schedule(environment: Environment, reference: str) -> Schedule:
    """A schedule of the environment by its id or its deduplication key."""
    matches = Schedule.objects.select_related("environment").filter(
        Q(pk=reference) | Q(deduplication_key=reference), environment=environment
    )
    # An id wins over a deduplication key that happens to look the same.
    schedule = sorted(matches, key=lambda match: match.pk != reference)[:1]
    if not schedule:
        raise NotFoundError("Schedule not found")
    return schedule[0]


def list_schedules(
    environment: Environment, page: int, per_page: int
) -> tuple[list[Schedule], int]:
    """One page of the environment's schedules, newest first, and their count."""
    schedules = Schedule.objects.filter(environment=environment)
    count = schedules.count()
    start = (page - 1) * per_page
    rows = schedules.select_related("environment").order_by("-created_at", "-id")
    return list(rows[start : start + per_page]), count


def upsert_schedule(
    environment: Environment,
    *,
    task_identifier: str,
    cron: str,
    deduplication_key: str,
    timezone_name: str | None = None,
    external_id: str | None = None,
) -> Schedule:
    """Create an imperative schedule, or redefine the one holding the key."""
    cron, timezone_name = check_definition(
        environment, task_identifier, cron, timezone_name
    )

    for _ in range(DEDUPLICATION_RACE_RETRIES):
        try:
            with transaction.atomic():
                existing = (
                    Schedule.objects.select_for_update(of=("self",))
                    .select_related("environment")
                    .filter(
                        environment=environment, deduplication_key=deduplication_key
                    )
                    .first()
                )
                if existing is not None:
                    return redefine(
                        existing, task_identifier, cron, timezone_name, external_id
                    )
                return create(
                    environment,
                    task_identifier,
                    cron,
                    timezone_name,
                    external_id,
                    deduplication_key,
                )
        except IntegrityError:
            # Another create with the same key committed first: update that one.
            continue
    raise UnprocessableError("Could not claim the deduplication key; try again")


def create_schedule(
    environment: Environment,
    *,
    task_identifier: str,
    cron: str,
    timezone_name: str | None = None,
    external_id: str | None = None,
    deduplication_key: str | None = None,
) -> Schedule:
    """Create an imperative schedule; refuse a deduplication key already in use.

    Unlike `upsert_schedule`, a key naming another schedule is an error, not a
    redefinition of that schedule: a form that creates must not edit.
    """
    cron, timezone_name = check_definition(
        environment, task_identifier, cron, timezone_name
    )
    try:
        with transaction.atomic():
            return create(
                environment,
                task_identifier,
                cron,
                timezone_name,
                external_id,
                deduplication_key,
            )
    except IntegrityError as exc:
        raise DeduplicationKeyTakenError(
            f"Deduplication key {deduplication_key!r} already names a schedule "
            "of this environment"
        ) from exc


def update_schedule(
    schedule: Schedule,
    *,
    task_identifier: str,
    cron: str,
    timezone_name: str | None = None,
    external_id: str | None = None,
) -> Schedule:
    """Replace an imperative schedule's task, cron, zone (UTC if none) and external id."""
    refuse_declarative(schedule, "update")
    environment = schedule.environment
    cron, timezone_name = check_definition(
        environment, task_identifier, cron, timezone_name
    )
    with transaction.atomic():
        locked = Schedule.objects.select_for_update(of=("self",)).filter(pk=schedule.pk)
        current = locked.select_related("environment").first()
        if current is None:
            raise NotFoundError("Schedule not found")
        return redefine(current, task_identifier, cron, timezone_name, external_id)


def delete_schedule(schedule: Schedule) -> None:
    """Delete an imperative schedule; its past runs stay, without the link."""
    refuse_declarative(schedule, "delete")
    Schedule.objects.filter(pk=schedule.pk).delete()


def set_schedule_active(schedule: Schedule, active: bool) -> Schedule:
    """Activate (next tick after now, no catch-up) or deactivate a schedule."""
    now = timezone.now()
    with transaction.atomic():
        current = (
            Schedule.objects.select_for_update(of=("self",))
            .select_related("environment")
            .filter(pk=schedule.pk)
            .first()
        )
        if current is None:
            raise NotFoundError("Schedule not found")
        if current.active == active:
            return current

        current.active = active
        current.next_run_at = first_tick_after(current, now) if active else None
        current.updated_at = now
        current.save(update_fields=["active", "next_run_at", "updated_at"])
        return current


def check_definition(
    environment: Environment, task_identifier: str, cron: str, timezone_name: str | None
) -> tuple[str, str]:
    cron = check_cron(cron)
    timezone_name = check_timezone(timezone_name or DEFAULT_TIMEZONE)
    check_scheduled_task(environment, task_identifier)
    return cron, timezone_name


def refuse_declarative(schedule: Schedule, action: str) -> None:
    if schedule.type == ScheduleType.DECLARATIVE:
        raise UnprocessableError(
            f"Cannot {action} a declarative schedule: change the cron of "
            f"@schedules.task {schedule.task_identifier!r} in the code instead"
        )


def create(
    environment: Environment,
    task_identifier: str,
    cron: str,
    timezone_name: str,
    external_id: str | None = None,
    deduplication_key: str | None = None,
    kind: ScheduleType = ScheduleType.IMPERATIVE,
) -> Schedule:
    now = timezone.now()
    schedule = Schedule(
        environment=environment,
        task_identifier=task_identifier,
        type=kind,
        cron=cron,
        timezone=timezone_name,
        deduplication_key=deduplication_key,
        external_id=external_id,
        created_at=now,
        updated_at=now,
    )
    schedule.next_run_at = first_tick_after(schedule, now)
    schedule.save(force_insert=True)
    return schedule


def redefine(
    schedule: Schedule,
    task_identifier: str,
    cron: str,
    timezone_name: str,
    external_id: str | None,
) -> Schedule:
    """Save a new definition; the pending tick moves only if the timing changed."""
    refuse_declarative(schedule, "update")
    now = timezone.now()
    retimed = (schedule.cron, schedule.timezone) != (cron, timezone_name)
    schedule.task_identifier = task_identifier
    schedule.cron = cron
    schedule.timezone = timezone_name
    schedule.external_id = external_id
    schedule.updated_at = now
    if schedule.active and (retimed or schedule.next_run_at is None):
        schedule.next_run_at = first_tick_after(schedule, now)
    schedule.save()
    return schedule


# Declarative schedules


def register_declared_schedules(
    declared: Iterable[DeclaredSchedule], environments: list[Environment] | None = None
) -> None:
    """Mark scheduled tasks and sync declarative schedules in every environment.

    The declarations are the whole truth for the environments given: tasks not
    declared with @schedules.task lose the mark, and declarative schedules the
    code no longer declares are deleted. A schedule deactivated by a user stays
    inactive.
    """
    declared = [declaration for declaration in declared if usable(declaration)]
    if environments is None:
        environments = list(Environment.objects.order_by("pk"))
    for environment in environments:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    [SCHEDULE_SYNC_LOCK_CLASS, environment.pk],
                )
            mark_scheduled_tasks(environment, {d.task_identifier for d in declared})
            sync_declarative(
                environment, [d for d in declared if d.applies_to(environment)]
            )


def usable(declaration: DeclaredSchedule) -> bool:
    """Check a declared cron and zone; log and skip one the engine refuses."""
    if declaration.cron is None:
        return True
    try:
        check_cron(declaration.cron)
        check_timezone(declaration.timezone)
    except UnprocessableError as exc:
        logger.error(
            "declarative schedule of %s refused: %s",
            declaration.task_identifier,
            exc,
            extra={"action": "schedule_refused", "task": declaration.task_identifier},
        )
        return False
    return True


def mark_scheduled_tasks(environment: Environment, slugs: set[str]) -> None:
    tasks = Task.objects.filter(environment=environment)
    tasks.filter(slug__in=slugs, is_scheduled=False).update(is_scheduled=True)
    tasks.filter(is_scheduled=True).exclude(slug__in=slugs).update(is_scheduled=False)


def sync_declarative(
    environment: Environment, declared: list[DeclaredSchedule]
) -> None:
    """Create, retime or delete the environment's declarative schedules."""
    existing: dict[str, Schedule] = {}
    stale: list[str] = []
    rows = Schedule.objects.filter(
        environment=environment, type=ScheduleType.DECLARATIVE
    )
    for schedule in rows.order_by("created_at"):
        if schedule.task_identifier in existing:
            stale.append(schedule.pk)
        else:
            existing[schedule.task_identifier] = schedule

    for declaration in declared:
        cron = check_cron(declaration.cron or "")
        schedule = existing.pop(declaration.task_identifier, None)
        if schedule is None:
            create(
                environment,
                declaration.task_identifier,
                cron,
                declaration.timezone,
                kind=ScheduleType.DECLARATIVE,
            )
        elif (schedule.cron, schedule.timezone) != (cron, declaration.timezone):
            retime(schedule, cron, declaration.timezone)

    stale.extend(schedule.pk for schedule in existing.values())
    if stale:
        Schedule.objects.filter(pk__in=stale).delete()
        logger.info(
            "deleted %d declarative schedules no longer declared",
            len(stale),
            extra={"action": "schedules_deleted", "environment_id": environment.pk},
        )


def copy_declarative_schedules(environment: Environment) -> int:
    """Give a new environment the declarative schedules its kind already has.

    Declarations live in the workers' code, and workers sync them into every
    environment when they start. Another environment of the same kind holds
    what the code declares for that kind (the declared environment kinds are
    not stored), so its declarative schedules are copied: a project created
    while workers run then fires its crons without waiting for a worker
    restart. Only missing schedules are added; return how many.

    With no other environment of the kind there is nothing to copy from, and
    the schedules arrive at the next worker start, as they do when a worker
    syncing at the same moment had not committed yet.
    """
    declared: dict[str, Schedule] = {}
    sources = Schedule.objects.filter(
        type=ScheduleType.DECLARATIVE, environment__kind=environment.kind
    ).exclude(environment=environment)
    for schedule in sources.order_by("updated_at", "id"):
        declared[schedule.task_identifier] = schedule

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [SCHEDULE_SYNC_LOCK_CLASS, environment.pk],
            )
        present = set(
            Schedule.objects.filter(
                environment=environment, type=ScheduleType.DECLARATIVE
            ).values_list("task_identifier", flat=True)
        )
        missing = [source for slug, source in declared.items() if slug not in present]
        for source in missing:
            create(
                environment,
                source.task_identifier,
                source.cron,
                source.timezone,
                kind=ScheduleType.DECLARATIVE,
            )
    return len(missing)


def retime(schedule: Schedule, cron: str, timezone_name: str) -> None:
    now = timezone.now()
    schedule.cron = cron
    schedule.timezone = timezone_name
    schedule.updated_at = now
    if schedule.active:
        schedule.next_run_at = first_tick_after(schedule, now)
    schedule.save(update_fields=["cron", "timezone", "next_run_at", "updated_at"])


# Firing


def fire_due_schedules(now: datetime | None = None) -> int:
    """Fire every active schedule whose next tick is due; return how many fired."""
    now = now or timezone.now()
    due = list(due_schedules(now).values_list("pk", flat=True))
    fired = 0
    for schedule_id in due:
        try:
            fired += fire_schedule(schedule_id, now)
        except Exception:
            # One broken schedule must not stop the others; it stays due and is
            # tried again on the next beat tick.
            logger.exception(
                "schedule fire failed",
                extra={"action": "schedule_fire_failed", "schedule_id": schedule_id},
            )
    return fired


def next_fire_at() -> datetime | None:
    """When the next active schedule is due, if there is one."""
    return active_ticks().values_list("next_run_at", flat=True).first()


def due_schedules(now: datetime) -> QuerySet[Schedule]:
    """The schedules to fire at `now`, oldest tick first, one batch of them."""
    return active_ticks().filter(next_run_at__lte=now)[:FIRE_BATCH_SIZE]


def active_ticks() -> QuerySet[Schedule]:
    """Active schedules in the order of their next ticks (the schedule_due index)."""
    return Schedule.objects.filter(active=True, next_run_at__isnull=False).order_by(
        "next_run_at"
    )


def fire_schedule(schedule_id: str, now: datetime) -> bool:
    """Fire a due schedule's pending tick unless another beat did; move it on."""
    with transaction.atomic():
        schedule = (
            Schedule.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("environment")
            .filter(pk=schedule_id, active=True, next_run_at__lte=now)
            .first()
        )
        if schedule is None:
            return False

        tick = schedule.next_run_at
        assert tick is not None  # the filter above
        following = next_fire_times(
            schedule.cron, schedule.timezone, now, UPCOMING_COUNT
        )
        fire_id = claim_tick(schedule.pk, tick, now)
        if fire_id is not None:
            run = trigger_scheduled_run(schedule, tick, following)
            ScheduleFire.objects.filter(pk=fire_id).update(run=run)
            schedule.last_run_at = tick
            logger.info(
                "schedule fired",
                extra={
                    "action": "schedule_fired",
                    "schedule_id": schedule.pk,
                    "run_id": run.pk,
                },
            )
            if is_late(tick, now):
                report_missed(schedule, tick)
        schedule.next_run_at = following[0]
        schedule.save(update_fields=["next_run_at", "last_run_at"])
        return fire_id is not None


def report_missed(schedule: Schedule, tick: datetime) -> None:
    """Log and alert (after the commit) that the tick fired as a late catch-up."""
    logger.warning(
        "schedule missed its time",
        extra={
            "action": "schedule_missed",
            "schedule_id": schedule.pk,
            "task": schedule.task_identifier,
        },
    )
    alert_schedule_missed(
        schedule.environment_id, schedule.task_identifier, schedule.pk, tick
    )


def claim_tick(schedule_id: str, tick: datetime, now: datetime) -> int | None:
    """Record the fire of a tick; None if it was already recorded."""
    with connection.cursor() as cursor:
        cursor.execute(FIRE_SQL, [schedule_id, tick, now])
        row = cursor.fetchone()
    return None if row is None else row[0]


def trigger_scheduled_run(
    schedule: Schedule, tick: datetime, following: list[datetime]
) -> Run:
    payload = schedule_payload(schedule, tick, following)
    spec = TriggerSpec(payload=packets.encode_json(payload), payload_type=packets.JSON)
    run = trigger_run(schedule.environment, schedule.task_identifier, spec).run
    Run.objects.filter(pk=run.pk).update(schedule=schedule)
    run.schedule = schedule
    return run


def schedule_payload(
    schedule: Schedule, tick: datetime, following: list[datetime]
) -> dict[str, object]:
    """What the task receives: API.md §2.12's scheduled task payload."""
    payload: dict[str, object] = {
        "scheduleId": schedule.pk,
        "type": schedule.type,
        "timestamp": iso(tick),
    }
    if schedule.last_run_at is not None:
        payload["lastTimestamp"] = iso(schedule.last_run_at)
    if schedule.external_id:
        payload["externalId"] = schedule.external_id
    payload["timezone"] = schedule.timezone
    payload["upcoming"] = [iso(moment) for moment in following]
    return payload


def iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
