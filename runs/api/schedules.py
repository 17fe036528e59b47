"""Schedule endpoints (API.md §2.12): create (upsert), list, retrieve, update,
delete, activate, deactivate, and the list of time zones.

Bodies are validated here rather than by ninja, because shape errors of the
schedules API answer 400 `{"error": "Invalid request body", "issues": […]}`
(API.md §1.4) where other endpoints answer with `details`. Business rules (cron,
zone, task, declarative schedules) are the engine's 422s.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django.http import HttpRequest, JsonResponse
from ninja import Router
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from runs.api.base import error_response, json_response
from runs.api.schemas import ErrorResponse, IdResponse
from runs.engine import InvalidRequestError, schedules
from runs.models import Schedule

router = Router(tags=["schedules"])

PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100
ERRORS = {
    400: ErrorResponse,
    401: ErrorResponse,
    404: ErrorResponse,
    422: ErrorResponse,
}
Body = TypeVar("Body", bound=BaseModel)


class ScheduleDefinition(BaseModel):
    """The body of PUT /api/v1/schedules/{id}; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    task: str = Field(min_length=1, max_length=128)
    cron: str = Field(min_length=1, max_length=100)
    timezone: str | None = Field(None, max_length=64)
    externalId: str | None = Field(None, max_length=200)
    # Spreading fires over a window is not supported: accepted and ignored.
    window: str | None = None


class CreateScheduleBody(ScheduleDefinition):
    """The body of POST /api/v1/schedules."""

    deduplicationKey: str = Field(min_length=1, max_length=200)


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Document a body that the view validates itself."""
    content = {"application/json": {"schema": model.model_json_schema()}}
    return {"requestBody": {"content": content, "required": True}}


def parse_body(request: HttpRequest, model: type[Body]) -> Body | JsonResponse:
    """The validated body, or the 400 answer for a body that is not one."""
    if not request.body:
        return error_response("Request body is empty", 400)
    try:
        data = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error_response("Invalid JSON", 400)
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        issues = [
            {"code": error["type"], "message": error["msg"], "path": list(error["loc"])}
            for error in exc.errors()
        ]
        return error_response("Invalid request body", 400, issues=issues)


def schedule_object(schedule: Schedule) -> dict[str, Any]:
    """The ScheduleObject of the wire; its nullish fields may be null."""
    environment = schedule.environment
    next_run = schedule.next_run_at and schedules.iso(schedule.next_run_at)
    return {
        "id": schedule.pk,
        "type": schedule.type,
        "task": schedule.task_identifier,
        "active": schedule.active,
        "deduplicationKey": schedule.deduplication_key,
        "externalId": schedule.external_id,
        "generator": {
            "type": "CRON",
            "expression": schedule.cron,
            "description": schedules.describe_cron(schedule.cron),
        },
        "timezone": schedule.timezone,
        "nextRun": next_run if schedule.active else None,
        # Without windows a tick fires at its nominal time.
        "nextRunEffectiveAt": next_run if schedule.active else None,
        "environments": [
            {"id": environment.public_id, "type": environment.kind, "userName": None}
        ],
    }


def whole_number(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidRequestError(
            f"{name} must be a whole number, got {raw!r}"
        ) from exc
    if value < 1:
        raise InvalidRequestError(f"{name} must be at least 1, got {value}")
    return value


@router.post(
    "/v1/schedules",
    response={200: dict, **ERRORS},
    openapi_extra=body_schema(CreateScheduleBody),
)
def create_schedule(request: HttpRequest) -> JsonResponse:
    """Create an imperative schedule, or update the one with this deduplicationKey."""
    body = parse_body(request, CreateScheduleBody)
    if isinstance(body, JsonResponse):
        return body
    schedule = schedules.upsert_schedule(
        request.auth,
        task_identifier=body.task,
        cron=body.cron,
        deduplication_key=body.deduplicationKey,
        timezone_name=body.timezone,
        external_id=body.externalId,
    )
    return json_response(schedule_object(schedule))


@router.get("/v1/schedules", response={200: dict, **ERRORS})
def list_schedules(request: HttpRequest) -> JsonResponse:
    """The environment's schedules, newest first, a page at a time."""
    page = whole_number(request.GET.get("page"), "page", 1)
    per_page = whole_number(request.GET.get("perPage"), "perPage", PER_PAGE_DEFAULT)
    per_page = min(per_page, PER_PAGE_MAX)
    rows, count = schedules.list_schedules(request.auth, page, per_page)
    return json_response(
        {
            "data": [schedule_object(schedule) for schedule in rows],
            "pagination": {
                "currentPage": page,
                "totalPages": -(-count // per_page),
                "count": count,
            },
        }
    )


# These two come before the routes of a bare id: an id may contain slashes.
@router.post(
    "/v1/schedules/{path:schedule_id}/activate", response={200: dict, **ERRORS}
)
def activate_schedule(request: HttpRequest, schedule_id: str) -> JsonResponse:
    """Let the schedule fire again, from its next tick on."""
    schedule = schedules.find_schedule(request.auth, schedule_id)
    return json_response(schedule_object(schedules.set_schedule_active(schedule, True)))


@router.post(
    "/v1/schedules/{path:schedule_id}/deactivate", response={200: dict, **ERRORS}
)
def deactivate_schedule(request: HttpRequest, schedule_id: str) -> JsonResponse:
    """Stop the schedule from firing until it is activated."""
    schedule = schedules.find_schedule(request.auth, schedule_id)
    return json_response(
        schedule_object(schedules.set_schedule_active(schedule, False))
    )


@router.get("/v1/schedules/{path:schedule_id}", response={200: dict, **ERRORS})
def retrieve_schedule(request: HttpRequest, schedule_id: str) -> JsonResponse:
    """A schedule by its id or its deduplication key."""
    return json_response(
        schedule_object(schedules.find_schedule(request.auth, schedule_id))
    )


@router.put(
    "/v1/schedules/{path:schedule_id}",
    response={200: dict, **ERRORS},
    openapi_extra=body_schema(ScheduleDefinition),
)
def update_schedule(request: HttpRequest, schedule_id: str) -> JsonResponse:
    """Replace an imperative schedule's task, cron, time zone and external id."""
    schedule = schedules.find_schedule(request.auth, schedule_id)
    body = parse_body(request, ScheduleDefinition)
    if isinstance(body, JsonResponse):
        return body
    updated = schedules.update_schedule(
        schedule,
        task_identifier=body.task,
        cron=body.cron,
        timezone_name=body.timezone,
        external_id=body.externalId,
    )
    return json_response(schedule_object(updated))


@router.delete("/v1/schedules/{path:schedule_id}", response={200: IdResponse, **ERRORS})
def delete_schedule(request: HttpRequest, schedule_id: str) -> JsonResponse:
    """Delete an imperative schedule; its runs are kept."""
    schedule = schedules.find_schedule(request.auth, schedule_id)
    schedules.delete_schedule(schedule)
    return json_response({"id": schedule.pk})


@router.get("/v1/timezones", auth=None, response={200: dict, **ERRORS})
def list_timezones(request: HttpRequest, excludeUtc: bool = False) -> JsonResponse:
    """The IANA zones a schedule accepts; the only call that needs no key."""
    return json_response(
        {"timezones": schedules.list_timezones(exclude_utc=excludeUtc)}
    )
