"""``ArchiveStore`` on S3: one prefix per tenant, ``tenants/{tenant}/{name}``.

Retention jobs write cold data (Parquet files, one per tenant, table and period) here before
it leaves the hot store. The tenant id is validated as a ``TenantId`` and the name as a
relative path (no empty or '..' segments, no leading '/', no backslash or control
characters), so no caller can address another tenant's prefix. Encryption at rest is the
bucket's default encryption (SSE-S3 or SSE-KMS, set by the deployment).

``delete_tenant`` erases every version and delete marker under the tenant's prefix, so it
also empties a versioned bucket; deletions go in batches of at most 1000 versions (the
DeleteObjects limit), listing the first page again after each batch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from smdh.domain.shared.ids import TenantId

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

MAX_DELETE_BATCH = 1000
MAX_NAME_CHARS = 900  # S3 keys are at most 1024 bytes, the tenant prefix included
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_CONTENT_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv",
    ".json": "application/json",
}


class ArchiveObjectNotFound(KeyError):
    """No archived object under that tenant and name."""


class ArchiveDeleteFailed(RuntimeError):
    """S3 refused to delete some keys; ``delete_tenant`` can be called again."""


def tenant_prefix(tenant_id: str) -> str:
    return f"tenants/{TenantId(tenant_id)}/"


def validate_name(name: str, *, allow_empty: bool = False) -> str:
    """A relative object name inside a tenant's prefix, else ``ValueError``."""
    if not name:
        if allow_empty:
            return name
        raise ValueError("archive name must not be empty")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"archive name is longer than {MAX_NAME_CHARS} characters")
    if name.startswith("/"):
        raise ValueError(f"archive name must be relative, got {name!r}")
    if _CONTROL.search(name):
        raise ValueError(f"archive name contains a control character or '\\': {name!r}")
    segments = name.split("/")
    inner = segments[:-1] if allow_empty else segments  # a listing prefix may end in '/'
    if any(segment in ("", ".", "..") for segment in inner) or ".." in segments:
        raise ValueError(f"archive name has an empty, '.' or '..' segment: {name!r}")
    return name


class S3ArchiveStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, tenant_id: str, name: str, data: bytes) -> str:
        """Store ``data``; returns the object key."""
        key = tenant_prefix(tenant_id) + validate_name(name)
        suffix = name[name.rfind(".") :].lower() if "." in name else ""
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=_CONTENT_TYPES.get(suffix, "application/octet-stream"),
        )
        return key

    def get(self, tenant_id: str, name: str) -> bytes:
        key = tenant_prefix(tenant_id) + validate_name(name)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ArchiveObjectNotFound(f"{tenant_id}: {name}") from error
            raise
        body: bytes = response["Body"].read()
        return body

    def list(self, tenant_id: str, prefix: str = "") -> list[str]:
        """Names (relative to the tenant's prefix) starting with ``prefix``, sorted."""
        base = tenant_prefix(tenant_id)
        full = base + validate_name(prefix, allow_empty=True)
        names: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=full):
            names += [item["Key"][len(base) :] for item in page.get("Contents", [])]
        return sorted(names)

    def delete_tenant(self, tenant_id: str) -> int:
        """Delete every version of every object of the tenant; returns how many keys."""
        base = tenant_prefix(tenant_id)
        keys: set[str] = set()
        while True:  # list the first page again after each delete: markers never go stale
            page = self._client.list_object_versions(
                Bucket=self._bucket, Prefix=base, MaxKeys=MAX_DELETE_BATCH
            )
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if not batch:
                return len(keys)
            keys.update(entry["Key"] for entry in batch)
            self._delete(batch[:MAX_DELETE_BATCH])

    def _delete(self, objects: Sequence[ObjectIdentifierTypeDef]) -> None:
        response = self._client.delete_objects(
            Bucket=self._bucket, Delete={"Objects": list(objects), "Quiet": True}
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise ArchiveDeleteFailed(
                f"{len(errors)} object version(s) not deleted, e.g. {first.get('Key')}: "
                f"{first.get('Code')} {first.get('Message')}"
            )
