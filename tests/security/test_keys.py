"""Secret keys: stored only as a keyed hash, compared in constant time, revocable."""

from __future__ import annotations

import hashlib
import hmac
import inspect
from datetime import timedelta
from unittest import mock

from django.db import connection
from django.test import override_settings
from django.utils import timezone

from apikeys import auth
from apikeys.models import ApiKey, create_api_key, hash_key, revoke_api_key
from runs.models import Run


def test_a_revoked_key_is_refused_although_it_worked_before(api, project):
    assert api.get("/api/v1/runs").status_code == 200
    revoke_api_key(ApiKey.objects.get(environment=project.environments["DEVELOPMENT"]))

    listed = api.get("/api/v1/runs")
    triggered = api.trigger("echo", {"n": 1})

    assert listed.status_code == triggered.status_code == 401
    assert set(listed.json()) == {"error"}
    assert not Run.objects.exists()


def test_revoking_one_environment_s_key_leaves_the_others_working(api, project):
    revoke_api_key(ApiKey.objects.get(environment=project.environments["DEVELOPMENT"]))

    assert api.get("/api/v1/runs", key=project.staging).status_code == 200
    assert api.get("/api/v1/runs", key=project.prod).status_code == 200


def test_a_key_past_its_expiry_is_refused(api, project):
    ApiKey.objects.filter(environment=project.environments["DEVELOPMENT"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = api.get("/api/v1/runs")

    assert response.status_code == 401


def test_a_key_one_character_off_is_refused(api, project):
    last = project.dev[-1]
    wrong = project.dev[:-1] + ("A" if last != "A" else "B")

    assert api.get("/api/v1/runs", key=wrong).status_code == 401


def test_no_column_of_the_database_holds_a_key_or_its_secret_part(project):
    secrets = [project.dev, project.staging, project.prod]
    bodies = [key.rsplit("_", 1)[1] for key in secrets]
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM apikeys_apikey AS k")
        rows = [row for (row,) in cursor.fetchall()]

    assert len(rows) == 3
    for row in rows:
        for secret in secrets + bodies:
            assert secret not in row


def test_keys_are_stored_as_a_keyed_hash_not_a_plain_digest(project):
    stored = ApiKey.objects.get(
        environment=project.environments["DEVELOPMENT"]
    ).key_hash

    assert stored == hash_key(project.dev)
    assert stored != hashlib.sha256(project.dev.encode()).hexdigest()
    with override_settings(API_KEY_PEPPER="another-pepper"):
        assert hash_key(project.dev) != stored


def test_a_new_key_is_shown_once_and_kept_only_masked(project):
    key, raw = create_api_key(project.environments["PRODUCTION"], name="ci")

    key.refresh_from_db()
    assert raw not in str(key) and raw not in key.masked
    assert key.masked.endswith(raw[-4:])


def test_authentication_compares_digests_in_constant_time(project):
    source = inspect.getsource(auth.authenticate_key)
    assert "hmac.compare_digest(" in source

    with mock.patch.object(
        auth.hmac, "compare_digest", wraps=hmac.compare_digest
    ) as compare:
        auth.authenticate_key(project.dev)

    stored = ApiKey.objects.get(
        environment=project.environments["DEVELOPMENT"]
    ).key_hash
    compare.assert_called_once_with(stored, hash_key(project.dev))


def test_one_key_over_its_rate_limit_does_not_limit_another_key(api, project, settings):
    settings.TRIGGERKIT_API_RATE_LIMIT_PER_MINUTE = 2
    for _ in range(2):
        assert api.get("/api/v1/runs").status_code == 200

    limited = api.get("/api/v1/runs")
    other = api.get("/api/v1/runs", key=project.prod)

    assert limited.status_code == 429
    assert limited.json() == {"error": "Rate limit exceeded"}
    assert other.status_code == 200
