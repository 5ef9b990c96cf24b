"""S3ArchiveStore against moto: tenant prefixes, name checks, versioned tenant erasure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smdh.adapters.aws.s3_archive import ArchiveObjectNotFound, S3ArchiveStore
from smdh.domain.shared.errors import InvalidIdentifier

pytestmark = pytest.mark.integration

BUCKET = "smdh-archive-test"


@pytest.fixture
def s3(aws_clients: Callable[[str], Any]) -> Any:
    client = aws_clients("s3")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    return client


@pytest.fixture
def store(s3: Any) -> S3ArchiveStore:
    return S3ArchiveStore(s3, BUCKET)


def test_put_get_and_list_under_the_tenant_prefix(s3: Any, store: S3ArchiveStore) -> None:
    key = store.put("acme", "telemetry/2025/03/machine.parquet", b"PAR1...")
    assert key == "tenants/acme/telemetry/2025/03/machine.parquet"
    store.put("acme", "telemetry/2025/04/machine.parquet", b"PAR1 april")
    store.put("globex", "telemetry/2025/03/machine.parquet", b"globex data")
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentType"] == "application/vnd.apache.parquet"
    assert store.get("acme", "telemetry/2025/03/machine.parquet") == b"PAR1..."
    assert store.list("acme") == [
        "telemetry/2025/03/machine.parquet",
        "telemetry/2025/04/machine.parquet",
    ]
    assert store.list("acme", "telemetry/2025/04/") == ["telemetry/2025/04/machine.parquet"]
    assert store.list("globex") == ["telemetry/2025/03/machine.parquet"]
    assert store.list("initech") == []


def test_a_missing_object_is_a_clear_error(store: S3ArchiveStore) -> None:
    with pytest.raises(ArchiveObjectNotFound):
        store.get("acme", "nothing.parquet")


@pytest.mark.parametrize(
    "name", ["", "/abs.parquet", "../globex/x.parquet", "a/../../b", "a//b", "a\\b", "a\x00b"]
)
def test_names_that_could_leave_the_prefix_are_refused(store: S3ArchiveStore, name: str) -> None:
    with pytest.raises(ValueError, match="archive name"):
        store.put("acme", name, b"x")


@pytest.mark.parametrize("tenant", ["", "../globex", "Acme", "acme/x"])
def test_tenant_ids_are_validated(store: S3ArchiveStore, tenant: str) -> None:
    with pytest.raises(InvalidIdentifier):
        store.put(tenant, "x.parquet", b"x")
    with pytest.raises(InvalidIdentifier):
        store.list(tenant)


def test_delete_tenant_removes_every_version_in_batches(s3: Any, store: S3ArchiveStore) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for i in range(1_005):
        store.put("acme", f"part-{i:04d}.parquet", b"v1")
    store.put("acme", "part-0000.parquet", b"v2")  # a second version of one key
    s3.delete_object(Bucket=BUCKET, Key="tenants/acme/part-0001.parquet")  # a delete marker
    store.put("globex", "keep.parquet", b"theirs")
    batches: list[int] = []

    def count(params: dict[str, Any], **_: object) -> None:
        batches.append(len(params["Delete"]["Objects"]))

    s3.meta.events.register("provide-client-params.s3.DeleteObjects", count)
    assert store.delete_tenant("acme") == 1_005
    assert batches == [1000, 7]  # 1005 + 1 version + 1 delete marker
    remaining = s3.list_object_versions(Bucket=BUCKET, Prefix="tenants/acme/")
    assert remaining.get("Versions", []) == []
    assert remaining.get("DeleteMarkers", []) == []
    assert store.list("acme") == []
    assert store.get("globex", "keep.parquet") == b"theirs"
    assert store.delete_tenant("acme") == 0
