"""The runs-list filters as they appear in the dashboard's URL.

Every filter lives in the query string, so a view can be bookmarked and shared.
They are translated into the API's `filter[...]` parameters (plus the few the
dashboard adds, see runs.filtering) so that one function selects the runs
for the list, its counts and bulk actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import QueryDict

from runs.durations import parse_date, parse_duration

# The statuses a run list can be filtered by, in lifecycle order, named as the
# API names them (runs.filtering.STATUS_FILTERS): "Executing" includes
# runs between two attempts, as the API reports them.
STATUSES = [
    ("PENDING_VERSION", "Pending"),
    ("DELAYED", "Delayed"),
    ("QUEUED", "Queued"),
    ("DEQUEUED", "Dequeued"),
    ("EXECUTING", "Executing"),
    ("WAITING", "Waiting"),
    ("COMPLETED", "Completed"),
    ("FAILED", "Failed"),
    ("CRASHED", "Crashed"),
    ("SYSTEM_FAILURE", "System failure"),
    ("TIMED_OUT", "Timed out"),
    ("EXPIRED", "Expired"),
    ("CANCELED", "Canceled"),
]
STATUS_LABELS = dict(STATUSES)
PERIODS = [
    ("1m", "1 minute"),
    ("5m", "5 minutes"),
    ("30m", "30 minutes"),
    ("1h", "1 hour"),
    ("6h", "6 hours"),
    ("1d", "1 day"),
    ("3d", "3 days"),
    ("7d", "7 days"),
    ("14d", "14 days"),
    ("30d", "30 days"),
]
PAGINATION_PARAMS = ("after", "before", "until")
MAX_VALUE_CHARS = 2048


@dataclass
class RunFilters:
    statuses: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    tag_match: str = "any"
    period: str = ""
    start: str = ""
    end: str = ""
    tz: str = ""
    batch: str = ""
    schedule: str = ""
    queue: str = ""
    run_id: str = ""
    key: str = ""
    bulk: str = ""
    search: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.to_wire())

    def to_wire(self, *, with_status: bool = True) -> dict[str, str]:
        """The filter[...] parameters that select these runs."""
        wire = {
            "filter[taskIdentifier]": ",".join(self.tasks),
            "filter[batch]": self.batch,
            "filter[queue]": self.queue,
            "filter[createdAt][period]": self.period,
            "filter[createdAt][from]": self.instant(self.start),
            "filter[createdAt][to]": self.instant(self.end),
            "filter[id]": self.run_id,
            "filter[idempotencyKey]": self.key,
            "filter[scheduleId]": self.schedule,
            "filter[bulkActionId]": self.bulk,
            "filter[search]": self.search,
        }
        tag_filter = "filter[tagAll]" if self.tag_match == "all" else "filter[tag]"
        wire[tag_filter] = ",".join(self.tags)
        if with_status:
            wire["filter[status]"] = ",".join(self.statuses)
        return {name: value for name, value in wire.items() if value}

    def instant(self, raw: str) -> str:
        """An ISO instant for a custom-range bound typed in the viewer's zone."""
        if not raw:
            return ""
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone(self.tz))
        return moment.isoformat()

    def params(self) -> list[tuple[str, str]]:
        """These filters as query parameters of the dashboard's URL."""
        pairs = [("status", status) for status in self.statuses]
        pairs += [("task", task) for task in self.tasks]
        if self.tags:
            pairs.append(("tag", ", ".join(self.tags)))
            if self.tag_match == "all":
                pairs.append(("match", "all"))
        for name, value in (
            ("period", self.period),
            ("from", self.start),
            ("to", self.end),
            ("tz", self.tz if self.start or self.end else ""),
            ("batch", self.batch),
            ("schedule", self.schedule),
            ("queue", self.queue),
            ("run", self.run_id),
            ("key", self.key),
            ("bulk", self.bulk),
            ("search", self.search),
        ):
            if value:
                pairs.append((name, value))
        return pairs

    def query(self, **extra: str) -> str:
        pairs = self.params() + [
            (name, value) for name, value in extra.items() if value
        ]
        return urlencode(pairs)

    def toggled_status(self, status: str) -> str:
        """The query string with one status added to or removed from the filter."""
        if status in self.statuses:
            statuses = [other for other in self.statuses if other != status]
        else:
            statuses = [*self.statuses, status]
        return replace(self, statuses=statuses).query()

    def without_status(self) -> str:
        return replace(self, statuses=[]).query()

    def removable(self) -> list[tuple[str, str]]:
        """Each active filter as (what it says, query string without it)."""
        pills = []
        for status in self.statuses:
            pills.append(
                (
                    f"Status: {STATUS_LABELS.get(status, status)}",
                    self.toggled_status(status),
                )
            )
        for task in self.tasks:
            others = [other for other in self.tasks if other != task]
            pills.append((f"Task: {task}", replace(self, tasks=others).query()))
        if self.tags:
            word = "all of" if self.tag_match == "all" else "any of"
            pills.append(
                (
                    f"Tags ({word}): {', '.join(self.tags)}",
                    replace(self, tags=[]).query(),
                )
            )
        if self.period:
            label = dict(PERIODS).get(self.period, self.period)
            pills.append(
                (f"Created in the last {label}", replace(self, period="").query())
            )
        if self.start or self.end:
            span = f"{self.start or '…'} – {self.end or '…'} ({self.tz or 'UTC'})"
            pills.append((f"Created {span}", replace(self, start="", end="").query()))
        for attribute, label in (
            ("batch", "Batch"),
            ("schedule", "Schedule"),
            ("queue", "Queue"),
            ("run_id", "Run"),
            ("key", "Idempotency key"),
            ("bulk", "Bulk action"),
            ("search", "Payload or output contains"),
        ):
            if value := getattr(self, attribute):
                pills.append(
                    (f"{label}: {value}", replace(self, **{attribute: ""}).query())
                )
        return pills


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def split_list(values: list[str]) -> list[str]:
    """Values given repeatedly or comma-separated, trimmed, without duplicates."""
    parts = [part.strip() for value in values for part in value.split(",")]
    return list(dict.fromkeys(part for part in parts if part))


def parse_filters(query: QueryDict) -> RunFilters:
    """Read the filters from a query string; what cannot be read becomes an error."""

    def one(name: str) -> str:
        return query.get(name, "").strip()[:MAX_VALUE_CHARS]

    filters = RunFilters(
        statuses=split_list(query.getlist("status")),
        tasks=split_list(query.getlist("task")),
        tags=split_list(query.getlist("tag")),
        tag_match="all" if one("match") == "all" else "any",
        period=one("period"),
        start=one("from"),
        end=one("to"),
        tz=one("tz"),
        batch=one("batch"),
        schedule=one("schedule"),
        queue=one("queue"),
        run_id=one("run"),
        key=one("key"),
        bulk=one("bulk"),
        search=one("search"),
    )
    check(filters)
    return filters


# Filters holding one text value each (the others hold lists).
TEXT_FILTERS = (
    "period",
    "start",
    "end",
    "tz",
    "batch",
    "schedule",
    "queue",
    "run_id",
    "key",
    "bulk",
    "search",
)
NUL_MESSAGE = "A filter held a NUL character, which no run can hold; it was left out."


def check(filters: RunFilters) -> None:
    """Drop the filters that cannot be read, saying why."""
    drop_nul_characters(filters)
    unknown = [status for status in filters.statuses if status not in STATUS_LABELS]
    if unknown:
        filters.errors.append(
            f"Unknown status {unknown[0]!r}. Choose from: "
            + ", ".join(label for _, label in STATUSES)
            + "."
        )
        filters.statuses = [
            status for status in filters.statuses if status in STATUS_LABELS
        ]

    if filters.period and parse_duration(filters.period) is None:
        filters.errors.append(
            f"Period {filters.period!r} is not a duration; use a preset or values like 90m or 2d."
        )
        filters.period = ""

    if filters.tz and filters.tz != "UTC" and zone(filters.tz).key == "UTC":
        filters.errors.append(
            f"Unknown time zone {filters.tz!r}; times are read as UTC."
        )
        filters.tz = ""

    for attribute, label in (("start", "From"), ("end", "To")):
        raw = getattr(filters, attribute)
        if raw and parse_date(raw) is None:
            filters.errors.append(f"{label} {raw!r} is not a date and time.")
            setattr(filters, attribute, "")


def drop_nul_characters(filters: RunFilters) -> None:
    """Drop the values holding a NUL character, which no run can match."""
    dropped = False
    for attribute in ("statuses", "tasks", "tags"):
        values = getattr(filters, attribute)
        kept = [value for value in values if "\x00" not in value]
        dropped = dropped or len(kept) < len(values)
        setattr(filters, attribute, kept)
    for attribute in TEXT_FILTERS:
        if "\x00" in getattr(filters, attribute):
            setattr(filters, attribute, "")
            dropped = True
    if dropped:
        filters.errors.append(NUL_MESSAGE)
