from __future__ import annotations

from tests.contract.delivery_log_contract import DeliveryLogContract

from smdh.adapters.memory.delivery_log import InMemoryDeliveryLog
from smdh.application.delivery import DeliveryLog


class TestInMemoryDeliveryLog(DeliveryLogContract):
    def make_log(self) -> DeliveryLog:
        return InMemoryDeliveryLog()
