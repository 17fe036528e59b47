"""Errors the engine raises; the API turns each into its status code."""

from __future__ import annotations


class EngineError(Exception):
    """A request the engine refused; nothing was written."""

    status = 400


class InvalidRequestError(EngineError):
    status = 400


class NotFoundError(EngineError):
    status = 404


class UnprocessableError(EngineError):
    status = 422


class PayloadTooLargeError(EngineError):
    status = 413
