"""The built-in electricity tariff catalogue: a site's ``tariff_ref`` names one of these.

Configuration, not code: each entry is a ``smdh.domain.metrics.energy.Tariff`` (periods in
site-local time, tried in order; the first that matches prices the kWh). Prices are
plausible 2025 EUR industrial energy prices (network charges and taxes included, VAT
excluded) for examples and demos; a deployment adds its own contracts here (or loads them
from a file into ``TariffCatalogue``) and points sites at them with ``tariff_ref``.

A site without a ``tariff_ref``, or with one the catalogue does not know, is costed with
``DEFAULT_TARIFF_REF`` and the answer says which tariff was used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from smdh.domain.metrics.energy import Tariff, TariffPeriod

DEFAULT_TARIFF_REF = "flat-standard"

BUILT_IN: tuple[Tariff, ...] = (
    Tariff(
        name="flat-standard",
        currency="EUR",
        periods=(TariffPeriod("flat", 0.18),),
    ),
    Tariff(
        name="tou-standard",  # peak on weekday daytime, off-peak nights, cheap weekends
        currency="EUR",
        periods=(
            TariffPeriod("weekend", 0.14, days="weekend"),
            TariffPeriod("peak", 0.24, start="08:00", end="20:00", days="weekday"),
            TariffPeriod("off-peak", 0.15, start="20:00", end="08:00", days="weekday"),
        ),
    ),
    Tariff(
        name="tou-three-rate",  # a shoulder band around the evening peak
        currency="EUR",
        periods=(
            TariffPeriod("peak", 0.29, start="17:00", end="20:00", days="weekday"),
            TariffPeriod("shoulder", 0.21, start="07:00", end="17:00", days="weekday"),
            TariffPeriod("shoulder-evening", 0.21, start="20:00", end="22:00", days="weekday"),
            TariffPeriod("off-peak", 0.13),
        ),
    ),
)


class TariffCatalogue:
    """Tariffs by reference; ``resolve`` falls back to the default tariff."""

    def __init__(self, tariffs: Iterable[Tariff] = BUILT_IN) -> None:
        self._tariffs: Mapping[str, Tariff] = {t.name: t for t in tariffs}
        if DEFAULT_TARIFF_REF not in self._tariffs:
            raise ValueError(f"the catalogue needs a {DEFAULT_TARIFF_REF!r} tariff")

    def get(self, ref: str) -> Tariff | None:
        return self._tariffs.get(ref)

    def resolve(self, ref: str | None) -> Tariff:
        found = None if ref is None else self._tariffs.get(ref)
        return found or self._tariffs[DEFAULT_TARIFF_REF]

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._tariffs))
