"""MQTT into the hub: the embedded broker (default) or an external one, wired to the pipeline.

Telemetry and scans go to the ingest worker and are acknowledged to the broker only once
durable (``submit`` waits for room, which is the back-pressure). Reported configurations
become ``RecordReportedConfiguration`` commands acting as the device itself. Desired
configurations set through the API are published retained on the device's own config
topic, and re-published at start (the embedded broker keeps retained messages in memory).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from smdh.adapters.embedded.mqtt_broker import DeviceCredentialChecks, EmbeddedBroker
from smdh.adapters.embedded.mqtt_messages import MqttMessage
from smdh.adapters.embedded.mqtt_source import MqttSource
from smdh.application import commands as c
from smdh.application.ingest import RawRecord
from smdh.application.principals import Principal
from smdh.domain.assets.device import DesiredConfigurationSet
from smdh.domain.shared.errors import DomainError
from smdh.domain.shared.events import DomainEvent
from smdh.domain.shared.ids import DeviceId, TenantId
from smdh.domain.telemetry import DeadLetter, capped
from smdh.entrypoints.container import Container
from smdh.entrypoints.tls import TlsFiles

log = logging.getLogger("smdh.mqtt")


class _Publisher(Protocol):
    async def publish_desired(self, device_key: str, config: Mapping[str, object]) -> None: ...


def device_key(tenant_id: str, device_id: str) -> str:
    return f"{tenant_id}:{device_id}"


class MqttIngress:
    def __init__(
        self,
        container: Container,
        *,
        listen: tuple[str, int] = ("127.0.0.1", 1883),
        external_url: str | None = None,
        tls: TlsFiles | None = None,  # the embedded broker's (an external one has its own)
    ) -> None:
        self._container = container
        self._listen = listen
        self._external_url = external_url
        self._tls = tls
        self._broker: EmbeddedBroker | None = None
        self._source: MqttSource | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """Where devices connect (without the hub's own credentials)."""
        if self._external_url is not None:
            parts = urlsplit(self._external_url)
            return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "", "", ""))
        scheme = "mqtts" if self._tls is not None else "mqtt"
        return f"{scheme}://{self._listen[0]}:{self._listen[1]}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        application = self._container.application()
        if self._external_url is not None:
            self._source = MqttSource(self._external_url, self.handle)
            await self._source.start()
        else:
            checks = DeviceCredentialChecks(
                application.devices, self._container.device_secret_hasher()
            )
            self._broker = EmbeddedBroker(
                self._listen[0],
                self._listen[1],
                checks.authenticate,
                checks.authorize_publish,
                handler=self.handle,
                certfile=self._tls.cert if self._tls is not None else None,
                keyfile=self._tls.key if self._tls is not None else None,
            )
            await self._broker.start()
        application.bus.subscribe(DesiredConfigurationSet, self._on_desired)
        await self._republish_desired()

    async def stop(self) -> None:
        if self._source is not None:
            await self._source.stop()
        if self._broker is not None:
            await self._broker.stop()

    async def handle(self, batch: list[MqttMessage]) -> None:
        """Store a micro-batch; returning means durable (the broker may acknowledge)."""
        records: list[RawRecord] = []
        reported: list[MqttMessage] = []
        for message in batch:
            tenant_id, _, device_id = message.device_key.partition(":")
            if message.kind == "reported":
                reported.append(message)
                continue
            records.append(
                RawRecord(
                    "mqtt", tenant_id, device_id, message.kind, message.payload,
                    message.received_at,
                )
            )  # fmt: skip
        if records:
            await self._container.ingest_worker().submit(records)
        loop = asyncio.get_running_loop()
        for message in reported:
            await loop.run_in_executor(None, self._record_reported, message)

    def _record_reported(self, message: MqttMessage) -> None:
        tenant_id, _, device_id = message.device_key.partition(":")
        try:
            config = json.loads(message.payload)
            if not isinstance(config, dict):
                raise ValueError("the reported configuration must be a JSON object")
            self._container.application().execute(
                c.RecordReportedConfiguration(
                    principal=Principal.device(tenant_id, device_id),
                    tenant_id=TenantId(tenant_id),
                    device_id=DeviceId(device_id),
                    configuration=config,
                )
            )
        except (ValueError, DomainError) as error:
            code = error.code if isinstance(error, DomainError) else "malformed-json"
            self._container.dead_letters().add(
                [
                    DeadLetter(
                        tenant_id=tenant_id,
                        device_id=device_id,
                        source="mqtt",
                        received_at=message.received_at,
                        reason_code=code,
                        reason=f"reported configuration refused: {error}",
                        payload=capped(message.payload),
                    )
                ]
            )

    def _publisher(self) -> _Publisher | None:
        return self._broker if self._broker is not None else self._source

    def _on_desired(self, event: DomainEvent) -> None:
        # Runs in whichever thread ran the command; the broker lives on the event loop.
        if not isinstance(event, DesiredConfigurationSet) or self._loop is None:
            return
        key = device_key(event.tenant_id, event.aggregate_id.split(":", 2)[2])
        config = dict(event.configuration)
        self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._publish(key, config)))

    async def _publish(self, key: str, config: Mapping[str, object]) -> None:
        publisher = self._publisher()
        if publisher is None:
            return
        try:
            await publisher.publish_desired(key, config)
        except Exception:
            log.exception("publishing the desired configuration of %s failed", key)

    async def _republish_desired(self) -> None:
        started = time.monotonic()
        count = 0
        for entry in self._container.application().devices:
            if entry.desired and entry.accepts_readings:
                await self._publish(device_key(entry.tenant_id, entry.device_id), entry.desired)
                count += 1
        if count:
            log.info("re-published %d desired configurations in %.2f s", count,
                     time.monotonic() - started)  # fmt: skip
