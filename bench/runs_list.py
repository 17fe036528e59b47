"""Scenario 5: the runs list and GET /api/v1/runs over a seeded table of a million runs.

The runs are seeded into the staging environment of the bench project, so the
production environment (where the other scenarios trigger) keeps no backlog.
The hundredth page is reached the way a client does: following `next` cursors.
"""

from __future__ import annotations

import re
import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import seed
from bench.api import Api
from bench.stats import latency_summary

PAGE_SIZE = 25
FAR_PAGE = 100
FILTERS = {
    "no filter": {},
    "status COMPLETED (85 %)": {"filter[status]": "COMPLETED"},
    "status FAILED (6 %)": {"filter[status]": "FAILED"},
    "status EXECUTING (two statuses, none match)": {"filter[status]": "EXECUTING"},
    "task task-3 (10 %)": {"filter[taskIdentifier]": "task-3"},
    f"task {seed.RARE_TASK} (0.1 %)": {"filter[taskIdentifier]": seed.RARE_TASK},
    "tag customer-42 (0.1 %)": {"filter[tag]": "customer-42"},
    "tag plan-1 (33 %)": {"filter[tag]": "plan-1"},
    "status FAILED + task task-7 (1 %)": {
        "filter[status]": "FAILED",
        "filter[taskIdentifier]": "task-7",
    },
}
EXPLAIN_SLOWEST = 3


def seed_history(environment, count: int) -> dict:
    from runs.models import Queue

    queues = [
        Queue.objects.get_or_create(environment=environment, name=f"task/task-{n}")[
            0
        ].pk
        for n in range(3)
    ]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        seed.insert_runs(cursor, environment.pk, queues, count, rebuild_indexes=True)
        cursor.execute("RESET synchronous_commit")
        cursor.execute("RESET maintenance_work_mem")
    return {"runs": count, "seconds": round(time.perf_counter() - started, 1)}


def runs_list(ctx, environment, secret_key: str) -> dict:
    requests = ctx.size("list_requests")
    api = Api(ctx.base_url, secret_key)
    results = {}
    for label, params in FILTERS.items():
        pages = {"first page": dict(params)}
        cursor, reached = far_cursor(api, params)
        if cursor:
            pages[f"page {reached}"] = {**params, "page[after]": cursor}
        for page, query in pages.items():
            api.timed_get("/api/v1/runs", query)
            times = []
            for _ in range(requests):
                elapsed, response = api.timed_get("/api/v1/runs", query)
                if response.status_code != 200:
                    raise RuntimeError(
                        f"{label} {page}: {response.status_code} {response.text[:200]}"
                    )
                times.append(elapsed)
            results[f"{label}, {page}"] = {
                "params": query,
                "latency": latency_summary(times),
            }
    api.close()
    return {
        "requests_each": requests,
        "api": results,
        "dashboard": dashboard(ctx, environment, requests),
        "explain": explain_slowest(results, secret_key),
    }


def far_cursor(api: Api, params: dict) -> tuple[str | None, int]:
    """The `page[after]` cursor of the hundredth page, or of the last page if fewer."""
    cursor, page = None, 1
    while page < FAR_PAGE:
        query = {**params, **({"page[after]": cursor} if cursor else {})}
        _, response = api.timed_get("/api/v1/runs", query)
        following = response.json().get("pagination", {}).get("next")
        if not following:
            break
        cursor, page = following, page + 1
    return cursor, page


DASHBOARD_FILTERS = {
    "no filter": {},
    "status FAILED (6 %)": {"status": "FAILED"},
    f"task {seed.RARE_TASK} (0.1 %)": {"task": seed.RARE_TASK},
    "tag customer-42 (0.1 %)": {"tag": "customer-42"},
}
OLDER_LINK = re.compile(r"[?&;]after=(run_[0-9a-v]{26})")


def dashboard(ctx, environment, requests: int) -> dict:
    """The dashboard's runs list for a member of the project, if it renders.

    The page is found by URL name (`runs`) when the dashboard has one, else by
    following `/`; its older-page links (`after=`) lead to the hundredth page.
    The counts per status, which the page loads after itself, are timed apart
    (`counts_fragment`): the page's own time no longer includes them.
    """
    import httpx
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-member")
    environment.project.members.add(user)
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    results, path = {}, runs_page_path(environment)
    with httpx.Client(
        base_url=ctx.base_url,
        cookies={"sessionid": cookie},
        timeout=120,
        follow_redirects=True,
    ) as http:
        landing = http.get(path)
        if landing.status_code != 200 or "/login" in str(landing.url):
            return {
                "rendered": False,
                "status": landing.status_code,
                "path": str(landing.url),
            }
        path = landing.url.path
        for label, params in DASHBOARD_FILTERS.items():
            pages = {"first page": dict(params)}
            cursor, reached = dashboard_far_cursor(http, path, params)
            if cursor:
                pages[f"page {reached}"] = {**params, "after": cursor}
            for page, query in pages.items():
                http.get(path, params=query)
                times = []
                for _ in range(requests):
                    began = time.perf_counter()
                    response = http.get(path, params=query)
                    times.append(time.perf_counter() - began)
                results[f"{label}, {page}"] = {
                    "params": query,
                    "status": response.status_code,
                    "latency": latency_summary(times),
                }
        counts = counts_fragment(http, environment, requests)
    return {"rendered": True, "path": path, "pages": results, **counts}


def counts_fragment(http, environment, requests: int) -> dict:
    """The status counts the list page loads after itself, for each filter.

    Each filter is timed twice: as counted (the cached counts are deleted
    before every request, so each one runs the count query) and as served to
    a browser refreshing within the cache's lifetime (cache hits). Deleting
    works only if this process shares the server's cache; `cache_shared`
    says whether it does, else the "counted" times are cache hits too.
    """
    from urllib.parse import urlencode

    from django.core.cache import cache
    from django.http import QueryDict
    from django.urls import NoReverseMatch, reverse

    from dashboard import listing
    from dashboard.filters import parse_filters

    try:
        path = reverse("runs-counts", args=[environment.project.slug, environment.slug])
    except NoReverseMatch:
        return {}
    results, shared = {}, True
    for label, params in DASHBOARD_FILTERS.items():
        filters = parse_filters(QueryDict(urlencode(params)))
        key = listing.counts_cache_key(environment, filters)
        headers = {"HX-Request": "true"}
        for kind, cold in (("counted (cache miss)", True), ("cached", False)):
            http.get(path, params=params, headers=headers)
            times = []
            for _ in range(requests):
                if cold:
                    cache.delete(key)
                began = time.perf_counter()
                response = http.get(path, params=params, headers=headers)
                times.append(time.perf_counter() - began)
                if cold and cache.get(key) is None:
                    shared = False
            results[f"{label}, {kind}"] = {
                "params": params,
                "status": response.status_code,
                "latency": latency_summary(times),
            }
    return {"counts_path": path, "counts": results, "cache_shared": shared}


def runs_page_path(environment) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("runs", args=[environment.project.slug, environment.slug])
    except NoReverseMatch:
        return "/"


def dashboard_far_cursor(http, path: str, params: dict) -> tuple[str | None, int]:
    cursor, page = None, 1
    while page < FAR_PAGE:
        response = http.get(
            path, params={**params, **({"after": cursor} if cursor else {})}
        )
        links = [
            found for found in OLDER_LINK.findall(response.text) if found != cursor
        ]
        if response.status_code != 200 or not links:
            break
        cursor, page = links[-1], page + 1
    return cursor, page


def explain_slowest(results: dict, secret_key: str) -> list[dict]:
    """EXPLAIN ANALYZE the runs_run queries of the slowest list requests."""
    slowest = sorted(results.items(), key=lambda item: -item[1]["latency"]["p95_ms"])[
        :EXPLAIN_SLOWEST
    ]
    client = Client()
    evidence = []
    for label, result in slowest:
        with CaptureQueriesContext(connection) as captured:
            client.get(
                "/api/v1/runs",
                result["params"],
                HTTP_AUTHORIZATION=f"Bearer {secret_key}",
            )
        for query in captured.captured_queries:
            sql = query["sql"]
            if 'FROM "runs_run"' not in sql or not sql.lstrip().upper().startswith(
                "SELECT"
            ):
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = [row[0] for row in cursor.fetchall()]
            evidence.append({"request": label, "sql": sql, "plan": plan})
    return evidence
