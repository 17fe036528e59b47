"""`GET /api/v1/whoami`: the project and environment a secret key belongs to."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from ninja import Router, Schema

from runs.api.base import json_response
from runs.api.schemas import ErrorResponse

router = Router(tags=["keys"])


class ProjectOut(Schema):
    name: str
    slug: str


class EnvironmentOut(Schema):
    id: str
    kind: str
    slug: str


class WhoamiResponse(Schema):
    project: ProjectOut
    environment: EnvironmentOut


@router.get("/v1/whoami", response={200: WhoamiResponse, 401: ErrorResponse})
def whoami(request: HttpRequest) -> JsonResponse:
    """Name the project and environment of the key that signs this request."""
    environment = request.auth
    project = environment.project
    return json_response(
        {
            "project": {"name": project.name, "slug": project.slug},
            "environment": {
                "id": environment.public_id,
                "kind": environment.kind,
                "slug": environment.slug,
            },
        }
    )
