"""Health endpoints: /healthz says the process is up, /readyz that it can work."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_CHECK_TIMEOUT_SECONDS = 2


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_ok(), "broker": broker_ok()}
    ready = all(checks.values())
    status = {name: "ok" if ok else "unreachable" for name, ok in checks.items()}
    response = JsonResponse({"status": "ok" if ready else "unavailable", **status},
                            status=200 if ready else 503)
    if not ready:
        response["Retry-After"] = "5"
    return response


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        logger.warning("database check failed", exc_info=True)
        return False


def broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_SECONDS)
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        logger.warning("broker check failed", exc_info=True)
        return False
