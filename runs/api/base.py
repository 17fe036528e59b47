"""The one guard of the JSON API: authentication, errors as {"error": …}, responses."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from typing import Any

import jwt
from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from apikeys.auth import AuthenticationFailed, authenticate_key, parse_bearer
from apikeys.models import Environment
from apikeys.ratelimit import RateState, count_request
from runs.engine import EngineError
from runs.models import RequestIdempotency
from runs.packets import PacketError

logger = logging.getLogger(__name__)

PUBLIC_TOKEN_SECONDS = 3600
DATABASE_RETRY_AFTER_SECONDS = 5
SERVER_ERROR_MESSAGE = "Internal server error"
UNUSABLE_VALUE_MESSAGE = (
    "Invalid value: the request holds a value that cannot be stored, such as a NUL "
    "character, a lone surrogate, a text longer than its field holds, or a number "
    "or duration out of range"
)
TOKEN_ISSUER = "https://id.trigger.dev"
TOKEN_AUDIENCE = "https://api.trigger.dev"


class SecretKeyAuth:
    """Resolve the Bearer secret key to its environment (request.auth)."""

    openapi_type = "http"
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> Environment:
        token = parse_bearer(request.headers.get("Authorization"))
        key = authenticate_key(token)
        request.rate_limit = count_request(key.pk)
        if request.rate_limit is not None and request.rate_limit.exceeded:
            raise RateLimited(request.rate_limit)
        return key.environment


class RateLimited(Exception):
    """The key used up its requests for this window."""

    def __init__(self, state: RateState) -> None:
        super().__init__("Rate limit exceeded")
        self.state = state


api = NinjaAPI(
    title="Triggerkit API",
    version="1",
    description="Trigger runs, batch them, and read, cancel, replay or reschedule them.",
    auth=SecretKeyAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api",
)


def error_response(
    message: str, status: int, headers: dict[str, str] | None = None, **extra: Any
) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    if status == 404:
        response["x-should-retry"] = "false"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(data, status=status, safe=False, encoder=DjangoJSONEncoder)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(AuthenticationFailed)
def on_authentication_failed(request: HttpRequest, exc: AuthenticationFailed) -> JsonResponse:
    return error_response(str(exc), 401)


@api.exception_handler(RateLimited)
def on_rate_limited(request: HttpRequest, exc: RateLimited) -> JsonResponse:
    retry_after = max(1, int(exc.state.reset_ms / 1000 - time.time()))
    return error_response(
        "Rate limit exceeded", 429, {**exc.state.headers(), "Retry-After": str(retry_after)}
    )


@api.exception_handler(DatabaseError)
def on_database_error(request: HttpRequest, exc: DatabaseError) -> JsonResponse:
    if isinstance(exc, DataError):
        # PostgreSQL refused a value (out of range, too long) and the request rolled
        # back. Its message may quote the value, so it gets the generic answer too.
        return on_unusable_value(request, exc)
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return on_unexpected_error(request, exc)
    logger.warning("database unavailable", extra={"action": "database_unavailable"})
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS), "x-should-retry": "true"}
    return error_response("Service unavailable: the database cannot be reached", 503, headers)


@api.exception_handler(ValueError)
@api.exception_handler(OverflowError)
def on_unusable_value(request: HttpRequest, exc: Exception) -> JsonResponse:
    """Values the schema let through but nothing can hold (NUL bytes, lone
    surrogates, numbers past what a date or duration holds).

    Only our own payload errors have messages written for users; any other
    ValueError, or a DataError from PostgreSQL, may carry internals (or the
    value itself), so it gets a generic answer and the log gets its type (and
    PostgreSQL's error code) and where it came from, without its text.
    """
    if isinstance(exc, PacketError):
        return error_response(f"Invalid value: {exc}", 400)

    frames = traceback.extract_tb(exc.__traceback__)
    origin = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown"
    kind = type(exc).__name__
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate:
        kind = f"{kind} {sqlstate}"
    logger.info(
        "unusable value refused on %s %s: %s at %s",
        request.method,
        request.path,
        kind,
        origin,
        extra={"action": "unusable_value"},
    )
    return error_response(UNUSABLE_VALUE_MESSAGE, 400)


@api.exception_handler(RecursionError)
def on_too_deep(request: HttpRequest, exc: RecursionError) -> JsonResponse:
    return error_response("JSON is nested too deeply", 400)


@api.exception_handler(AuthenticationError)
def on_ninja_authentication_error(request: HttpRequest, exc: AuthenticationError) -> JsonResponse:
    return error_response("Invalid or Missing API key", 401)


@api.exception_handler(EngineError)
def on_engine_error(request: HttpRequest, exc: EngineError) -> JsonResponse:
    return error_response(str(exc), exc.status)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> JsonResponse:
    return error_response("Request body too large", 413)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> JsonResponse:
    return error_response("Not found", 404)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> JsonResponse:
    return error_response("Forbidden", 403)


@api.exception_handler(SuspiciousOperation)
def on_suspicious_request(
    request: HttpRequest, exc: SuspiciousOperation
) -> JsonResponse:
    return error_response("Bad request", 400)


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> JsonResponse:
    """Anything else is our bug: log it whole, tell the client nothing of it."""
    logger.error(
        "unexpected API error on %s %s",
        request.method,
        request.path,
        exc_info=exc,
        extra={"action": "api_error"},
    )
    return error_response(SERVER_ERROR_MESSAGE, 500)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> JsonResponse:
    if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
        return error_response("Invalid JSON", 400)
    return error_response(str(exc), exc.status_code)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> JsonResponse:
    if request.method in ("POST", "PUT") and not request.body:
        return error_response("Request body is empty", 400)
    return error_response(describe_errors(exc.errors), 400, details=clean_errors(exc.errors))


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """One readable sentence per error, e.g. `options.tags.0: String should have …`."""
    parts = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        where = ".".join(location)
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "Validation error: " + "; ".join(parts)


def clean_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(part) for part in error.get("loc", ()) if part != "body"],
            "msg": error.get("msg", ""),
        }
        for error in errors
    ]


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for unknown URLs: JSON under /api/, the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return error_response("Not found", 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 for errors the API's handlers never saw: JSON under /api/, a page elsewhere.

    Django has already logged the exception with its traceback (django.request).
    """
    if request.path.startswith("/api/"):
        return error_response(SERVER_ERROR_MESSAGE, 500)
    return defaults.server_error(request)


def is_legacy_client(request: HttpRequest) -> bool:
    """SDK 3.x sends no api-version header and expects the legacy status names."""
    return "x-trigger-api-version" not in request.headers


def public_token_headers(environment: Environment, scopes: list[str]) -> dict[str, str]:
    """Headers carrying a public access token, so the SDK never signs its own."""
    claims = {"sub": environment.public_id, "pub": True, "scopes": scopes}
    now = int(time.time())
    token = jwt.encode(
        {**claims, "iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE, "iat": now, "exp": now + PUBLIC_TOKEN_SECONDS},
        environment.jwt_secret,
        algorithm="HS256",
    )
    return {"x-trigger-jwt": token, "x-trigger-jwt-claims": json.dumps(claims)}


def request_key(request: HttpRequest, scope: str) -> str | None:
    raw = request.headers.get("x-trigger-request-idempotency-key")
    if not raw:
        return None
    return hashlib.sha256(f"{scope}:{raw}".encode()).hexdigest()


def remembered_response(environment: Environment, key: str | None) -> dict[str, Any] | None:
    """The response a retried request got the first time, if it is remembered."""
    if key is None:
        return None
    return (
        RequestIdempotency.objects.filter(environment=environment, key=key)
        .values_list("response", flat=True)
        .first()
    )


def remember_response(environment: Environment, key: str | None, response: dict[str, Any]) -> None:
    if key is None:
        return
    RequestIdempotency.objects.bulk_create(
        [RequestIdempotency(environment=environment, key=key, response=response)],
        ignore_conflicts=True,
    )
