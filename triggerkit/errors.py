"""Exceptions raised by the Triggerkit SDK.

Everything the SDK raises on purpose derives from one base class::

    TriggerkitError
    ├── ConfigurationError              no secret key, unusable settings
    ├── ApiConnectionError              the server could not be reached
    ├── BatchNotSealedError             a batch stayed open after every resend
    ├── PollTimeoutError                a run did not finish before the timeout
    └── ApiError                        the server answered outside 2xx
        ├── BadRequestError                 400
        ├── AuthenticationError             401
        ├── PermissionDeniedError           403
        ├── NotFoundError                   404
        ├── ConflictError                   409
        ├── UnprocessableEntityError        422
        ├── RateLimitError                  429
        └── InternalServerError             500 and above

Mistakes in the arguments of a call (an unknown option, too many batch items) raise
the built-in ``TypeError`` or ``ValueError`` before any request is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class TriggerkitError(Exception):
    """Base class of every error the SDK raises."""


class ConfigurationError(TriggerkitError):
    """The SDK is not configured well enough to call the API."""


class ApiConnectionError(TriggerkitError):
    """The API could not be reached, even after retrying."""


class BatchNotSealedError(TriggerkitError):
    """The server still had not received every item of a batch after the resends."""

    def __init__(self, batch_id: str, items_accepted: int, items_deduplicated: int):
        super().__init__(
            f"Batch {batch_id} was not sealed: the server accepted {items_accepted} "
            f"items and deduplicated {items_deduplicated}"
        )
        self.batch_id = batch_id
        self.items_accepted = items_accepted
        self.items_deduplicated = items_deduplicated


class PollTimeoutError(TriggerkitError):
    """A polled run was still not completed when the timeout ran out."""

    def __init__(self, run_id: str, timeout: float):
        super().__init__(f"Run {run_id} did not complete within {timeout} seconds")
        self.run_id = run_id
        self.timeout = timeout


class ApiError(TriggerkitError):
    """The API answered with a status outside 2xx.

    Attributes:
        status: The HTTP status code.
        message: The server's ``error`` text, or a description of the answer.
        body: The parsed JSON body, the raw text when it was not JSON, or None.
        headers: The response headers.
    """

    def __init__(
        self,
        status: int,
        message: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body
        self.headers: Mapping[str, str] = headers if headers is not None else {}


class BadRequestError(ApiError):
    """400: the request was malformed."""


class AuthenticationError(ApiError):
    """401: the secret key is missing or unknown."""


class PermissionDeniedError(ApiError):
    """403: the key is valid but may not do this."""


class NotFoundError(ApiError):
    """404: no such run, batch, task or key in this environment."""


class ConflictError(ApiError):
    """409: the request conflicts with the current state."""


class UnprocessableEntityError(ApiError):
    """422: the request is well formed but breaks a rule of the service."""


class RateLimitError(ApiError):
    """429: too many requests."""


class InternalServerError(ApiError):
    """500 and above: the server failed."""


_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_from_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> ApiError:
    """Build the error that matches a non-2xx answer of the API.

    Args:
        status: The HTTP status code.
        body: The parsed JSON body; a ``str`` stands for a body that was not JSON,
            ``None`` for an empty one.
        headers: The response headers.

    Returns:
        An instance of the ``ApiError`` subclass for the status; the caller raises it.
    """
    if status >= 500:
        error_class: type[ApiError] = InternalServerError
    else:
        error_class = _ERRORS_BY_STATUS.get(status, ApiError)
    return error_class(status, _message(status, body), body, headers)


def _message(status: int, body: Any) -> str:
    """Pick the message the way the official SDK does."""
    if isinstance(body, str) and body:
        return f"{status} {body}"
    if not isinstance(body, dict) or "error" not in body:
        return f"{status} status code (no body)"

    error = body["error"]
    if isinstance(error, str):
        return error
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else json.dumps(error)
