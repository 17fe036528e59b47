"""Schedules: the list, one schedule with its next fires and runs, and their actions.

Times of a schedule are shown in the schedule's own zone (the zone its cron is
read in), with UTC on hover; mixing them with the viewer's zone confuses.
Definitions are checked by the engine's own functions, so a form refuses
exactly what the API refuses, with the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apikeys.models import Environment
from dashboard.access import environment_for
from dashboard.pages import env_url, render_page, short_link
from runs.engine import EngineError, NotFoundError, schedules
from runs.models import Run, Schedule, ScheduleType, Task

PAGE_SIZE = 50
RECENT_RUNS = 10
TIME_FORMAT = "%a %d %b %Y, %H:%M %Z"
UTC_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
# The longest values the schedules API accepts (runs/api/schedules.py).
MAX_CHARS = {
    "task": 128,
    "cron": 100,
    "timezone": 64,
    "external_id": 200,
    "deduplication_key": 200,
}
LABELS = {
    "task": "Task",
    "cron": "Cron",
    "timezone": "Time zone",
    "external_id": "External id",
    "deduplication_key": "Deduplication key",
}


@dataclass(frozen=True)
class ZonedTime:
    """A moment as the schedule's zone reads it, with UTC for the title."""

    iso: str
    text: str
    utc: str


@dataclass
class ScheduleRow:
    schedule: Schedule
    description: str
    upcoming: list[ZonedTime]
    last_run: Run | None
    overdue: bool
    overdue_since: ZonedTime | None


@dataclass
class ScheduleForm:
    """The fields of the create and edit forms, and what is wrong with them."""

    task: str = ""
    cron: str = ""
    timezone: str = schedules.DEFAULT_TIMEZONE
    external_id: str = ""
    deduplication_key: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_post(cls, data: QueryDict) -> ScheduleForm:
        return cls(
            task=data.get("task", "").strip(),
            cron=data.get("cron", "").strip(),
            timezone=data.get("timezone", "").strip() or schedules.DEFAULT_TIMEZONE,
            external_id=data.get("external_id", "").strip(),
            deduplication_key=data.get("deduplication_key", "").strip(),
        )

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleForm:
        return cls(
            task=schedule.task_identifier,
            cron=schedule.cron,
            timezone=schedule.timezone,
            external_id=schedule.external_id or "",
            deduplication_key=schedule.deduplication_key or "",
        )

    def check(self, environment: Environment) -> bool:
        """Collect every field's error with the engine's checks; True if none."""
        for name, limit in MAX_CHARS.items():
            if len(getattr(self, name)) > limit:
                self.errors[name] = f"{LABELS[name]}: at most {limit} characters."
        if not self.task:
            self.errors.setdefault("task", "Pick the scheduled task to run.")
        checks: list[tuple[str, Callable[[], object]]] = [
            ("cron", lambda: schedules.check_cron(self.cron)),
            ("timezone", lambda: schedules.check_timezone(self.timezone)),
            ("task", lambda: schedules.check_scheduled_task(environment, self.task)),
        ]
        for name, run_check in checks:
            if name in self.errors:
                continue
            try:
                run_check()
            except EngineError as exc:
                self.errors[name] = str(exc)
        return not self.errors

    def refuse(self, exc: EngineError) -> None:
        """File an error the engine raised while saving under its field."""
        taken = isinstance(exc, schedules.DeduplicationKeyTakenError)
        self.errors["deduplication_key" if taken else "form"] = str(exc)


def zoned(moment: datetime, zone: str) -> ZonedTime:
    utc = moment.astimezone(UTC)
    return ZonedTime(
        iso=schedules.iso(utc),
        text=moment.astimezone(ZoneInfo(zone)).strftime(TIME_FORMAT),
        utc=utc.strftime(UTC_FORMAT),
    )


def rows_of(found: list[Schedule], now: datetime) -> list[ScheduleRow]:
    """The list's rows: next fires, last run and overdue flag of each schedule.

    `found` carries `newest_run_id` (see with_newest_run); the runs come in one
    query for the whole page.
    """
    newest = {
        schedule.pk: getattr(schedule, "newest_run_id", None) for schedule in found
    }
    runs = Run.objects.filter(pk__in=[pk for pk in newest.values() if pk]).only(
        "id", "status", "created_at"
    )
    by_id = {run.pk: run for run in runs}
    return [row_of(s, by_id.get(newest[s.pk] or ""), now) for s in found]


def row_of(schedule: Schedule, last_run: Run | None, now: datetime) -> ScheduleRow:
    overdue = schedules.is_overdue(schedule, now)
    return ScheduleRow(
        schedule=schedule,
        description=schedules.describe_cron(schedule.cron),
        upcoming=[
            zoned(moment, schedule.timezone)
            for moment in schedules.upcoming(schedule, now)
        ],
        last_run=last_run,
        overdue=overdue,
        overdue_since=zoned(schedule.next_run_at, schedule.timezone)
        if overdue and schedule.next_run_at
        else None,
    )


def with_newest_run(schedules_found: QuerySet[Schedule]) -> QuerySet[Schedule]:
    """Annotate each schedule with its newest run's id (the run_schedule index)."""
    newest = Run.objects.filter(schedule=OuterRef("pk")).order_by("-id")
    return schedules_found.annotate(newest_run_id=Subquery(newest.values("id")[:1]))


def get_schedule(environment: Environment, schedule_id: str) -> Schedule:
    schedule = (
        Schedule.objects.select_related("environment__project")
        .filter(pk=schedule_id, environment=environment)
        .first()
    )
    if schedule is None:
        raise Http404("No such schedule")
    return schedule


def scheduled_tasks(environment: Environment) -> list[str]:
    tasks = Task.objects.filter(environment=environment, is_scheduled=True)
    return list(tasks.order_by("slug").values_list("slug", flat=True))


def list_response(
    request: HttpRequest,
    environment: Environment,
    form: ScheduleForm | None = None,
) -> HttpResponse:
    found = Schedule.objects.filter(environment=environment)
    after = request.GET.get("after", "")
    cursor = found.filter(pk=after).only("created_at").first() if after else None
    if cursor is not None:
        found = found.filter(
            Q(created_at__lt=cursor.created_at)
            | Q(created_at=cursor.created_at, pk__lt=cursor.pk)
        )
    page = list(with_newest_run(found).order_by("-created_at", "-id")[: PAGE_SIZE + 1])

    rows = rows_of(page[:PAGE_SIZE], timezone.now())
    context = {
        "rows": rows,
        "overdue_count": sum(row.overdue for row in rows),
        "older": page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else "",
        "paged": bool(after),
        "form": form or ScheduleForm(),
        "tasks": scheduled_tasks(environment),
        "timezones": schedules.list_timezones(),
        "limits": MAX_CHARS,
    }
    status = 400 if form and form.errors else 200
    return render_page(
        request, "dashboard/schedules.html", environment, context, status=status
    )


def detail_response(
    request: HttpRequest,
    environment: Environment,
    schedule: Schedule,
    form: ScheduleForm | None = None,
) -> HttpResponse:
    runs = list(
        Run.objects.filter(schedule=schedule)
        .only("id", "status", "created_at", "started_at", "finished_at", "is_test")
        .order_by("-id")[:RECENT_RUNS]
    )
    context = {
        "schedule": schedule,
        "row": row_of(schedule, runs[0] if runs else None, timezone.now()),
        "runs": runs,
        "form": form or ScheduleForm.of(schedule),
        "tasks": scheduled_tasks(environment),
        "timezones": schedules.list_timezones(),
        "limits": MAX_CHARS,
        "declarative": schedule.type == ScheduleType.DECLARATIVE,
        "last_fire": zoned(schedule.last_run_at, schedule.timezone)
        if schedule.last_run_at
        else None,
    }
    status = 400 if form and form.errors else 200
    return render_page(
        request,
        "dashboard/schedule.html",
        environment,
        context,
        fragment="state",
        status=status,
    )


@login_required
@require_GET
def schedules_page(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    return list_response(request, environment)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_create(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    if request.method == "GET":
        return redirect(env_url("schedules", environment))

    form = ScheduleForm.from_post(request.POST)
    if not form.check(environment):
        return list_response(request, environment, form)
    try:
        schedule = schedules.create_schedule(
            environment,
            task_identifier=form.task,
            cron=form.cron,
            timezone_name=form.timezone,
            external_id=form.external_id or None,
            deduplication_key=form.deduplication_key or None,
        )
    except EngineError as exc:
        form.refuse(exc)
        return list_response(request, environment, form)
    messages.success(request, f"Created schedule {schedule.pk}.")
    return redirect(env_url("schedule", environment, schedule.pk))


@login_required
@require_GET
def schedule_page(
    request: HttpRequest, project: str, env: str, schedule_id: str
) -> HttpResponse:
    environment = environment_for(request, project, env)
    return detail_response(request, environment, get_schedule(environment, schedule_id))


@login_required
@require_http_methods(["GET", "POST"])
def schedule_edit(
    request: HttpRequest, project: str, env: str, schedule_id: str
) -> HttpResponse:
    environment = environment_for(request, project, env)
    schedule = get_schedule(environment, schedule_id)
    if request.method == "GET":
        return redirect(env_url("schedule", environment, schedule.pk))

    form = ScheduleForm.from_post(request.POST)
    form.deduplication_key = schedule.deduplication_key or ""
    try:
        schedules.refuse_declarative(schedule, "update")
    except EngineError as exc:
        form.refuse(exc)
        return detail_response(request, environment, schedule, form)
    if not form.check(environment):
        return detail_response(request, environment, schedule, form)
    try:
        schedules.update_schedule(
            schedule,
            task_identifier=form.task,
            cron=form.cron,
            timezone_name=form.timezone,
            external_id=form.external_id or None,
        )
    except EngineError as exc:
        form.refuse(exc)
        return detail_response(request, environment, schedule, form)
    messages.success(request, "Saved. The next fires follow the new definition.")
    return redirect(env_url("schedule", environment, schedule.pk))


@login_required
@require_POST
def schedule_delete(
    request: HttpRequest, project: str, env: str, schedule_id: str
) -> HttpResponse:
    environment = environment_for(request, project, env)
    schedule = get_schedule(environment, schedule_id)
    try:
        schedules.delete_schedule(schedule)
    except EngineError as exc:
        messages.error(request, str(exc))
        return redirect(env_url("schedule", environment, schedule.pk))
    messages.success(
        request, f"Deleted schedule {schedule.pk}. Its past runs are kept."
    )
    return redirect(env_url("schedules", environment))


@login_required
@require_POST
def schedule_active(
    request: HttpRequest, project: str, env: str, schedule_id: str
) -> HttpResponse:
    """Switch a schedule on or off; htmx gets the switched row or state card back."""
    environment = environment_for(request, project, env)
    schedule = get_schedule(environment, schedule_id)
    active = request.POST.get("active") == "1"
    try:
        schedule = schedules.set_schedule_active(schedule, active)
    except NotFoundError as exc:
        raise Http404("No such schedule") from exc
    from_list = request.POST.get("from") == "list"

    if request.htmx and from_list:
        found = with_newest_run(Schedule.objects.filter(pk=schedule.pk)).get()
        [row] = rows_of([found], timezone.now())
        context: dict[str, Any] = {"row": row}
        return render_page(
            request, "dashboard/schedules.html", environment, context, fragment="row"
        )
    if request.htmx:
        return detail_response(request, environment, schedule)

    words = "is active again from its next tick" if active else "is paused"
    messages.success(request, f"Schedule {schedule.pk} {words}.")
    if from_list:
        return redirect(env_url("schedules", environment))
    return redirect(env_url("schedule", environment, schedule.pk))


@login_required
@require_GET
def schedule_link(request: HttpRequest, schedule_id: str) -> HttpResponse:
    """A short link to a schedule (/schedules/<id>), as alerts print them."""
    return short_link(request, Schedule, schedule_id, "schedule")
