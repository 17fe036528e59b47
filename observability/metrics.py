"""`/metrics` in the Prometheus text format; every name is documented in docs/metrics.md.

Two kinds of metrics, chosen so that any web process answers for the whole
platform:

* Read from the database at scrape time (`DatabaseCollector`): run counters
  and attempt durations (observability.rollup), queue depth, executing runs and
  the oldest queued run per queue, runs in each unfinished status. Each query
  reads a partial index or a primary-key range, never the whole runs table
  (tests/metrics/test_query_plans.py checks the plans).
* Observed in the process (`triggerkit_api_request_duration_seconds`): with
  several gunicorn workers, set PROMETHEUS_MULTIPROC_DIR so that prometheus-client
  adds up the histograms of every worker on the machine.

Workers alive comes from a Celery ping, cached for WORKERS_CACHE_SECONDS.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from observability import rollup

logger = logging.getLogger(__name__)

WORKERS_CACHE_SECONDS = 10
PING_TIMEOUT_SECONDS = 0.5
API_PREFIX = "/api/"
LATENCY_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
UNFINISHED_STATUSES = (
    "PENDING_VERSION",
    "DELAYED",
    "QUEUED",
    "DEQUEUED",
    "EXECUTING",
    "RETRYING",
    "WAITING",
)

# `_created` series would double every counter and histogram for no use here.
disable_created_metrics()

# Process-local metrics live in their own registry, exposed beside the collectors.
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
API_LATENCY = Histogram(
    "triggerkit_api_request_duration_seconds",
    "Time to answer an API request, by method, route and status code.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS_SECONDS,
    registry=PROCESS_REGISTRY,
)

ENVIRONMENTS_SQL = """
SELECT environment.id, project.slug, environment.kind
FROM apikeys_environment AS environment
JOIN apikeys_project AS project ON project.id = environment.project_id
"""

QUEUES_SQL = (
    "SELECT id, environment_id, name, concurrency_limit, paused FROM runs_queue"
)

# Both read the partial indexes the dispatcher uses (run_dispatch, run_slots).
QUEUED_SQL = """
SELECT queue_id, count(*), min(queue_timestamp) FROM runs_run
WHERE status = 'QUEUED' GROUP BY queue_id
"""
EXECUTING_SQL = """
SELECT queue_id, count(*) FROM runs_run
WHERE status IN ('DEQUEUED', 'EXECUTING') GROUP BY queue_id
"""
# One range of run_env_status_id per environment and status.
UNFINISHED_SQL = """
SELECT environment_id, status, count(*) FROM runs_run
WHERE environment_id = ANY(%(environments)s) AND status = ANY(%(statuses)s)
GROUP BY 1, 2
"""


class DatabaseCollector:
    """Metrics read from PostgreSQL at scrape time."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "triggerkit_database_up",
            "1 when the database answered this scrape, else 0.",
        )
        try:
            rollup.advance()
            metrics = list(self.read())
        except (OperationalError, InterfaceError):
            logger.warning("metrics: database unavailable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def read(self) -> Iterator[Metric]:
        names = environment_names()
        yield from run_counters(rollup.read_totals(), names)
        yield from queue_gauges(names)
        yield from unfinished_gauge(names)


def environment_names() -> dict[int, str]:
    from apikeys.models import ENV_SLUGS, EnvironmentKind

    with connection.cursor() as cursor:
        cursor.execute(ENVIRONMENTS_SQL)
        return {
            env_id: f"{project}/{ENV_SLUGS[EnvironmentKind(kind)]}"
            for env_id, project, kind in cursor.fetchall()
        }


def run_counters(totals: rollup.Totals, names: dict[int, str]) -> Iterator[Metric]:
    triggered = CounterMetricFamily(
        "triggerkit_runs_triggered",
        "Runs created, by environment and task.",
        labels=["environment", "task"],
    )
    for (env, task), value in sorted(totals.triggered.items()):
        triggered.add_metric([names.get(env, str(env)), task], value)
    yield triggered

    finished = CounterMetricFamily(
        "triggerkit_runs_finished",
        "Runs that reached a final status, by environment, task and status.",
        labels=["environment", "task", "status"],
    )
    for (env, task, status), value in sorted(totals.finished.items()):
        finished.add_metric([names.get(env, str(env)), task, status], value)
    yield finished

    durations = HistogramMetricFamily(
        "triggerkit_attempt_duration_seconds",
        "Duration of the attempts of finished runs, by environment, task and the "
        "attempt's status; observed when the run finishes.",
        labels=["environment", "task", "status"],
    )
    for (env, task, status), histogram in sorted(totals.attempts.items()):
        cumulative, buckets = 0.0, []
        for bound, count in zip(rollup.ATTEMPT_BUCKETS_SECONDS, histogram.buckets):
            cumulative += count
            buckets.append(
                ("+Inf" if bound == float("inf") else repr(float(bound)), cumulative)
            )
        durations.add_metric(
            [names.get(env, str(env)), task, status], buckets, histogram.total
        )
    yield durations


def queue_gauges(names: dict[int, str]) -> Iterator[Metric]:
    with connection.cursor() as cursor:
        cursor.execute(QUEUES_SQL)
        queues = cursor.fetchall()
        cursor.execute(QUEUED_SQL)
        queued = {
            queue_id: (count, oldest) for queue_id, count, oldest in cursor.fetchall()
        }
        cursor.execute(EXECUTING_SQL)
        executing = dict(cursor.fetchall())

    labels = ["environment", "queue"]
    depth = GaugeMetricFamily(
        "triggerkit_queue_depth", "Runs waiting in the queue for a slot.", labels=labels
    )
    busy = GaugeMetricFamily(
        "triggerkit_queue_executing",
        "Runs of the queue holding a slot (dequeued or executing).",
        labels=labels,
    )
    oldest_age = GaugeMetricFamily(
        "triggerkit_queue_oldest_age_seconds",
        "Age of the oldest run waiting in the queue (by queue time), 0 when empty.",
        labels=labels,
    )
    limit = GaugeMetricFamily(
        "triggerkit_queue_concurrency_limit",
        "The queue's concurrency limit; absent when it has none.",
        labels=labels,
    )
    paused = GaugeMetricFamily(
        "triggerkit_queue_paused", "1 when the queue is paused, else 0.", labels=labels
    )
    now = timezone.now()
    for queue_id, env, name, concurrency_limit, is_paused in sorted(
        queues, key=lambda q: q[0]
    ):
        key = [names.get(env, str(env)), name]
        count, oldest = queued.get(queue_id, (0, None))
        depth.add_metric(key, count)
        busy.add_metric(key, executing.get(queue_id, 0))
        oldest_age.add_metric(
            key, max(0.0, (now - oldest).total_seconds()) if oldest else 0
        )
        paused.add_metric(key, 1 if is_paused else 0)
        if concurrency_limit is not None:
            limit.add_metric(key, concurrency_limit)
    yield from (depth, busy, oldest_age, limit, paused)


def unfinished_gauge(names: dict[int, str]) -> Iterator[Metric]:
    with connection.cursor() as cursor:
        cursor.execute(
            UNFINISHED_SQL,
            {"environments": list(names), "statuses": list(UNFINISHED_STATUSES)},
        )
        rows = cursor.fetchall()
    gauge = GaugeMetricFamily(
        "triggerkit_runs_unfinished",
        "Runs not finished yet, by environment and status.",
        labels=["environment", "status"],
    )
    for env, status, count in sorted(rows):
        gauge.add_metric([names.get(env, str(env)), status], count)
    yield gauge


class WorkersCollector:
    """Celery workers answering a ping, asked at most every WORKERS_CACHE_SECONDS."""

    def __init__(self, ping: Callable[[], int] | None = None) -> None:
        self.ping = ping or ping_workers
        self.lock = threading.Lock()
        self.value: float = 0
        self.asked_at = -float("inf")

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            if time.monotonic() - self.asked_at >= WORKERS_CACHE_SECONDS:
                self.value = self.ping()
                self.asked_at = time.monotonic()
            value = self.value
        gauge = GaugeMetricFamily(
            "triggerkit_workers_alive",
            f"Celery workers that answered a ping (cached {WORKERS_CACHE_SECONDS}s).",
        )
        gauge.add_metric([], value)
        yield gauge


def ping_workers() -> int:
    from config.celery import app

    try:
        return len(app.control.ping(timeout=PING_TIMEOUT_SECONDS) or [])
    except Exception:  # noqa: BLE001 - a broker outage reads as no workers
        logger.warning("metrics: cannot ping the workers", exc_info=True)
        return 0


WORKERS = WorkersCollector()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    registry.register(WORKERS)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(ProcessMetrics())
    return registry


class ProcessMetrics:
    """The process-local registry, exposed through the scrape registry."""

    def collect(self) -> Iterator[Metric]:
        yield from PROCESS_REGISTRY.collect()


def authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus scrape endpoint, behind METRICS_TOKEN when it is set.

    Open without a token in development only; in production (PRODUCTION=true)
    it stays closed until METRICS_TOKEN is set.
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if not settings.METRICS_TOKEN and settings.PRODUCTION:
        return HttpResponse(
            "metrics are off: set METRICS_TOKEN to scrape them in production\n",
            status=403,
            content_type="text/plain",
        )
    if not authorized(request):
        return HttpResponse(
            "metrics need a bearer token\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(
        generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST
    )


class ApiLatencyMiddleware:
    """Observe how long each API request takes, labelled by its route pattern."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        API_LATENCY.labels(request.method, route, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response
