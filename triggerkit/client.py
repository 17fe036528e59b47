"""Configuration and HTTP transport of the SDK.

``configure()`` records settings; the environment fills in whatever it left out when
the first call needs a client, so variables set after import still count.
``ApiClient`` and ``AsyncApiClient`` send one ``ApiRequest`` each: they add the
headers the official SDK sends, retry as it does, and turn answers outside 2xx into
``ApiError`` subclasses. Every namespace of ``triggerkit.api`` sends through them.

Tests and workers inject an httpx transport instead of the network::

    configure("tr_dev_…", transport=httpx.MockTransport(handler))
    configure("tr_dev_…", transport=httpx.WSGITransport(app=wsgi_application))
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from importlib import metadata
from typing import Any

import httpx

from triggerkit.errors import (
    ApiConnectionError,
    ApiError,
    ConfigurationError,
    error_from_response,
)

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "http://localhost:8000"
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_MIN_DELAY_SECONDS = 1.0
DEFAULT_RETRY_FACTOR = 1.6
DEFAULT_TIMEOUT_SECONDS = 30.0

API_VERSION = "2025-07-16"
REQUEST_IDEMPOTENCY_HEADER = "x-trigger-request-idempotency-key"
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def _sdk_version() -> str:
    try:
        return metadata.version("triggerkit")
    except metadata.PackageNotFoundError:
        # Imported from a source tree that was never installed.
        return "0.0.0"


SDK_VERSION = _sdk_version()


@dataclass(frozen=True)
class ClientConfig:
    """How the SDK reaches the API; see ``configure()`` for each field."""

    secret_key: str | None = None
    api_url: str | None = None
    transport: httpx.BaseTransport | None = None
    async_transport: httpx.AsyncBaseTransport | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_min_delay: float = DEFAULT_RETRY_MIN_DELAY_SECONDS
    retry_factor: float = DEFAULT_RETRY_FACTOR
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def with_environment(self) -> ClientConfig:
        """Fill the secret key and API URL from the environment where unset."""
        secret_key = (
            self.secret_key
            or os.environ.get("TRIGGER_SECRET_KEY")
            or os.environ.get("TRIGGER_ACCESS_TOKEN")
        )
        if not secret_key:
            raise ConfigurationError(
                "No secret key: pass secret_key to triggerkit.configure() "
                "or set TRIGGER_SECRET_KEY"
            )

        api_url = self.api_url or os.environ.get("TRIGGER_API_URL") or DEFAULT_API_URL
        return replace(self, secret_key=secret_key, api_url=api_url.rstrip("/"))


@dataclass(frozen=True)
class ApiRequest:
    """One logical API call: the seam every namespace sends through.

    ``json`` is encoded with ``dumps_json``; when it is None, ``content`` (or
    nothing) is the body. ``idempotent`` adds the request idempotency key header,
    which stays the same on every retry of the call.
    """

    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool = True


@dataclass(frozen=True)
class ApiResponse:
    """The parsed JSON body of a 2xx answer (None when empty) and its headers."""

    data: Any
    headers: Mapping[str, str]


def dumps_json(value: Any) -> bytes:
    """Encode a value as compact UTF-8 JSON; datetimes and dates become ISO strings."""
    text = json.dumps(
        value,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )
    return text.encode()


def _json_default(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _BaseClient:
    """What the sync and async clients share: headers, retry policy, parsing."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._headers = {
            "Authorization": f"Bearer {config.secret_key}",
            "Content-Type": "application/json",
            "trigger-version": f"triggerkit-python/{SDK_VERSION}",
            "x-trigger-api-version": API_VERSION,
            "x-trigger-source": "sdk",
        }

    def _build(
        self, http: httpx.Client | httpx.AsyncClient, request: ApiRequest
    ) -> httpx.Request:
        headers = {**self._headers, **request.headers}
        if request.idempotent:
            headers[REQUEST_IDEMPOTENCY_HEADER] = str(uuid.uuid4())

        content = request.content if request.json is None else dumps_json(request.json)
        return http.build_request(
            request.method,
            request.path,
            params=request.params,
            headers=headers,
            content=content,
        )

    def _retry_delay(
        self, request: httpx.Request, attempt: int, response: httpx.Response | None
    ) -> float | None:
        """Return the seconds to wait before trying again, or None to stop."""
        if response is not None and not _should_retry(response):
            return None
        if attempt >= self.config.max_attempts:
            logger.warning(
                "Giving up on %s %s after %d attempts",
                request.method,
                request.url.path,
                attempt,
            )
            return None

        delay = _rate_limit_wait(response, self.config.retry_min_delay)
        if delay is None:
            delay = self.config.retry_min_delay * self.config.retry_factor ** (
                attempt - 1
            )
        logger.debug(
            "Retrying %s %s in %.3f s after attempt %d",
            request.method,
            request.url.path,
            delay,
            attempt,
        )
        return delay

    def _connection_error(self, exc: httpx.TransportError) -> ApiConnectionError:
        return ApiConnectionError(
            f"Could not reach {self.config.api_url}: {type(exc).__name__}: {exc}"
        )


class ApiClient(_BaseClient):
    """Sends API requests over a keep-alive ``httpx.Client``."""

    def __init__(self, config: ClientConfig) -> None:
        super().__init__(config)
        self._http = httpx.Client(
            base_url=config.api_url or DEFAULT_API_URL,
            headers={"User-Agent": f"triggerkit-python/{SDK_VERSION}"},
            timeout=config.timeout,
            transport=config.transport,
        )

    def send(self, request: ApiRequest) -> ApiResponse:
        """Send one API call, retrying it as the official SDK does.

        Raises:
            ApiError: (a subclass of) when the final answer is outside 2xx.
            ApiConnectionError: when the last attempt could not reach the server.
        """
        http_request = self._build(self._http, request)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(http_request)
            except httpx.TransportError as exc:
                delay = self._retry_delay(http_request, attempt, None)
                if delay is None:
                    raise self._connection_error(exc) from exc
            else:
                delay = self._retry_delay(http_request, attempt, response)
                if delay is None:
                    return _result(response)
            time.sleep(delay)

    def download(self, url: str) -> Any:
        """GET a presigned packet URL without credentials; parse it by Content-Type."""
        try:
            response = self._http.get(url)
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        return _parse_packet(response)

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()


class AsyncApiClient(_BaseClient):
    """Sends API requests over a keep-alive ``httpx.AsyncClient``."""

    def __init__(self, config: ClientConfig) -> None:
        super().__init__(config)
        self._http = httpx.AsyncClient(
            base_url=config.api_url or DEFAULT_API_URL,
            headers={"User-Agent": f"triggerkit-python/{SDK_VERSION}"},
            timeout=config.timeout,
            transport=config.async_transport or _async_capable(config.transport),
        )

    async def send(self, request: ApiRequest) -> ApiResponse:
        """Send one API call, retrying it as the official SDK does.

        Raises:
            ApiError: (a subclass of) when the final answer is outside 2xx.
            ApiConnectionError: when the last attempt could not reach the server.
        """
        http_request = self._build(self._http, request)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.send(http_request)
            except httpx.TransportError as exc:
                delay = self._retry_delay(http_request, attempt, None)
                if delay is None:
                    raise self._connection_error(exc) from exc
            else:
                delay = self._retry_delay(http_request, attempt, response)
                if delay is None:
                    return _result(response)
            await asyncio.sleep(delay)

    async def download(self, url: str) -> Any:
        """GET a presigned packet URL without credentials; parse it by Content-Type."""
        try:
            response = await self._http.get(url)
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        return _parse_packet(response)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()


def _async_capable(
    transport: httpx.BaseTransport | None,
) -> httpx.AsyncBaseTransport | None:
    """Return the sync transport if it serves async requests too, as mocks do."""
    return transport if isinstance(transport, httpx.AsyncBaseTransport) else None


def _should_retry(response: httpx.Response) -> bool:
    if response.is_success:
        return False

    verdict: str | None = response.headers.get("x-should-retry")
    if verdict in ("true", "false"):
        return verdict == "true"
    return response.status_code in RETRYABLE_STATUSES or response.status_code >= 500


def _rate_limit_wait(response: httpx.Response | None, jitter: float) -> float | None:
    """Return the wait until a 429's rate-limit reset, if that lies ahead."""
    if response is None or response.status_code != 429:
        return None
    try:
        reset_ms = float(response.headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None

    wait = reset_ms / 1000 - time.time()
    if wait <= 0:
        return None
    # Spread the clients that were limited together; one minimum retry delay of
    # jitter is the official SDK's 0-1 s with the default settings.
    return wait + random.uniform(0, jitter)


def _result(response: httpx.Response) -> ApiResponse:
    if not response.is_success:
        raise error_from_response(
            response.status_code, _error_body(response), response.headers
        )
    if not response.content:
        return ApiResponse(None, response.headers)

    try:
        data = response.json()
    except ValueError as exc:
        raise ApiError(
            response.status_code,
            f"{response.status_code} response body is not valid JSON",
            response.text,
            response.headers,
        ) from exc
    return ApiResponse(data, response.headers)


def _error_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _parse_packet(response: httpx.Response) -> Any:
    """Decode a downloaded payload or output the way its Content-Type says."""
    if not response.is_success:
        raise error_from_response(
            response.status_code, _error_body(response), response.headers
        )

    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "application/json":
        return response.json()
    if content_type == "application/super+json":
        return response.json().get("json")
    return response.text


_lock = threading.Lock()
_settings = ClientConfig()
_config: ClientConfig | None = None
_client: ApiClient | None = None
_async_client: AsyncApiClient | None = None
_async_loop: asyncio.AbstractEventLoop | None = None


def configure(
    secret_key: str | None = None,
    api_url: str | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    async_transport: httpx.AsyncBaseTransport | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_min_delay: float = DEFAULT_RETRY_MIN_DELAY_SECONDS,
    retry_factor: float = DEFAULT_RETRY_FACTOR,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """Set how the SDK reaches the API.

    Each call replaces the previous configuration and drops the clients built from
    it. Without any call, the first API call reads the environment.

    Args:
        secret_key: The environment's secret key (``tr_dev_…``); defaults to
            ``TRIGGER_SECRET_KEY``, then ``TRIGGER_ACCESS_TOKEN``.
        api_url: The server's base URL; defaults to ``TRIGGER_API_URL``, then
            ``http://localhost:8000``. A trailing slash is dropped.
        transport: An httpx transport for the sync client, such as
            ``httpx.MockTransport`` or ``httpx.WSGITransport``; the network if None.
        async_transport: The same for the async client; by default ``transport``
            when it serves async requests too, as ``httpx.MockTransport`` does.
        max_attempts: How many times one call is tried in all.
        retry_min_delay: Seconds before the first retry.
        retry_factor: How much each further retry delay grows.
        timeout: Seconds before one HTTP attempt times out.

    Raises:
        ConfigurationError: if ``max_attempts`` is below 1.
    """
    if max_attempts < 1:
        raise ConfigurationError("max_attempts must be at least 1")

    settings = ClientConfig(
        secret_key=secret_key,
        api_url=api_url,
        transport=transport,
        async_transport=async_transport,
        max_attempts=max_attempts,
        retry_min_delay=retry_min_delay,
        retry_factor=retry_factor,
        timeout=timeout,
    )
    _replace_settings(settings)


def reset() -> None:
    """Forget ``configure()`` and drop the clients; the next call reads the env."""
    _replace_settings(ClientConfig())


def get_config() -> ClientConfig:
    """Return the configuration in force, completed from the environment.

    Raises:
        ConfigurationError: if no secret key is configured.
    """
    with _lock:
        return _current_config()


def get_client() -> ApiClient:
    """Return the shared sync client, building it at the first call.

    Raises:
        ConfigurationError: if no secret key is configured.
    """
    global _client
    with _lock:
        if _client is None:
            _client = ApiClient(_current_config())
        return _client


def get_async_client() -> AsyncApiClient:
    """Return the async client of the running event loop, building it if needed.

    An ``httpx.AsyncClient`` keeps connections that belong to one event loop, so a
    new loop (another ``asyncio.run()``) gets a new client. Call from a coroutine.

    Raises:
        ConfigurationError: if no secret key is configured.
        RuntimeError: if no event loop is running.
    """
    global _async_client, _async_loop
    loop = asyncio.get_running_loop()
    with _lock:
        if _async_client is None or _async_loop is not loop:
            _async_client = AsyncApiClient(_current_config())
            _async_loop = loop
        return _async_client


def _current_config() -> ClientConfig:
    """Resolve the configuration once; the caller holds the lock."""
    global _config
    if _config is None:
        _config = _settings.with_environment()
    return _config


def _replace_settings(settings: ClientConfig) -> None:
    global _settings, _config, _client, _async_client, _async_loop
    with _lock:
        if _client is not None:
            _client.close()
        # An async client can only be closed from its own event loop, which may be
        # gone; it is dropped and its connections close when it is collected.
        _settings = settings
        _config = _client = _async_client = _async_loop = None
