"""The runs list, and bulk actions over its selected rows or its filters."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard import listing
from dashboard.access import environment_for, is_production
from dashboard.filters import PERIODS, STATUSES, parse_filters
from dashboard.pages import env_url, render_page
from runs.engine import EngineError
from runs import filtering
from runs.engine.bulk import create_bulk_action
from runs.models import BulkAction, BulkActionKind, BulkActionStatus

# Seconds between two refreshes of a bulk action's progress.
BULK_POLL_SECONDS = 1
BULK_KIND_WORDS = {BulkActionKind.CANCEL: "cancel", BulkActionKind.REPLAY: "replay"}


@login_required
@require_GET
def runs_list(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    filters = parse_filters(request.GET)
    cursor, cursor_errors = listing.parse_cursor(request.GET)
    errors = filters.errors + cursor_errors
    try:
        page = listing.list_runs(environment, filters, cursor)
    except EngineError as exc:
        errors.append(str(exc))
        page = listing.RunsPage()

    if cursor.first_page:
        live_query = filters.query(until=page.anchor)
    else:
        live_query = filters.query(after=cursor.after, before=cursor.before)
    # A live refresh redraws the rows; anything else may have changed the
    # filters, so the bulk actions, which carry them, are redrawn too.
    refresh = bool(request.htmx) and request.htmx.trigger == "results"
    context = {
        "filters": filters,
        "page": page,
        "cursor": cursor,
        "errors": errors,
        "live_query": live_query,
        "base_query": filters.query(),
        "search_limit": filtering.SEARCH_SCAN_LIMIT_RUNS,
        # The counts come after the page, from runs_counts, unless fresh ones are cached.
        "refresh_counts": True,
        "bulk_oob": bool(request.htmx) and not refresh,
    }
    if not request.htmx:
        context.update(
            choices=listing.filter_choices(environment),
            periods=PERIODS,
            statuses=STATUSES,
        )
    response = render_page(
        request,
        "dashboard/runs.html",
        environment,
        context,
        fragment="results",
        status=400 if errors else 200,
    )
    if request.htmx and request.htmx.trigger == "filter-form":
        # The form sends its empty fields too; the address bar gets the tidy form.
        response["HX-Push-Url"] = f"{request.path}?{filters.query()}"
    return response


@login_required
@require_GET
def runs_counts(request: HttpRequest, project: str, env: str) -> HttpResponse:
    """The runs list's counts per status, which the page loads after itself."""
    environment = environment_for(request, project, env)
    filters = parse_filters(request.GET)
    try:
        counts = listing.status_counts_for(environment, filters)
    except EngineError:
        counts = listing.StatusCounts()
    context = {
        "project": environment.project,
        "env": environment,
        "filters": filters,
        "counts": counts,
    }
    return render(request, "dashboard/runs.html#status-counts", context)


@login_required
@require_GET
def runs_estimate(request: HttpRequest, project: str, env: str) -> HttpResponse:
    """How many runs a bulk action over the filters would touch, for its panel.

    The panel asks when it is opened: a count up to ESTIMATE_CAP costs more
    than the whole list page, which therefore does not run it.
    """
    environment = environment_for(request, project, env)
    filters = parse_filters(request.GET)
    estimate = None
    if not filters.errors:
        try:
            estimate = listing.estimate(environment, filters)
        except EngineError:
            pass
    return render(
        request, "dashboard/runs.html#bulk-estimate", {"estimate": estimate}
    )


@login_required
@require_POST
def bulk_create(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    filters = parse_filters(request.POST)
    back = env_url("runs", environment) + (
        f"?{filters.query()}" if filters.active else ""
    )
    kind = request.POST.get("kind", "")
    scope = request.POST.get("scope", "")

    if (
        is_production(environment)
        and request.POST.get("confirm", "").strip() != "production"
    ):
        messages.error(
            request, "Type production to confirm a bulk action in production."
        )
        return redirect(back)
    if scope == "filters" and filters.errors:
        messages.error(request, " ".join(filters.errors))
        return redirect(back)

    run_ids = request.POST.getlist("selected") if scope == "selected" else None
    if scope == "selected" and not run_ids:
        messages.error(
            request, "Select at least one run first, or act on every matching run."
        )
        return redirect(back)
    try:
        action = create_bulk_action(
            environment,
            kind,
            run_ids=run_ids,
            filters=filters.to_wire() if scope == "filters" else None,
            user=request.user,
        )
    except EngineError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    return redirect(env_url("bulk", environment, action.pk))


@login_required
@require_GET
def bulk_page(
    request: HttpRequest, project: str, env: str, bulk_id: str
) -> HttpResponse:
    environment = environment_for(request, project, env)
    action = (
        BulkAction.objects.select_related("created_by")
        .filter(pk=bulk_id, environment=environment)
        .first()
    )
    if action is None:
        raise Http404("No such bulk action")

    done = action.status in (BulkActionStatus.COMPLETED, BulkActionStatus.FAILED)
    context = {
        "action": action,
        "done": done,
        "verb": BULK_KIND_WORDS[BulkActionKind(action.kind)],
        "progress": round(100 * action.processed / action.total) if action.total else 0,
        "poll_seconds": BULK_POLL_SECONDS,
        "filters": describe_filters(action.filters),
        "recent": BulkAction.objects.filter(environment=environment)
        .exclude(pk=action.pk)
        .order_by("-created_at")[:5],
    }
    response = render_page(
        request, "dashboard/bulk.html", environment, context, fragment="progress"
    )
    if request.htmx and done:
        response.status_code = 286
    return response


FILTER_LABELS = {
    "filter[status]": "Status",
    "filter[taskIdentifier]": "Task",
    "filter[tag]": "Any of the tags",
    "filter[tagAll]": "All of the tags",
    "filter[batch]": "Batch",
    "filter[queue]": "Queue",
    "filter[createdAt][period]": "Created in the last",
    "filter[createdAt][from]": "Created from",
    "filter[createdAt][to]": "Created until",
    "filter[id]": "Run",
    "filter[idempotencyKey]": "Idempotency key",
    "filter[scheduleId]": "Schedule",
    "filter[bulkActionId]": "Made by bulk action",
    "filter[upTo]": "Newest run included",
    "filter[search]": "Payload or output contains",
    "filter[searchFrom]": "Oldest run searched",
}


def describe_filters(filters: dict[str, str]) -> list[tuple[str, str]]:
    return [(FILTER_LABELS.get(name, name), value) for name, value in filters.items()]
