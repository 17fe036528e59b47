"""The Celery app: workers execute runs, beat drives time-based promotion."""

from __future__ import annotations

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Redis URLs (redis://, rediss://, redis+socket://) get kombu's transport with
# the broker-restart fix of config/redis_transport.py. The alias table is the
# only hook `redis+socket://` URLs go through, so it is patched here, before any
# connection resolves its transport.
for _scheme in ("redis", "rediss"):
    TRANSPORT_ALIASES[_scheme] = "config.redis_transport:Transport"

app = Celery("triggerkit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["runs"])
