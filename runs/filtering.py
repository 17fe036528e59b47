"""Selecting runs by filter[...] parameters: for the API, the dashboard, bulk actions.

The API's list endpoint, the dashboard's runs list (its filters are translated
into these parameters, see dashboard.filters) and bulk actions over filters
all call `matching_runs` or `filter_runs`, so a filter means the same thing
everywhere. Bad values raise InvalidRequestError, which the API answers 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db.models import Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apikeys.models import Environment
from runs.durations import parse_date, parse_duration
from runs.engine.errors import InvalidRequestError
from runs.ids import ALPHABET, new_id
from runs.models import Run, RunStatus
from runs.packets import STORE

# Public names a list filter accepts (both vocabularies) -> internal statuses.
STATUS_FILTERS: dict[str, list[str]] = {
    **{status.value: [status.value] for status in RunStatus},
    "EXECUTING": [RunStatus.EXECUTING, RunStatus.RETRYING],
    "REATTEMPTING": [RunStatus.RETRYING],
    "FROZEN": [RunStatus.WAITING],
    "WAITING_FOR_DEPLOY": [RunStatus.PENDING_VERSION],
    "INTERRUPTED": [RunStatus.FAILED],
}
STATUS_FILTERS.pop("RETRYING")

# A run id, as pagination cursors carry it.
CURSOR_PATTERN = re.compile(rf"^run_[{ALPHABET}]{{26}}$")

# A run's id is minted a moment after its created_at is read; bounds on ids
# derived from times are widened by this much so that they never cut a run off.
ID_TIME_SLACK = timedelta(minutes=1)

# Searching inside payloads and outputs can use no index: it reads the runs
# themselves, so it reads at most this many, the newest matching the other filters.
SEARCH_SCAN_LIMIT_RUNS = 100_000

# The API's own filters, which the dashboard and bulk actions pass through.
API_FILTERS = (
    "filter[status]",
    "filter[taskIdentifier]",
    "filter[tag]",
    "filter[batch]",
    "filter[queue]",
    "filter[isTest]",
    "filter[createdAt][period]",
    "filter[createdAt][from]",
    "filter[createdAt][to]",
)


def split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def filter_runs(runs: QuerySet[Run], params) -> QuerySet[Run]:
    """Apply the API's filter[...] query parameters; unknown values raise."""
    statuses = split(params.get("filter[status]"))
    if statuses:
        unknown = [status for status in statuses if status not in STATUS_FILTERS]
        if unknown:
            raise InvalidRequestError(
                f"Invalid filter[status] value {unknown[0]!r}; valid values are "
                + ", ".join(sorted(STATUS_FILTERS))
            )
        runs = runs.filter(
            status__in={s for name in statuses for s in STATUS_FILTERS[name]}
        )
    if tasks := split(params.get("filter[taskIdentifier]")):
        runs = runs.filter(task_identifier__in=tasks)
    if tags := split(params.get("filter[tag]")):
        runs = runs.filter(tags__overlap=tags)
    if batches := split(params.get("filter[batch]")):
        runs = runs.filter(batch_id__in=batches)
    if queues := split(params.get("filter[queue]")):
        runs = runs.filter(queue__name__in=queues)
    if schedules := split(params.get("filter[schedule]")):
        runs = runs.filter(schedule_id__in=schedules)
    if "filter[bulkAction]" in params:
        runs = runs.none()  # Bulk actions create no runs yet.
    if (is_test := params.get("filter[isTest]")) is not None:
        if is_test not in ("true", "false"):
            raise InvalidRequestError("filter[isTest] must be true or false")
        runs = runs.filter(is_test=is_test == "true")
    for name in ("machine", "region"):
        if values := split(params.get(f"filter[{name}]")):
            runs = runs.filter(**{f"extra_options__{name}__in": values})
    return filter_created(runs, params)


def filter_created(runs: QuerySet[Run], params) -> QuerySet[Run]:
    if period := params.get("filter[createdAt][period]"):
        duration = parse_duration(period)
        if duration is None:
            raise InvalidRequestError(f"Invalid filter[createdAt][period] {period!r}")
        runs = runs.filter(created_at__gte=timezone.now() - duration)
    if start := params.get("filter[createdAt][from]"):
        runs = runs.filter(created_at__gte=parse_instant(start, "from"))
    if end := params.get("filter[createdAt][to]"):
        runs = runs.filter(created_at__lte=parse_instant(end, "to"))
    return runs


def parse_instant(raw: str, name: str) -> datetime:
    """Epoch milliseconds (what the SDK sends for a Date) or an ISO date."""
    if raw.isdigit():
        try:
            return datetime.fromtimestamp(int(raw) / 1000, tz=dt_timezone.utc)
        except (OverflowError, ValueError, OSError) as exc:
            raise InvalidRequestError(
                f"Invalid filter[createdAt][{name}] {raw!r}"
            ) from exc
    parsed = parse_date(raw)
    if parsed is None:
        raise InvalidRequestError(f"Invalid filter[createdAt][{name}] {raw!r}")
    return parsed


def first_id_at(moment: datetime) -> str:
    """The smallest run id that can have been minted at `moment` or later."""
    return new_id("run", int(moment.timestamp() * 1000))[:14] + "0" * 16


def last_id_at(moment: datetime) -> str:
    """The largest run id that can have been minted at `moment` or earlier."""
    return new_id("run", int(moment.timestamp() * 1000))[:14] + "v" * 16


def matching_runs(
    environment: Environment, filters: Mapping[str, str]
) -> QuerySet[Run]:
    """The runs of an environment that the filters select; bad filters raise.

    The API's filters go through `filter_runs`; the few only the dashboard and
    bulk actions use (`filter[id]`, `filter[tagAll]`, `filter[idempotencyKey]`,
    `filter[scheduleId]`, `filter[bulkActionId]`, `filter[upTo]`, and
    `filter[search]` with `filter[searchFrom]`, see `search_runs`) are applied here.
    """
    api_params = {name: filters[name] for name in API_FILTERS if filters.get(name)}
    runs = filter_runs(Run.objects.filter(environment=environment), api_params)

    if run_id := filters.get("filter[id]"):
        runs = runs.filter(pk=run_id)
    if tags := [tag for tag in filters.get("filter[tagAll]", "").split(",") if tag]:
        runs = runs.filter(tags__contains=tags)
    if key := filters.get("filter[idempotencyKey]"):
        runs = runs.filter(Q(idempotency_key=key) | Q(idempotency_key_options__key=key))
    if schedule_id := filters.get("filter[scheduleId]"):
        runs = runs.filter(schedule_id=schedule_id)
    if bulk_id := filters.get("filter[bulkActionId]"):
        runs = runs.filter(bulk_action_id=bulk_id)
    if up_to := filters.get("filter[upTo]"):
        runs = runs.filter(pk__lte=up_to)
    runs = bound_ids_by_time(runs, api_params)
    if text := filters.get("filter[search]"):
        runs = search_runs(runs, text, filters.get("filter[searchFrom]", ""))
    return runs


def search_runs(runs: QuerySet[Run], text: str, oldest: str = "") -> QuerySet[Run]:
    """The runs whose payload or output contains `text`, ignoring case.

    Only the newest SEARCH_SCAN_LIMIT_RUNS of `runs` are read: those from the
    id `oldest` on, which `pin_search_window` finds, or else a subquery finds
    each time the query runs. Values kept in the object store are not searched:
    the row holds only their record (object key and size).
    """
    if oldest:
        runs = runs.filter(pk__gte=oldest)
    else:
        edge = runs.order_by("-id").values("pk")[
            SEARCH_SCAN_LIMIT_RUNS - 1 : SEARCH_SCAN_LIMIT_RUNS
        ]
        # Fewer runs than the limit: no edge, and every id is at least "".
        runs = runs.filter(pk__gte=Coalesce(Subquery(edge), Value("")))
    in_payload = Q(payload__icontains=text) & ~Q(payload_type=STORE)
    in_output = Q(output__icontains=text) & ~Q(output_type=STORE)
    return runs.filter(in_payload | in_output)


def pin_search_window(
    environment: Environment, filters: Mapping[str, str]
) -> tuple[dict[str, str], bool]:
    """Fix which runs a search reads; also say whether older runs were left out.

    Returns the filters with `filter[searchFrom]`, the oldest id of the newest
    SEARCH_SCAN_LIMIT_RUNS runs matching the other filters, when there are that
    many. A bulk action keeps it, so that its runs stay those the list showed
    while it changes their statuses.
    """
    pinned = dict(filters)
    if not pinned.get("filter[search]") or pinned.get("filter[searchFrom]"):
        return pinned, False

    others = {name: value for name, value in pinned.items() if name != "filter[search]"}
    newest = matching_runs(environment, others).order_by("-id")
    # The limit's last run, and one more if older runs were left out.
    window_end = slice(SEARCH_SCAN_LIMIT_RUNS - 1, SEARCH_SCAN_LIMIT_RUNS + 1)
    edge = list(newest.values_list("pk", flat=True)[window_end])
    if not edge:
        return pinned, False
    pinned["filter[searchFrom]"] = edge[0]
    return pinned, len(edge) > 1


def bound_ids_by_time(runs: QuerySet[Run], params: Mapping[str, str]) -> QuerySet[Run]:
    """Add id bounds equivalent to the created-at filters, so the id index serves them.

    Ids sort by creation time; without these bounds a narrow period is found by
    walking every newer run of the environment.
    """
    now = timezone.now()
    if period := params.get("filter[createdAt][period]"):
        duration = parse_duration(period)
        if duration is not None:
            runs = runs.filter(pk__gte=first_id_at(now - duration - ID_TIME_SLACK))
    if start := params.get("filter[createdAt][from]"):
        runs = runs.filter(
            pk__gte=first_id_at(parse_instant(start, "from") - ID_TIME_SLACK)
        )
    if end := params.get("filter[createdAt][to]"):
        runs = runs.filter(pk__lte=last_id_at(parse_instant(end, "to") + ID_TIME_SLACK))
    return runs
