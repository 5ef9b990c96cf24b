"""IotCoreGateway against moto (iot + iot-data shadows), and the policy it attaches."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smdh.adapters.aws.iot_gateway import (
    IotCoreGateway,
    device_key_of_thing,
    policy_document,
    thing_name,
)
from smdh.domain.shared.ids import DeviceId

pytestmark = pytest.mark.integration

THING_VAR = "${iot:Connection.Thing.ThingName}"


@pytest.fixture
def clients(aws_clients: Callable[[str], Any]) -> tuple[Any, Any]:
    return aws_clients("iot"), aws_clients("iot-data")


@pytest.fixture
def gateway(clients: tuple[Any, Any]) -> IotCoreGateway:
    return IotCoreGateway(*clients)


def test_provision_creates_thing_certificate_and_policy(
    clients: tuple[Any, Any], gateway: IotCoreGateway
) -> None:
    iot, _ = clients
    kit = gateway.provision("acme", "press.01")
    assert kit["thing_name"] == kit["client_id"] == "acme:press_d01"
    assert kit["telemetry_topic"] == "sensors/acme:press_d01/telemetry"
    assert kit["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" in kit["private_key"]
    assert kit["endpoint"]
    thing = iot.describe_thing(thingName="acme:press_d01")
    assert thing["attributes"] == {"tenant_id": "acme", "device_id": "press.01"}
    assert iot.list_thing_principals(thingName="acme:press_d01")["principals"] == [
        kit["certificate_arn"]
    ]
    certificate = iot.describe_certificate(certificateId=kit["certificate_id"])
    assert certificate["certificateDescription"]["status"] == "ACTIVE"
    attached = iot.list_attached_policies(target=kit["certificate_arn"])["policies"]
    assert [p["policyName"] for p in attached] == ["smdh-device"]
    stored = json.loads(iot.get_policy(policyName="smdh-device")["policyDocument"])
    assert stored == policy_document()
    gateway.provision("acme", "press-02")  # the shared policy already exists: fine


def test_desired_goes_into_the_shadow_and_reported_is_read_back(
    clients: tuple[Any, Any], gateway: IotCoreGateway
) -> None:
    _, data = clients
    gateway.provision("acme", "press-1")
    assert gateway.reported("acme", "press-1") == {}
    gateway.publish_desired("acme", "press-1", {"interval_s": 5, "mode": "fast"})
    gateway.publish_desired("acme", "press-1", {"interval_s": 10})
    assert gateway.desired("acme", "press-1") == {"interval_s": 10}
    # the device reports (it publishes to its shadow's update topic; here via the data API)
    data.update_thing_shadow(
        thingName="acme:press-1",
        payload=json.dumps({"state": {"reported": {"interval_s": 10, "fw": "1.2"}}}).encode(),
    )
    assert gateway.reported("acme", "press-1") == {"interval_s": 10, "fw": "1.2"}


def test_deprovision_removes_everything_and_is_idempotent(
    clients: tuple[Any, Any], gateway: IotCoreGateway
) -> None:
    iot, _ = clients
    kit = gateway.provision("acme", "press-1")
    gateway.publish_desired("acme", "press-1", {"interval_s": 5})
    gateway.deprovision("acme", "press-1")
    assert iot.list_things()["things"] == []
    assert iot.list_certificates()["certificates"] == []
    assert kit["certificate_id"]
    assert gateway.reported("acme", "press-1") == {}
    gateway.deprovision("acme", "press-1")


def test_the_policy_confines_a_device_to_its_own_identity_and_topics() -> None:
    document = policy_document("eu-central-1", "123456789012")
    by_action = {s["Action"]: s for s in document["Statement"]}
    assert set(by_action) == {"iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"}
    assert all(s["Effect"] == "Allow" for s in document["Statement"])
    connect = by_action["iot:Connect"]
    assert connect["Resource"] == f"arn:aws:iot:eu-central-1:123456789012:client/{THING_VAR}"
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
    for action in ("iot:Publish", "iot:Subscribe", "iot:Receive"):
        for resource in by_action[action]["Resource"]:
            assert THING_VAR in resource, resource
            assert "+" not in resource and "#" not in resource
    published = {r.split(":topic/", 1)[1] for r in by_action["iot:Publish"]["Resource"]}
    assert published == {
        f"sensors/{THING_VAR}/telemetry",
        f"events/{THING_VAR}/scan",
        f"devices/{THING_VAR}/config/reported",
        f"$aws/things/{THING_VAR}/shadow/update",
        f"$aws/things/{THING_VAR}/shadow/get",
    }
    received = {r.split(":topic/", 1)[1] for r in by_action["iot:Receive"]["Resource"]}
    assert f"devices/{THING_VAR}/config/desired" in received
    assert not any("sensors/" in r or "reported" in r for r in received)


@given(st.from_regex(DeviceId.pattern, fullmatch=True))
def test_thing_names_are_reversible(device_id: str) -> None:
    try:
        name = thing_name("acme", device_id)
    except ValueError:
        assert len(device_id.replace("_", "__").replace(".", "_d")) + 5 > 128
        return
    assert device_key_of_thing(name) == ("acme", device_id)
    assert len(name) <= 128


def test_distinct_devices_get_distinct_thing_names() -> None:
    names = {thing_name("acme", d) for d in ["a.b", "a_b", "a_db", "a__b", "a-b", "a:b"]}
    assert len(names) == 6
    with pytest.raises(ValueError, match="128"):
        thing_name("acme", "x" * 124)
