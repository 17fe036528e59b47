"""The API keys page: generate (shown once), revoke, regenerate with an overlap."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apikeys.models import ApiKey, Environment, create_api_key, revoke_api_key
from dashboard.access import environment_for
from dashboard.keys import (
    NAME_MAX_CHARS,
    OVERLAP_CHOICES,
    OVERLAP_SECONDS,
    regenerate_api_key,
)
from dashboard.pages import env_url, render_page


def keys_response(
    request: HttpRequest,
    environment: Environment,
    *,
    new_key: tuple[ApiKey, str] | None = None,
    errors: dict[str, str] | None = None,
    name: str = "",
) -> HttpResponse:
    keys = ApiKey.objects.filter(environment=environment).order_by("-created_at")
    context = {
        "keys": keys,
        "new_key": new_key,
        "errors": errors or {},
        "name": name,
        "overlaps": OVERLAP_CHOICES,
        "name_max": NAME_MAX_CHARS,
    }
    response = render_page(
        request,
        "dashboard/keys.html",
        environment,
        context,
        status=400 if errors else 200,
    )
    # A page showing a secret must not be kept by the browser or a proxy.
    response["Cache-Control"] = "no-store"
    return response


def get_key(environment: Environment, key_id: int) -> ApiKey:
    key = (
        ApiKey.objects.select_related("environment")
        .filter(pk=key_id, environment=environment)
        .first()
    )
    if key is None:
        raise Http404("No such key")
    return key


@login_required
@require_GET
def keys_page(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    return keys_response(request, environment)


@login_required
@require_http_methods(["GET", "POST"])
def key_create(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    if request.method == "GET":
        return redirect(env_url("keys", environment))
    name = request.POST.get("name", "").strip()
    if not name or len(name) > NAME_MAX_CHARS:
        error = (
            f"Give the key a name of 1 to {NAME_MAX_CHARS} characters, "
            "such as “billing backend”."
        )
        return keys_response(
            request, environment, errors={"name": error}, name=name[:200]
        )
    return keys_response(
        request, environment, new_key=create_api_key(environment, name)
    )


@login_required
@require_POST
def key_revoke(
    request: HttpRequest, project: str, env: str, key_id: int
) -> HttpResponse:
    environment = environment_for(request, project, env)
    key = get_key(environment, key_id)
    revoke_api_key(key)
    messages.success(
        request, f"Revoked “{key.name}” ({key.masked}). Requests with it now fail."
    )
    return redirect(env_url("keys", environment))


@login_required
@require_POST
def key_regenerate(
    request: HttpRequest, project: str, env: str, key_id: int
) -> HttpResponse:
    environment = environment_for(request, project, env)
    key = get_key(environment, key_id)
    raw = request.POST.get("overlap", "")
    if not raw.isdigit() or int(raw) not in OVERLAP_SECONDS:
        return keys_response(
            request,
            environment,
            errors={"overlap": "Choose how long the old key keeps working."},
        )
    if not key.is_active:
        return keys_response(
            request,
            environment,
            errors={"overlap": "That key no longer works; generate a new one."},
        )
    new_key = regenerate_api_key(key, timedelta(seconds=int(raw)))
    return keys_response(request, environment, new_key=new_key)
