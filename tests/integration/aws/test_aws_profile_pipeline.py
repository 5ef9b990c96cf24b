"""The ingest pipeline tests of the memory profile, run on the container's ``aws`` profile.

Same world (``register_world``), same tests; only the ``world`` fixture differs: a
``build_container("aws")`` whose event store and dead letters are DynamoDB and whose
telemetry goes to Timestream (moto), read back from the WriteRecords actually sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from smdh.domain.telemetry import DeviceSample
from tests.integration.aws.aws_profile import (
    TimestreamReadBack,
    aws_container,
    timestream_recorder,
)
from tests.unit.ingest import test_ingest_pipeline as embedded

pytestmark = pytest.mark.integration


class AwsWorld(embedded.World):
    read_back: TimestreamReadBack | None = None

    def stored(self, device_id: str, tenant_id: str = embedded.ACME) -> list[DeviceSample]:
        assert self.read_back is not None
        return self.read_back.query_range(tenant_id, device_id)


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch, moto_server: str, aws_clients: Callable[[str], Any]
) -> AwsWorld:
    container = aws_container(monkeypatch, moto_server, aws_clients)
    embedded.register_world(container)
    recorder = timestream_recorder(container)
    built = AwsWorld(container, container.ingest_pipeline(), container.clock().now().timestamp())
    built.read_back = TimestreamReadBack(recorder)
    return built


def test_the_aws_profile_is_wired_to_the_aws_adapters(world: AwsWorld) -> None:
    names = {
        type(world.container.event_store()).__name__,
        type(world.container.dead_letters()).__name__,
        type(world.container.telemetry_store()).__name__,
    }
    assert names == {"DynamoDbEventStore", "DynamoDbDeadLetterStore", "TimestreamTelemetryStore"}


test_a_valid_sample_is_stored_under_the_registry_identity = (
    embedded.test_a_valid_sample_is_stored_under_the_registry_identity
)
test_a_refused_record_is_one_dead_letter_with_its_code = (
    embedded.test_a_refused_record_is_one_dead_letter_with_its_code
)
test_an_invalid_value_is_a_dead_letter_with_the_parser_code = (
    embedded.test_an_invalid_value_is_a_dead_letter_with_the_parser_code
)
test_a_timestamp_more_than_15_minutes_ahead_is_in_the_future = (
    embedded.test_a_timestamp_more_than_15_minutes_ahead_is_in_the_future
)
test_a_sample_older_than_the_late_window_is_too_late = (
    embedded.test_a_sample_older_than_the_late_window_is_too_late
)
test_every_rejection_in_a_mixed_batch_is_counted_by_code = (
    embedded.test_every_rejection_in_a_mixed_batch_is_counted_by_code
)
test_a_batch_with_one_bad_sample_stores_the_good_ones = (
    embedded.test_a_batch_with_one_bad_sample_stores_the_good_ones
)
test_a_bad_record_does_not_cost_other_records_of_the_micro_batch = (
    embedded.test_a_bad_record_does_not_cost_other_records_of_the_micro_batch
)
test_the_tenant_comes_from_the_registry_never_from_the_payload = (
    embedded.test_the_tenant_comes_from_the_registry_never_from_the_payload
)
test_air_quality_gets_aqi_instant = embedded.test_air_quality_gets_aqi_instant
test_energy_gets_power_watts_single_and_three_phase = (
    embedded.test_energy_gets_power_watts_single_and_three_phase
)
test_a_tenant_over_its_readings_quota_gets_quota_exceeded = (
    embedded.test_a_tenant_over_its_readings_quota_gets_quota_exceeded
)
test_every_per_sample_rejection_names_its_sample = (
    embedded.test_every_per_sample_rejection_names_its_sample
)
test_after_store_hooks_get_exactly_the_stored_samples = (
    embedded.test_after_store_hooks_get_exactly_the_stored_samples
)
