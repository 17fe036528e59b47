"""System checks of the observability settings (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security, deploy=True)
def check_metrics_token(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """In production, /metrics must be behind METRICS_TOKEN."""
    if not settings.PRODUCTION or settings.METRICS_TOKEN:
        return []
    return [
        Error(
            "METRICS_TOKEN is not set: /metrics answers 403 in production until it is.",
            hint=(
                "Set METRICS_TOKEN to a long random string and give it to Prometheus "
                "as its bearer token (docs/metrics.md)."
            ),
            id="observability.E001",
        )
    ]
