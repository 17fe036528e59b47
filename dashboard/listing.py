"""The runs list: one page of runs under keyset pagination, counts and live news.

Every query here walks an index of runs_run: the list orders by id, which
sorts by creation time, and pages with `id < cursor` or `id > cursor`; counts
stop at a cap, so a table of millions answers as fast as one of hundreds.

The counts per status cost more than the page (one capped count per status),
so the page never runs them: it shows the counts cached for its environment
and filters, and the browser asks for fresh ones after the page has loaded
(`status_counts_for`, served by the counts view).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from apikeys.models import Environment
from dashboard.filters import STATUSES, RunFilters
from runs.filtering import CURSOR_PATTERN, matching_runs, pin_search_window
from runs.models import Queue, Run, Task

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
# Counts stop here and show as "1,000+".
COUNT_CAP = 1000
# Counts younger than this are served from the cache instead of counted again.
COUNTS_FRESH_SECONDS = 2
# How long counts stay in the cache, shown (and refreshed) while a page is open.
COUNTS_KEPT_SECONDS = 300
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
    count: Capped | None  # None: not counted yet
    selected: bool
    query: str


@dataclass
class StatusCounts:
    items: list[StatusCount] = field(default_factory=list)
    # When they were counted (time.time()); None: not counted yet.
    counted_at: float | None = None

    @property
    def fresh(self) -> bool:
        return (
            self.counted_at is not None
            and time.time() - self.counted_at < COUNTS_FRESH_SECONDS
        )


@dataclass
class RunsPage:
    runs: list[Run] = field(default_factory=list)
    newer: str = ""
    older: str = ""
    anchor: str = ""
    new_runs: Capped = field(default_factory=lambda: Capped(0, COUNT_CAP))
    counts: StatusCounts = field(default_factory=StatusCounts)
    errors: list[str] = field(default_factory=list)
    # A search read only the newest runs matching the other filters, not all.
    search_limited: bool = False


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
    """One page of the runs the filters select, with the cached counts per status."""
    wire, limited = pin_search_window(environment, filters.to_wire())
    matching = matching_runs(environment, wire)
    page = RunsPage(search_limited=limited)
    page.runs, page.newer, page.older = fetch_page(matching, cursor)

    if cursor.first_page:
        # Live refreshes keep page one as it first was and only announce newer
        # runs; an empty page has nothing to keep and simply fills up.
        page.anchor = cursor.until or (page.runs[0].pk if page.runs else "")
        if cursor.until:
            page.new_runs = count_capped(
                matching.filter(pk__gt=cursor.until), COUNT_CAP
            )

    page.counts = cached_status_counts(environment, filters)
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


def cached_status_counts(environment: Environment, filters: RunFilters) -> StatusCounts:
    """The counts last counted for these filters, without counting (maybe none)."""
    cached = read_cache(counts_cache_key(environment, filters))
    if cached is None:
        return status_count_items(filters, None, None)
    return status_count_items(filters, cached["counts"], cached["at"])


def status_counts_for(environment: Environment, filters: RunFilters) -> StatusCounts:
    """The counts per status for these filters: cached if fresh, else counted now.

    The counts ignore the status filter (each status's count is what choosing
    it would show), so every status selection of one filter set shares them.
    """
    key = counts_cache_key(environment, filters)
    cached = read_cache(key)
    if cached is not None and time.time() - cached["at"] < COUNTS_FRESH_SECONDS:
        return status_count_items(filters, cached["counts"], cached["at"])

    counts, counted_at = status_counts(environment, filters), time.time()
    write_cache(key, {"counts": counts, "at": counted_at})
    return status_count_items(filters, counts, counted_at)


def status_count_items(
    filters: RunFilters, counts: dict[str, int] | None, counted_at: float | None
) -> StatusCounts:
    """The status links; without counts, only the chosen statuses (to unchoose)."""
    items = [
        StatusCount(
            status,
            label,
            None if counts is None else Capped(counts.get(status, 0), COUNT_CAP),
            status in filters.statuses,
            filters.toggled_status(status),
        )
        for status, label in STATUSES
        if counts is not None or status in filters.statuses
    ]
    return StatusCounts(items, counted_at)


def counts_cache_key(environment: Environment, filters: RunFilters) -> str:
    wire = json.dumps(filters.to_wire(with_status=False), sort_keys=True)
    digest = hashlib.sha256(wire.encode()).hexdigest()[:32]
    return f"runs-counts:{environment.pk}:{COUNT_CAP}:{digest}"


def read_cache(key: str) -> dict | None:
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - without a cache, every request counts
        logger.warning("counts cache unreachable", extra={"action": "counts_uncached"})
        return None


def write_cache(key: str, value: dict) -> None:
    try:
        cache.set(key, value, timeout=COUNTS_KEPT_SECONDS)
    except Exception:  # noqa: BLE001 - as in read_cache
        logger.warning("counts cache unreachable", extra={"action": "counts_uncached"})


def status_counts(environment: Environment, filters: RunFilters) -> dict[str, int]:
    """How many runs each status filter would show, each counted up to the cap.

    One statement: a capped subquery per status, joined with UNION ALL. Each
    selects the runs as the list filtered by that status alone would, search
    window included (it reads the newest runs of that status).
    """
    others = filters.to_wire(with_status=False)
    parts, params = [], []
    for status, _ in STATUSES:
        runs = matching_runs(environment, {**others, "filter[status]": status})
        capped = runs.order_by().values("pk")
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
