"""The runs list: one page of runs under keyset pagination, counts and live news.

Every query here walks an index of runs_run: the list orders by id, which
sorts by creation time, and pages with `id < cursor` or `id > cursor`; counts
stop at a cap, so a table of millions answers as fast as one of hundreds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from apikeys.models import Environment
from dashboard.filters import STATUSES, RunFilters
from runs.api.runs import CURSOR_PATTERN
from runs.api.serializers import STATUS_FILTERS
from runs.engine.bulk import matching_runs
from runs.models import Queue, Run, Task

PAGE_SIZE = 50
# Counts stop here and show as "1,000+".
COUNT_CAP = 1000
# The estimate offered before a bulk action over every matching run.
ESTIMATE_CAP = 10_000
# Columns the list never shows: kept out of the query.
HEAVY_FIELDS = (
    "payload",
    "output",
    "error",
    "metadata",
    "extra_options",
    "idempotency_key_options",
)


@dataclass(frozen=True)
class Cursor:
    after: str = ""  # older than this id
    before: str = ""  # newer than this id
    until: str = ""  # page one as it was: this id and older

    @property
    def first_page(self) -> bool:
        return not self.after and not self.before


@dataclass
class Capped:
    value: int
    cap: int

    @property
    def more(self) -> bool:
        return self.value > self.cap

    def __str__(self) -> str:
        return f"{self.cap:,}+" if self.more else f"{self.value:,}"


@dataclass
class StatusCount:
    status: str
    label: str
    count: Capped
    selected: bool
    query: str


@dataclass
class RunsPage:
    runs: list[Run] = field(default_factory=list)
    newer: str = ""
    older: str = ""
    anchor: str = ""
    new_runs: Capped = field(default_factory=lambda: Capped(0, COUNT_CAP))
    counts: list[StatusCount] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_cursor(query) -> tuple[Cursor, list[str]]:
    """The pagination parameters; malformed ones are dropped with a message."""
    values, errors = {}, []
    for name in ("after", "before", "until"):
        raw = query.get(name, "")
        if raw and not CURSOR_PATTERN.match(raw):
            errors.append(
                f"{raw!r} is not a run id, so the list starts from the newest runs."
            )
            raw = ""
        values[name] = raw
    return Cursor(**values), errors


def list_runs(
    environment: Environment, filters: RunFilters, cursor: Cursor
) -> RunsPage:
    """One page of the runs the filters select, with the counts per status."""
    matching = matching_runs(environment, filters.to_wire())
    page = RunsPage()
    page.runs, page.newer, page.older = fetch_page(matching, cursor)

    if cursor.first_page:
        # Live refreshes keep page one as it first was and only announce newer
        # runs; an empty page has nothing to keep and simply fills up.
        page.anchor = cursor.until or (page.runs[0].pk if page.runs else "")
        if cursor.until:
            page.new_runs = count_capped(
                matching.filter(pk__gt=cursor.until), COUNT_CAP
            )

    unfiltered_status = matching_runs(environment, filters.to_wire(with_status=False))
    counts = status_counts(unfiltered_status)
    page.counts = [
        StatusCount(
            status,
            label,
            Capped(counts.get(status, 0), COUNT_CAP),
            status in filters.statuses,
            filters.toggled_status(status),
        )
        for status, label in STATUSES
    ]
    return page


def fetch_page(matching: QuerySet[Run], cursor: Cursor) -> tuple[list[Run], str, str]:
    """The runs of one page and the cursors of its neighbours (empty: none)."""
    runs = matching.select_related("queue").defer(*HEAVY_FIELDS)
    if cursor.before:
        rows = list(runs.filter(pk__gt=cursor.before).order_by("id")[: PAGE_SIZE + 1])
        more_newer = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        newer = rows[0].pk if rows and more_newer else ""
        return rows, newer, rows[-1].pk if rows else cursor.before

    if cursor.after:
        runs = runs.filter(pk__lt=cursor.after)
    elif cursor.until:
        runs = runs.filter(pk__lte=cursor.until)
    rows = list(runs.order_by("-id")[: PAGE_SIZE + 1])
    more_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    newer = rows[0].pk if rows and cursor.after else ""
    if cursor.after and not rows:
        newer = cursor.after
    return rows, newer, rows[-1].pk if rows and more_older else ""


def count_capped(runs: QuerySet[Run], cap: int) -> Capped:
    return Capped(runs.order_by().values("pk")[: cap + 1].count(), cap)


def status_counts(runs: QuerySet[Run]) -> dict[str, int]:
    """How many runs each status filter would show, each counted up to the cap.

    One statement: a capped subquery per status, joined with UNION ALL.
    """
    parts, params = [], []
    for status, _ in STATUSES:
        capped = runs.filter(status__in=STATUS_FILTERS[status]).order_by().values("pk")
        try:
            sql, inner_params = capped[: COUNT_CAP + 1].query.sql_with_params()
        except EmptyResultSet:
            continue
        parts.append(f"SELECT %s, count(*) FROM ({sql}) AS capped")
        params += [status, *inner_params]
    if not parts:
        return {}
    with connection.cursor() as db:
        db.execute(" UNION ALL ".join(parts), params)
        return dict(db.fetchall())


def estimate(environment: Environment, filters: RunFilters) -> Capped:
    """How many runs a bulk action over the filters would touch, up to a cap."""
    return count_capped(matching_runs(environment, filters.to_wire()), ESTIMATE_CAP)


def filter_choices(environment: Environment) -> dict[str, list[str]]:
    """Task and queue names for the filter form's menus."""
    tasks = Task.objects.filter(environment=environment).order_by("slug")
    queues = Queue.objects.filter(environment=environment).order_by("name")
    return {
        "tasks": list(tasks.values_list("slug", flat=True)),
        "queues": list(queues.values_list("name", flat=True)),
    }
