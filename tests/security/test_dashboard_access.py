"""Dashboard pages: members only, 404 for everyone else, CSRF on every POST.

The pages are found by walking the URL configuration, so a new page is
covered the day it is added; a page with a URL parameter this module does not
know fails the test until it is taught what to put there.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apikeys.models import ApiKey
from runs import models as run_models
from runs.models import Queue, Run

# Pages that are not about one project's data, and endpoints for machines, not people
# (/metrics has a token of its own).
UNSCOPED = {"login", "logout", "home", "metrics"}
# Pages that answer 404 to a member too when the object has nothing for them
# (a run whose payload is not in the object store has no packet to download).
MAY_BE_EMPTY = {"run-packet"}
# URL parameters that name an environment rather than an object in it.
ENVIRONMENT_PARAMETERS = {"project", "env"}


@dataclass(frozen=True)
class Page:
    name: str
    route: str
    parameters: tuple[str, ...]


def dashboard_pages() -> list[Page]:
    """Every named page outside the API, admin and health endpoints."""
    pages: list[Page] = []

    def walk(
        patterns, prefix: str, namespace: str, parameters: tuple[str, ...]
    ) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            found = parameters + tuple(pattern.pattern.converters)
            if isinstance(pattern, URLResolver):
                inner = (
                    f"{namespace}{pattern.namespace}:"
                    if pattern.namespace
                    else namespace
                )
                walk(pattern.url_patterns, route, inner, found)
            elif isinstance(pattern, URLPattern) and pattern.name:
                pages.append(Page(namespace + pattern.name, route, found))

    top = [
        pattern
        for pattern in get_resolver().url_patterns
        if not str(pattern.pattern).startswith(("admin/", "api/"))
    ]
    walk(top, "", "", ())
    return [page for page in pages if page.name not in UNSCOPED]


def member(project) -> User:
    user = User.objects.create_user(
        f"member-of-{project.slug}", password="pw-123456789"
    )
    project.members.add(user)
    return user


@pytest.fixture
def owner(project):
    return member(project.project)


@pytest.fixture
def stranger(stranger_project):
    return member(stranger_project.project)


def objects_in(api, environment, key: str) -> dict:
    """One object of each kind a page can name, made in `environment` with its key."""
    run_id = api.trigger("echo", {"secret": "owner"}, delay="1h", key=key).json()["id"]
    batch_id = api.post("/api/v3/batches", {"runCount": 1}, key=key).json()["id"]
    values = {
        "run_id": run_id,
        "batch_id": batch_id,
        "queue_id": Run.objects.get(pk=run_id).queue_id,
        "key_id": ApiKey.objects.get(environment=environment).pk,
        "environment_id": environment.pk,
        "task_id": "echo",
        "field": "payload",
    }
    if hasattr(run_models, "Schedule"):
        values["schedule_id"] = run_models.Schedule.objects.create(
            environment=environment,
            task_identifier="echo",
            type=run_models.ScheduleType.IMPERATIVE,
            cron="0 8 * * *",
            deduplication_key="owner-schedule",
        ).pk
    if hasattr(run_models, "BulkAction"):
        values["bulk_id"] = run_models.BulkAction.objects.create(
            environment=environment, kind="CANCEL", status="COMPLETED"
        ).pk
    return values


@pytest.fixture
def owned(api, project):
    """The objects of the owner's development environment."""
    return objects_in(api, project.environments["DEVELOPMENT"], project.dev)


@pytest.fixture
def owned_in_production(api, project):
    """The objects of the owner's production environment: same project, other ids."""
    return objects_in(api, project.environments["PRODUCTION"], project.prod)


def url_of(page: Page, project_slug: str, owned: dict, env: str = "dev") -> str:
    values = {"project": project_slug, "env": env, **owned}
    unknown = [name for name in page.parameters if name not in values]
    assert not unknown, (
        f"teach this test what to put in {unknown} of page {page.name!r}"
    )
    return reverse(page.name, kwargs={name: values[name] for name in page.parameters})


def object_pages() -> list[Page]:
    """Pages of one environment that name an object of it (a run, a batch, a key…)."""
    return [
        page
        for page in dashboard_pages()
        if set(page.parameters) - ENVIRONMENT_PARAMETERS - {"task_id", "field"}
        and "project" in page.parameters
    ]


def snapshot():
    return (
        sorted(Run.objects.values_list("id", "status", "delay_until", "tags")),
        sorted(Queue.objects.values_list("id", "paused", "concurrency_limit")),
        sorted(ApiKey.objects.values_list("id", "revoked_at", "expires_at")),
        sorted(
            run_models.Schedule.objects.values_list(
                "id", "cron", "active", "task_identifier", "external_id"
            )
        ),
        sorted(run_models.BulkAction.objects.values_list("id", "kind", "status")),
    )


def logged_in(user: User, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def test_the_dashboard_has_project_pages_to_protect():
    assert [page for page in dashboard_pages() if page.parameters], dashboard_pages()


def test_a_member_of_another_project_gets_404_on_every_page_and_changes_nothing(
    project, owned, owner, stranger
):
    pages = [page for page in dashboard_pages() if page.parameters]
    owner_client, stranger_client = logged_in(owner), logged_in(stranger)
    before = snapshot()

    for page in pages:
        url = url_of(page, project.project.slug, owned)
        seen = stranger_client.get(url).status_code
        posted = stranger_client.post(
            url, {"delay": "1h", "limit": "1", "name": "x"}
        ).status_code

        assert seen in (404, 405), (page.name, url, seen)
        assert posted in (404, 405), (page.name, url, posted)
        assert 404 in (seen, posted), (page.name, url, seen, posted)
        assert snapshot() == before, page.name

    # The same URLs serve their pages to a member: the 404s above are about access.
    for page in pages:
        url = url_of(page, project.project.slug, owned)
        allowed = (200, 302, 404, 405) if page.name in MAY_BE_EMPTY else (200, 302, 405)
        assert owner_client.get(url).status_code in allowed, (page.name, url)


def test_another_project_s_object_ids_in_one_s_own_project_urls_are_404(
    project, stranger_project, owned, stranger
):
    pages = object_pages()
    client = logged_in(stranger)
    before = snapshot()

    for page in pages:
        url = url_of(page, stranger_project.project.slug, owned)
        seen = client.get(url).status_code
        posted = client.post(url, {"delay": "1h", "limit": "1"}).status_code

        assert seen in (404, 405) and posted in (404, 405), (
            page.name,
            url,
            seen,
            posted,
        )
        assert snapshot() == before, page.name


def test_another_environment_s_object_ids_in_one_s_environment_urls_are_404(
    project, owned, owned_in_production, owner
):
    # Given a member of a project with objects in its development and production
    pages = object_pages()
    client = logged_in(owner)
    slug = project.project.slug
    before = snapshot()

    # When they open development's pages with production's ids, and post to them
    for page in pages:
        url = url_of(page, slug, owned_in_production, env="dev")
        seen = client.get(url).status_code
        posted = client.post(
            url, {"delay": "1h", "limit": "1", "name": "x"}
        ).status_code

        # Then each answers 404 (or 405 to a method it never serves), as an
        # unknown id would, and changes nothing in either environment
        answers = (page.name, url, seen, posted)
        assert seen in (404, 405) and posted in (404, 405), answers
        assert 404 in (seen, posted), answers
        assert snapshot() == before, page.name

    # And a bulk action started from development on production's run creates nothing
    bulk_url = reverse("bulk-create", kwargs={"project": slug, "env": "dev"})
    selected = owned_in_production["run_id"]
    client.post(bulk_url, {"kind": "CANCEL", "scope": "selected", "selected": selected})
    assert snapshot() == before

    # And the same ids serve their pages in production: the 404s are about the
    # environment, not the ids
    for page in pages:
        url = url_of(page, slug, owned_in_production, env="prod")
        allowed = (200, 302, 404, 405) if page.name in MAY_BE_EMPTY else (200, 302, 405)
        assert client.get(url).status_code in allowed, (page.name, url)


def test_anonymous_visitors_are_sent_to_the_login_page(project, owned):
    client = Client()

    for page in dashboard_pages() + [Page("home", "", ())]:
        url = url_of(page, project.project.slug, owned)
        response = client.get(url)

        assert response.status_code in (302, 405), (page.name, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith(settings.LOGIN_URL), page.name


def test_a_forged_session_cookie_grants_nothing(project, owned, owner):
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "f" * 32
    run_url = reverse(
        "run",
        kwargs={
            "project": project.project.slug,
            "env": "dev",
            "run_id": owned["run_id"],
        },
    )

    response = client.get(run_url)

    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)


def test_a_session_cookie_is_worthless_once_its_user_logged_out(project, owned, owner):
    client = Client()
    client.force_login(owner)
    stolen = client.cookies[settings.SESSION_COOKIE_NAME].value
    run_url = reverse(
        "run",
        kwargs={
            "project": project.project.slug,
            "env": "dev",
            "run_id": owned["run_id"],
        },
    )
    assert client.get(run_url).status_code == 200
    client.post(reverse("logout"))

    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stolen
    response = thief.get(run_url)

    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)


def test_a_dashboard_session_does_not_open_the_api(owner):
    client = logged_in(owner)

    response = client.get("/api/v1/runs")

    assert response.status_code == 401
    assert set(response.json()) == {"error"}


def test_every_dashboard_post_without_a_csrf_token_is_refused(project, owned, owner):
    client = logged_in(owner, enforce_csrf_checks=True)
    before = snapshot()

    for page in dashboard_pages() + [Page("logout", "logout/", ())]:
        url = url_of(page, project.project.slug, owned)
        response = client.post(url, {"delay": "1h", "limit": "1", "name": "x"})

        assert response.status_code == 403, (page.name, url, response.status_code)
    assert snapshot() == before
    assert (
        client.get(
            reverse(
                "run",
                kwargs={
                    "project": project.project.slug,
                    "env": "dev",
                    "run_id": owned["run_id"],
                },
            )
        ).status_code
        == 200
    )


def test_a_dashboard_post_with_the_csrf_token_goes_through(project, owned, owner):
    client = logged_in(owner, enforce_csrf_checks=True)
    run_url = reverse(
        "run",
        kwargs={
            "project": project.project.slug,
            "env": "dev",
            "run_id": owned["run_id"],
        },
    )
    client.get(run_url)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    cancel_url = reverse(
        "run-cancel",
        kwargs={
            "project": project.project.slug,
            "env": "dev",
            "run_id": owned["run_id"],
        },
    )

    response = client.post(cancel_url, HTTP_X_CSRFTOKEN=token)

    assert response.status_code in (200, 302)
    assert Run.objects.get(pk=owned["run_id"]).status == "CANCELED"


def test_the_login_form_refuses_a_post_without_a_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        reverse("login"), {"username": owner.username, "password": "pw-123456789"}
    )

    assert response.status_code == 403
    assert settings.SESSION_COOKIE_NAME not in response.cookies
