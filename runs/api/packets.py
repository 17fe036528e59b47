"""Packet endpoints: presigned uploads and downloads of payloads and outputs.

The TypeScript SDK uploads payloads of 128 KB and more itself (API.md §2.2):
``PUT /api/v2/packets/{name}`` gives it a presigned URL and a storagePath, it
PUTs the serialised payload there, then triggers with the storagePath and
``payloadType: "application/store"``. Downloads go through
``/api/v1/runs/{id}/packets/{payload|output}`` or ``/api/v1/packets/{name}``.

With the local store, the presigned URLs point at ``/api/objects/{token}``
below: signed, expiring links that need no API key, like S3's.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Q
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from ninja import Router

from runs import storage
from runs.api.base import error_response, json_response
from runs.api.schemas import ErrorResponse
from runs.engine import InvalidRequestError, NotFoundError, PayloadTooLargeError
from runs.models import Run

router = Router(tags=["packets"])

FIELDS = ("payload", "output")
ERRORS = {
    400: ErrorResponse,
    401: ErrorResponse,
    404: ErrorResponse,
    413: ErrorResponse,
}


@router.put("/v2/packets/{path:name}", response={200: dict, **ERRORS})
def create_upload(request: HttpRequest, name: str) -> JsonResponse:
    """A presigned URL to PUT a payload to, and the storagePath to trigger with."""
    key = storage.new_key(name.rsplit("/", 1)[-1])
    return json_response({"presignedUrl": storage.upload_url(key), "storagePath": key})


@router.get("/v1/packets/{path:name}", response={200: dict, **ERRORS})
def packet_download(request: HttpRequest, name: str) -> JsonResponse:
    """A presigned URL to GET a stored payload or output of a run of this environment."""
    runs = Run.objects.filter(environment=request.auth)
    if not runs.filter(Q(payload_key=name) | Q(output_key=name)).exists():
        raise NotFoundError("Packet not found")
    return json_response({"presignedUrl": storage.download_url(name)})


@router.get("/v1/runs/{run_id}/packets/{field}", response={200: dict, **ERRORS})
def run_packet_download(request: HttpRequest, run_id: str, field: str) -> JsonResponse:
    """A presigned URL to GET a run's payload or output, when it is in the object store."""
    if field not in FIELDS:
        raise InvalidRequestError(
            f"A run's packets are {' and '.join(FIELDS)}, not {field!r}"
        )
    run = Run.objects.filter(pk=run_id, environment=request.auth).first()
    if run is None:
        raise NotFoundError("Run not found")
    packet = storage.run_packet(run, field)
    if packet is None:
        raise NotFoundError(f"This run's {field} is not in the object store")
    return json_response({"presignedUrl": storage.download_url(packet.key)})


@router.get("/objects/{token}", auth=None, include_in_schema=False)
def local_object(request: HttpRequest, token: str) -> HttpResponse:
    """Serve a local object through a presigned GET URL, with its stored type."""
    store = local_store()
    try:
        key = storage.open_url(token, "GET")
    except storage.UrlError as exc:
        return error_response(str(exc), 403)

    opened = store.open(key) if store is not None else None
    if opened is None:
        return error_response("Object not found", 404)
    file, info = opened
    return FileResponse(
        file, content_type=info.content_type or "application/octet-stream"
    )


@router.put("/objects/{token}", auth=None, include_in_schema=False)
def local_upload(request: HttpRequest, token: str) -> HttpResponse:
    """Store the request body through a presigned PUT URL, keeping its Content-Type."""
    store = local_store()
    try:
        key = storage.open_url(token, "PUT")
    except storage.UrlError as exc:
        return error_response(str(exc), 403)
    if store is None:
        return error_response("Object not found", 404)

    content_type = request.headers.get("Content-Type", "application/octet-stream")
    store.write(key, request_chunks(request), content_type)
    return HttpResponse(status=200)


def local_store() -> storage.LocalStore | None:
    store = storage.store()
    return store if isinstance(store, storage.LocalStore) else None


def request_chunks(request: HttpRequest) -> Iterator[bytes]:
    """The request body in chunks, refused past the payload size limit."""
    limit = settings.TRIGGERKIT_PAYLOAD_MAX_BYTES
    too_large = PayloadTooLargeError(f"An upload may be at most {limit} bytes")
    if request.META.get("CONTENT_LENGTH"):
        if int(request.META["CONTENT_LENGTH"]) > limit:
            raise too_large
        stream = request
    elif request.META.get("wsgi.input_terminated"):
        stream = request.META["wsgi.input"]  # chunked, de-chunked by the server
    else:
        return

    received = 0
    while chunk := stream.read(storage.COPY_CHUNK_BYTES):
        received += len(chunk)
        if received > limit:
            raise too_large
        yield chunk
