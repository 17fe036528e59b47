"""Large payloads and outputs in an object store, reached through presigned URLs.

A value above TRIGGERKIT_OFFLOAD_THRESHOLD_BYTES is stored as an object, and
the run keeps a small record of it in place of the value, with the type
"application/store":

    payload       {"key": "packets/packet_0kq…/payload.json", "size": 2097152,
                   "type": "application/super+json"}
    payload_type  application/store

Object keys are ``packets/<packet id>/<file>``: a fresh packet id (``packet_``
and 26 characters whose first ten encode the time it was made) for every
stored value, whether the server offloaded it or an SDK uploaded it, and a
file name such as ``payload.json`` or ``output.json``. See docs/storage.md.

Two stores: any S3-compatible service through boto3 when TRIGGERKIT_S3_BUCKET
is set, else a local folder (TRIGGERKIT_OBJECTS_DIR, ``var/objects/``) whose
presigned URLs are signed, expiring links that Django serves under
``/api/objects/``. Either client is built on first use; a failure of the store
is logged once, here, and raised as StorageError.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.core import checks, signing
from django.core.signals import setting_changed
from django.db.models import Q
from django.dispatch import receiver

from runs import packets
from runs.engine import EngineError, InvalidRequestError, PayloadTooLargeError
from runs.ids import ALPHABET, TIME_CHARS, new_id
from runs.models import Run

logger = logging.getLogger(__name__)

KEY_PREFIX = "packets/"
KEY_PATTERN = re.compile(
    rf"^packets/packet_[{ALPHABET}]{{26}}/[A-Za-z0-9_-]{{1,64}}(\.[A-Za-z0-9]{{1,16}})?$"
)
FILE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9]{1,16})?$")
# Types a stored payload may have; the worker decodes each of them.
READABLE_TYPES = (packets.JSON, packets.SUPERJSON, packets.TEXT)
EXTENSIONS = {packets.JSON: "json", packets.SUPERJSON: "json", packets.TEXT: "txt"}
URL_SALT = "triggerkit.storage.url"
LOCAL_URL_PATH = "/api/objects/"
LOCAL_META_SUFFIX = ".meta"
COPY_CHUNK_BYTES = 1024 * 1024
# Keys the orphan sweep looks at per call (one listing request, two queries).
SWEEP_PAGE_SIZE = 1000
S3_CONNECT_TIMEOUT_SECONDS = 5
S3_READ_TIMEOUT_SECONDS = 120


class StorageError(EngineError):
    """The object store failed or cannot be reached; the API answers 503."""

    status = 503


class OutputTooLargeError(ValueError):
    """A task returned more than TRIGGERKIT_OUTPUT_MAX_BYTES."""


@dataclass(frozen=True)
class StoredPacket:
    """What a run keeps of a value in the object store."""

    key: str
    size: int
    content_type: str

    def to_column(self) -> str:
        return packets.encode_json(
            {"key": self.key, "size": self.size, "type": self.content_type}
        )

    @classmethod
    def from_column(cls, data: str | None, data_type: str) -> StoredPacket | None:
        """The record in a payload or output column, or None for an inline value."""
        if data_type != packets.STORE or not data:
            return None
        try:
            record = json.loads(data)
            return cls(str(record["key"]), int(record["size"]), str(record["type"]))
        except (ValueError, TypeError, KeyError):
            logger.warning(
                "unreadable stored packet record", extra={"action": "bad_packet"}
            )
            return None


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str


class Store(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def get(self, key: str) -> tuple[bytes, str]: ...
    def delete(self, keys: list[str]) -> None: ...
    def list_keys(self, start_after: str, limit: int) -> list[str]: ...
    def url(self, key: str, method: str, expires_in: int) -> str: ...
    def problems(self) -> list[str]: ...


# Service functions: what the API, the worker and beat call ----------------------


def new_key(file: str) -> str:
    """A key for a value stored now: packets/<new packet id>/<file>."""
    if not FILE_PATTERN.match(file) or file.endswith(LOCAL_META_SUFFIX):
        file = "payload"
    return f"{KEY_PREFIX}{new_id('packet')}/{file}"


def offload(data: str, data_type: str, field: str) -> tuple[str, str]:
    """Store a value as a new object; return the record the run keeps instead."""
    raw = data.encode()
    key = new_key(f"{field}.{EXTENSIONS.get(data_type, 'bin')}")
    store().put(key, raw, data_type)
    return StoredPacket(key, len(raw), data_type).to_column(), packets.STORE


def offload_if_large(
    data: str | None, data_type: str, field: str
) -> tuple[str | None, str]:
    """Keep a small value as it is; store one above the threshold as an object."""
    if data is None or data_type == packets.STORE:
        return data, data_type
    if len(data.encode()) <= settings.TRIGGERKIT_OFFLOAD_THRESHOLD_BYTES:
        return data, data_type
    return offload(data, data_type, field)


def attach_upload(storage_path: Any) -> StoredPacket:
    """Check an object an SDK uploaded for a trigger; return the record to keep.

    Raises InvalidRequestError (400) when it is missing, too old or of a type the
    worker cannot read, and PayloadTooLargeError (413) above the payload limit;
    an object refused for its size is deleted.
    """
    if not isinstance(storage_path, str) or not storage_path:
        raise InvalidRequestError(
            "An application/store payload must be the storagePath of an upload"
        )
    if not KEY_PATTERN.match(storage_path):
        raise InvalidRequestError(
            f"Unknown storagePath {storage_path[:300]!r}: upload the payload with "
            "PUT /api/v2/packets/{name} first"
        )
    if packet_age_seconds(storage_path) > attach_window_seconds():
        raise InvalidRequestError(
            f"The upload {storage_path} is too old to be used; upload the payload again"
        )

    info = store().head(storage_path)
    if info is None:
        raise InvalidRequestError(f"Nothing was uploaded to {storage_path}")
    limit = settings.TRIGGERKIT_PAYLOAD_MAX_BYTES
    if info.size > limit:
        discard([storage_path])
        raise PayloadTooLargeError(
            f"Payload is too large: {info.size} bytes, the limit is {limit}"
        )
    content_type = media_type(info.content_type)
    if content_type not in READABLE_TYPES:
        raise InvalidRequestError(
            f"An uploaded payload must be one of {', '.join(READABLE_TYPES)}; "
            f"{storage_path} is {info.content_type!r}"
        )
    return StoredPacket(storage_path, info.size, content_type)


def store_output(run: Run, data: str) -> tuple[str, str]:
    """Return how a run keeps its output: inline, or as an object above the threshold.

    Raises OutputTooLargeError above TRIGGERKIT_OUTPUT_MAX_BYTES.
    """
    size = len(data.encode())
    limit = settings.TRIGGERKIT_OUTPUT_MAX_BYTES
    if size > limit:
        raise OutputTooLargeError(
            f"Output is {size} bytes; outputs are limited to {limit} bytes "
            "(TRIGGERKIT_OUTPUT_MAX_BYTES)"
        )
    # A parent waiting on this run reads its output from the row when it resumes
    # (runs.engine.waits.run_result decodes it inline), so such outputs stay in
    # the database until the engine can read stored packets itself.
    if run.parent_run_id and run.trigger_function.endswith("AndWait"):
        return data, packets.JSON
    if size <= settings.TRIGGERKIT_OFFLOAD_THRESHOLD_BYTES:
        return data, packets.JSON
    return offload(data, packets.JSON, "output")


def read(data: str | None, data_type: str) -> tuple[str | None, str]:
    """Return a packet's own text and type, downloading it if it is stored."""
    packet = StoredPacket.from_column(data, data_type)
    if packet is None:
        return data, data_type
    raw, _ = store().get(packet.key)
    return raw.decode(), packet.content_type


def download_url(key: str) -> str:
    return store().url(key, "GET", settings.TRIGGERKIT_PRESIGNED_URL_SECONDS)


def upload_url(key: str) -> str:
    return store().url(key, "PUT", settings.TRIGGERKIT_PRESIGNED_URL_SECONDS)


def run_packet(run: Run, field: str) -> StoredPacket | None:
    """The stored payload or output of a run (None when inline or absent)."""
    if field == "payload":
        return StoredPacket.from_column(run.payload, run.payload_type)
    if field == "output":
        return StoredPacket.from_column(run.output, run.output_type)
    return None


def keys_in_use(keys: Iterable[str]) -> set[str]:
    keys = list(keys)
    if not keys:
        return set()
    rows = Run.objects.filter(Q(payload_key__in=keys) | Q(output_key__in=keys))
    used = set()
    for payload_key, output_key in rows.values_list("payload_key", "output_key"):
        used.update((payload_key, output_key))
    return used & set(keys)


def discard(keys: Iterable[str]) -> None:
    """Delete objects no run uses (those of a refused or deduplicated trigger)."""
    unused = [key for key in set(keys) if KEY_PATTERN.match(key)]
    unused = sorted(set(unused) - keys_in_use(unused))
    if unused:
        store().delete(unused)


def discard_quietly(keys: Iterable[str]) -> None:
    """Like discard, for cleanup paths: a failure is logged, the sweep retries later."""
    try:
        discard(keys)
    except Exception:  # noqa: BLE001 - the original error matters more
        logger.exception(
            "could not delete unused objects", extra={"action": "discard_failed"}
        )


def discard_unused(data: str | None, data_type: str) -> None:
    """Delete the object behind a payload or output column if no run uses it."""
    packet = StoredPacket.from_column(data, data_type)
    if packet is not None:
        discard_quietly([packet.key])


# The orphan sweep ---------------------------------------------------------------

# Where the sweep stopped: keys sort by packet id, i.e. by the time they were made.
_sweep_cursor = ""


def sweep_orphans(now: float | None = None) -> int:
    """Delete objects that no run uses once they can no longer be attached.

    An upload URL works for TRIGGERKIT_PRESIGNED_URL_SECONDS and its object may be
    attached for TRIGGERKIT_ORPHAN_GRACE_SECONDS / 2 more (attach_window_seconds);
    this deletes unused objects older than URL lifetime + the whole grace period.
    Each call reads one page of keys after the previous call's, oldest first. A
    store failure (logged where it happened) waits for the next call.
    """
    try:
        return delete_orphans(time.time() if now is None else now)
    except StorageError:
        return 0


def delete_orphans(now: float) -> int:
    global _sweep_cursor
    cutoff = (
        settings.TRIGGERKIT_PRESIGNED_URL_SECONDS
        + settings.TRIGGERKIT_ORPHAN_GRACE_SECONDS
    )
    examined = []
    for key in store().list_keys(_sweep_cursor, SWEEP_PAGE_SIZE):
        if KEY_PATTERN.match(key) and packet_age_seconds(key, now) <= cutoff:
            break
        examined.append(key)
    if not examined:
        return 0

    _sweep_cursor = examined[-1]
    due = [key for key in examined if KEY_PATTERN.match(key)]
    orphans = sorted(set(due) - keys_in_use(due))
    if orphans:
        store().delete(orphans)
        logger.info(
            "deleted %d orphaned objects",
            len(orphans),
            extra={"action": "orphans_deleted"},
        )
    return len(orphans)


def reset_sweep() -> None:
    global _sweep_cursor
    _sweep_cursor = ""


def packet_age_seconds(key: str, now: float | None = None) -> float:
    """Seconds since the packet id in a key was made."""
    body = key.removeprefix(KEY_PREFIX).split("/", 1)[0].removeprefix("packet_")
    millis = 0
    for char in body[:TIME_CHARS]:
        millis = millis * 32 + ALPHABET.index(char)
    return (time.time() if now is None else now) - millis / 1000


def attach_window_seconds() -> float:
    """How long after its upload URL was made an object may still be attached."""
    return (
        settings.TRIGGERKIT_PRESIGNED_URL_SECONDS
        + settings.TRIGGERKIT_ORPHAN_GRACE_SECONDS / 2
    )


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip()


# The stores ---------------------------------------------------------------------


@functools.cache
def store() -> Store:
    """The configured store, built on first use."""
    if settings.TRIGGERKIT_S3_BUCKET:
        return S3Store()
    return LocalStore(Path(settings.TRIGGERKIT_OBJECTS_DIR))


@receiver(setting_changed)
def forget_store(setting: str, **kwargs: Any) -> None:
    if setting.startswith(("TRIGGERKIT_S3_", "TRIGGERKIT_OBJECTS_DIR", "SITE_URL")):
        store.cache_clear()


def failure(action: str, key: str, exc: Exception) -> StorageError:
    """Log a store failure once and return the error to raise."""
    logger.error(
        "object store %s of %s failed: %s",
        action,
        key,
        exc,
        extra={"action": "storage_failed"},
    )
    return StorageError(f"The object store could not {action} {key}: {exc}")


class S3Store:
    """An S3-compatible bucket, through boto3."""

    def __init__(self) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = settings.TRIGGERKIT_S3_BUCKET
        self.endpoint = settings.TRIGGERKIT_S3_ENDPOINT_URL or None
        self.session = boto3.session.Session(
            aws_access_key_id=settings.TRIGGERKIT_S3_ACCESS_KEY_ID or None,
            aws_secret_access_key=settings.TRIGGERKIT_S3_SECRET_ACCESS_KEY or None,
            region_name=settings.TRIGGERKIT_S3_REGION or None,
        )
        # Services other than AWS (MinIO, moto, R2…) rarely resolve bucket subdomains.
        addressing = "path" if self.endpoint else "auto"
        self.client = self.session.client(
            "s3",
            endpoint_url=self.endpoint,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing},
                connect_timeout=S3_CONNECT_TIMEOUT_SECONDS,
                read_timeout=S3_READ_TIMEOUT_SECONDS,
                retries={"mode": "standard", "max_attempts": 3},
            ),
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise failure("store", key, exc) from exc

    def head(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "404",
                "NoSuchKey",
                "NotFound",
            ):
                return None
            raise failure("look up", key, exc) from exc
        except BotoCoreError as exc:
            raise failure("look up", key, exc) from exc
        return ObjectInfo(int(reply["ContentLength"]), reply.get("ContentType", ""))

    def get(self, key: str) -> tuple[bytes, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
            return reply["Body"].read(), reply.get("ContentType", "")
        except (BotoCoreError, ClientError) as exc:
            raise failure("read", key, exc) from exc

    def delete(self, keys: list[str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(
            0, len(keys), 1000
        ):  # DeleteObjects takes 1,000 keys at most
            chunk = keys[start : start + 1000]
            try:
                reply = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
                )
            except (BotoCoreError, ClientError) as exc:
                raise failure("delete", chunk[0], exc) from exc
            if reply.get("Errors"):
                first = reply["Errors"][0]
                error = RuntimeError(f"{first.get('Code')}: {first.get('Message')}")
                raise failure("delete", first.get("Key", chunk[0]), error)

    def list_keys(self, start_after: str, limit: int) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            reply = self.client.list_objects_v2(
                Bucket=self.bucket,
                Prefix=KEY_PREFIX,
                StartAfter=start_after,
                MaxKeys=limit,
            )
        except (BotoCoreError, ClientError) as exc:
            raise failure("list", KEY_PREFIX, exc) from exc
        return [item["Key"] for item in reply.get("Contents", [])]

    def url(self, key: str, method: str, expires_in: int) -> str:
        operation = {"GET": "get_object", "PUT": "put_object"}[method]
        return self.client.generate_presigned_url(
            operation, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def problems(self) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"bucket {self.bucket!r}" + (
            f" at {self.endpoint}" if self.endpoint else ""
        )
        if self.session.get_credentials() is None:
            hint = (
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or TRIGGERKIT_S3_ACCESS_KEY_ID "
                "and TRIGGERKIT_S3_SECRET_ACCESS_KEY), or give the machine a role"
            )
            return [f"No credentials for {where}: {hint}"]
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("404", "NoSuchBucket", "NotFound"):
                return [
                    f"The {where} does not exist: create it or fix TRIGGERKIT_S3_BUCKET"
                ]
            return [f"The {where} refused access ({code}): check the credentials"]
        except BotoCoreError as exc:
            return [f"The {where} cannot be reached: {exc}"]
        return []


class LocalStore:
    """A folder; Django serves its presigned URLs (runs.api.packets.local_object)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        if not KEY_PATTERN.match(key):
            raise StorageError(f"Not an object key: {key[:300]!r}")
        return self.root / key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.write(key, [data], content_type)

    def write(self, key: str, chunks: Iterable[bytes], content_type: str) -> int:
        """Write an object from chunks (atomically: whole or not at all); return its size."""
        path = self.path(key)
        meta = json.dumps({"type": content_type}).encode()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The data first: an object whose metadata is missing does not exist yet.
            size = self.replace(path, chunks)
            self.replace(path.with_name(path.name + LOCAL_META_SUFFIX), [meta])
        except OSError as exc:
            raise failure("store", key, exc) from exc
        return size

    def replace(self, path: Path, chunks: Iterable[bytes]) -> int:
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        size = 0
        try:
            with partial.open("wb") as file:
                for chunk in chunks:
                    file.write(chunk)
                    size += len(chunk)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return size

    def head(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        try:
            size = path.stat().st_size
            meta = json.loads(
                path.with_name(path.name + LOCAL_META_SUFFIX).read_bytes()
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise failure("look up", key, exc) from exc
        return ObjectInfo(size, meta.get("type", ""))

    def open(self, key: str) -> tuple[IO[bytes], ObjectInfo] | None:
        info = self.head(key)
        if info is None:
            return None
        try:
            return self.path(key).open("rb"), info
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise failure("read", key, exc) from exc

    def get(self, key: str) -> tuple[bytes, str]:
        opened = self.open(key)
        if opened is None:
            raise failure("read", key, FileNotFoundError("there is no such object"))
        file, info = opened
        with file:
            return file.read(), info.content_type

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            path = self.path(key)
            try:
                path.unlink(missing_ok=True)
                path.with_name(path.name + LOCAL_META_SUFFIX).unlink(missing_ok=True)
                if not any(path.parent.iterdir()):
                    path.parent.rmdir()
            except OSError as exc:
                raise failure("delete", key, exc) from exc

    def list_keys(self, start_after: str, limit: int) -> list[str]:
        return list(self.iter_keys(start_after, limit))

    def iter_keys(self, start_after: str, limit: int) -> Iterator[str]:
        folder = self.root / KEY_PREFIX
        try:
            packet_ids = sorted(os.listdir(folder))
        except FileNotFoundError:
            return
        after_id = start_after.removeprefix(KEY_PREFIX).split("/", 1)[0]
        found = 0
        for packet_id in packet_ids:
            if packet_id < after_id:
                continue
            try:
                names = sorted(os.listdir(folder / packet_id))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                key = f"{KEY_PREFIX}{packet_id}/{name}"
                if (
                    name.endswith(LOCAL_META_SUFFIX)
                    or name.startswith(".")
                    or key <= start_after
                ):
                    continue
                yield key
                found += 1
                if found >= limit:
                    return

    def url(self, key: str, method: str, expires_in: int) -> str:
        token = signing.dumps(
            {"k": key, "m": method, "e": int(time.time()) + expires_in}, salt=URL_SALT
        )
        return f"{settings.SITE_URL}{LOCAL_URL_PATH}{token}"

    def problems(self) -> list[str]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            return [f"TRIGGERKIT_OBJECTS_DIR {self.root} is not writable: {exc}"]
        return []


class UrlError(Exception):
    """A local object URL that is forged, expired or meant for another method."""


def open_url(token: str, method: str) -> str:
    """Return the key a local object URL grants for `method`, or raise UrlError."""
    try:
        grant = signing.loads(token, salt=URL_SALT)
    except signing.BadSignature as exc:
        raise UrlError("This URL's signature is not valid") from exc
    if grant.get("m") != method:
        raise UrlError(f"This URL is not valid for {method}")
    if int(grant.get("e", 0)) < time.time():
        raise UrlError("This URL has expired")
    return str(grant["k"])


# Start-up check -----------------------------------------------------------------


@checks.register("storage")
def check_object_store(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The bucket (or folder) exists and can be reached with the credentials given."""
    try:
        found = store().problems()
    except Exception as exc:  # noqa: BLE001 - any failure to build the client is the finding
        found = [f"The object store cannot be used: {exc}"]
    return [
        checks.Error(problem, hint="See docs/storage.md", id="triggerkit.E001")
        for problem in found
    ]
