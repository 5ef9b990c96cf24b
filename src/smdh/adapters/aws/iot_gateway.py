"""``DeviceGateway`` on AWS IoT Core: a thing, an X.509 certificate and one shared policy.

**Thing names.** The embedded hub names a device ``tenant:device``; IoT thing names allow
only ``[a-zA-Z0-9:_-]`` (1-128), while device ids may also contain '.'. The mapping is
deterministic and reversible: '_' becomes '__' and '.' becomes '_d' in the device part
(the tenant is a slug, so the first ':' still separates the two). ``press.01`` of ``acme``
is the thing ``acme:press_d01``; a name over 128 characters is refused. The thing name is
also the MQTT client id and the device segment of the seed's topics:
``sensors/{thing}/telemetry``, ``events/{thing}/scan``, ``devices/{thing}/config/reported``
(``device_key_of_thing`` maps it back for the ingest rule's ``topic(2)``).

**Policy.** One policy for all devices; the policy variable
``${iot:Connection.Thing.ThingName}`` makes it per-device: a certificate can connect only
with its own thing name as client id (and only while attached to that thing), publish only
to its own telemetry, scan and reported topics and its own shadow's update/get, and
subscribe/receive only its own desired topic and shadow responses.

**Configuration.** Desired configuration goes into the classic device shadow's
``desired`` state (keys no longer wanted are set to null, so the shadow's desired equals
the config); the device reports through the shadow and ``reported`` reads it back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_iot import IoTClient
    from mypy_boto3_iot_data import IoTDataPlaneClient

THING = "${iot:Connection.Thing.ThingName}"
MAX_THING_NAME = 128
DEFAULT_POLICY_NAME = "smdh-device"


def thing_name(tenant_id: str, device_id: str) -> str:
    """The IoT thing name (= MQTT client id) of a device; reversible, see module doc."""
    if not tenant_id or ":" in tenant_id or not device_id:
        raise ValueError(f"invalid device key {tenant_id!r}:{device_id!r}")
    escaped = device_id.replace("_", "__").replace(".", "_d")
    name = f"{tenant_id}:{escaped}"
    bad = set(name) - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-")
    if bad:
        raise ValueError(f"device {device_id!r} has characters an IoT thing name cannot hold")
    if len(name) > MAX_THING_NAME:
        raise ValueError(
            f"thing name for {tenant_id}:{device_id} would be {len(name)} characters "
            f"(IoT Core allows {MAX_THING_NAME}); use a shorter device id"
        )
    return name


def device_key_of_thing(name: str) -> tuple[str, str]:
    """``(tenant_id, device_id)`` of a thing name made by ``thing_name``."""
    tenant_id, separator, escaped = name.partition(":")
    if not separator or not tenant_id or not escaped:
        raise ValueError(f"not an SMDH thing name: {name!r}")
    out: list[str] = []
    index = 0
    while index < len(escaped):
        char = escaped[index]
        if char == "_":
            following = escaped[index + 1 : index + 2]
            if following not in ("_", "d"):
                raise ValueError(f"not an SMDH thing name: {name!r}")
            out.append("_" if following == "_" else ".")
            index += 2
        else:
            out.append(char)
            index += 1
    return tenant_id, "".join(out)


def device_topics(name: str) -> dict[str, str]:
    shadow = f"$aws/things/{name}/shadow"
    return {
        "telemetry_topic": f"sensors/{name}/telemetry",
        "scan_topic": f"events/{name}/scan",
        "reported_topic": f"devices/{name}/config/reported",
        "desired_topic": f"devices/{name}/config/desired",
        "shadow_delta_topic": f"{shadow}/update/delta",
    }


def policy_document(region: str = "*", account_id: str = "*") -> dict[str, Any]:
    """The device policy: every resource is the connecting thing's own."""
    arn = f"arn:aws:iot:{region}:{account_id}"
    shadow = f"$aws/things/{THING}/shadow"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": f"{arn}:client/{THING}",
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
            {
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": [
                    f"{arn}:topic/sensors/{THING}/telemetry",
                    f"{arn}:topic/events/{THING}/scan",
                    f"{arn}:topic/devices/{THING}/config/reported",
                    f"{arn}:topic/{shadow}/update",
                    f"{arn}:topic/{shadow}/get",
                ],
            },
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [
                    f"{arn}:topicfilter/devices/{THING}/config/desired",
                    f"{arn}:topicfilter/{shadow}/update/*",
                    f"{arn}:topicfilter/{shadow}/get/*",
                ],
            },
            {
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": [
                    f"{arn}:topic/devices/{THING}/config/desired",
                    f"{arn}:topic/{shadow}/update/*",
                    f"{arn}:topic/{shadow}/get/*",
                ],
            },
        ],
    }


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class IotCoreGateway:
    def __init__(
        self,
        iot_client: IoTClient,
        iot_data_client: IoTDataPlaneClient,
        *,
        policy_name: str = DEFAULT_POLICY_NAME,
        region: str = "*",
        account_id: str = "*",
    ) -> None:
        self._iot = iot_client
        self._data = iot_data_client
        self._policy_name = policy_name
        self._policy = json.dumps(policy_document(region, account_id))

    def ensure_policy(self) -> None:
        try:
            self._iot.create_policy(policyName=self._policy_name, policyDocument=self._policy)
        except ClientError as error:
            if _code(error) != "ResourceAlreadyExistsException":
                raise

    def provision(self, tenant_id: str, device_id: str) -> dict[str, str]:
        """Thing + active certificate with the policy; returns the device's connection kit
        (the private key is returned once and never stored by SMDH)."""
        name = thing_name(tenant_id, device_id)
        self.ensure_policy()
        self._iot.create_thing(
            thingName=name,
            attributePayload={"attributes": {"tenant_id": tenant_id, "device_id": device_id}},
        )
        keys = self._iot.create_keys_and_certificate(setAsActive=True)
        certificate_arn = keys["certificateArn"]
        self._iot.attach_policy(policyName=self._policy_name, target=certificate_arn)
        self._iot.attach_thing_principal(thingName=name, principal=certificate_arn)
        endpoint = self._iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        return {
            "thing_name": name,
            "client_id": name,
            "endpoint": endpoint,
            "certificate_arn": certificate_arn,
            "certificate_id": keys["certificateId"],
            "certificate_pem": keys["certificatePem"],
            "private_key": keys["keyPair"]["PrivateKey"],
            **device_topics(name),
        }

    def publish_desired(self, tenant_id: str, device_id: str, config: dict[str, object]) -> None:
        name = thing_name(tenant_id, device_id)
        current = self._state(name).get("desired", {})
        desired: dict[str, object] = dict.fromkeys(current)  # keys not wanted -> null
        desired.update(config)
        payload = json.dumps({"state": {"desired": desired}}).encode()
        self._data.update_thing_shadow(thingName=name, payload=payload)

    def reported(self, tenant_id: str, device_id: str) -> dict[str, object]:
        reported = self._state(thing_name(tenant_id, device_id)).get("reported", {})
        return dict(reported) if isinstance(reported, dict) else {}

    def desired(self, tenant_id: str, device_id: str) -> dict[str, object]:
        desired = self._state(thing_name(tenant_id, device_id)).get("desired", {})
        return dict(desired) if isinstance(desired, dict) else {}

    def _state(self, name: str) -> dict[str, Any]:
        try:
            response = self._data.get_thing_shadow(thingName=name)
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return {}
            raise
        document = json.loads(response["payload"].read())
        state = document.get("state", {}) if isinstance(document, dict) else {}
        return state if isinstance(state, dict) else {}

    def deprovision(self, tenant_id: str, device_id: str) -> None:
        """Detach, deactivate and delete the certificates, the shadow and the thing.
        Idempotent: an unknown device is already deprovisioned."""
        name = thing_name(tenant_id, device_id)
        try:
            principals = self._iot.list_thing_principals(thingName=name)["principals"]
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return
            raise
        for principal in principals:
            certificate_id = principal.rsplit("/", 1)[-1]
            self._iot.detach_policy(policyName=self._policy_name, target=principal)
            self._iot.detach_thing_principal(thingName=name, principal=principal)
            self._iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
            self._iot.delete_certificate(certificateId=certificate_id)
        try:
            self._data.delete_thing_shadow(thingName=name)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
        self._iot.delete_thing(thingName=name)
