"""The Site aggregate: a plant of a tenant, with its timezone, tariff and shift calendar."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from smdh.domain.shared.aggregate import Aggregate
from smdh.domain.shared.errors import InvalidTimezone, ValidationError
from smdh.domain.shared.events import DomainEvent, EventContext
from smdh.domain.shared.ids import SiteId, TenantId
from smdh.domain.shared.values import bounded_text

_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def valid_timezone(name: str) -> str:
    """An IANA zone name that really exists (e.g. Europe/Berlin); 'UTC' is allowed too."""
    # ZoneInfo also accepts file paths like '../etc' on some systems; keep names strict.
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", name or ""):
        raise InvalidTimezone(f"timezone {name!r} is not an IANA zone name like Europe/Berlin")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a zone folder
        raise InvalidTimezone(f"timezone {name!r} is not a known IANA zone") from exc
    return name


@attrs.frozen
class Shift:
    """A recurring working period. ``end`` before ``start`` means it runs past midnight."""

    name: str
    weekdays: tuple[int, ...]  # 0 = Monday ... 6 = Sunday, as in datetime.weekday()
    start: str  # "HH:MM", site-local time
    end: str

    @classmethod
    def create(cls, name: str, weekdays: tuple[int, ...], start: str, end: str) -> Shift:
        name = bounded_text(name, "shift name", max_length=64)
        if any(isinstance(d, bool) or not isinstance(d, int) for d in weekdays):
            raise ValidationError(f"shift {name!r}: weekdays must be 0 (Monday) to 6 (Sunday)")
        days = tuple(sorted(set(weekdays)))
        if not days or any(not 0 <= d <= 6 for d in days):
            raise ValidationError(f"shift {name!r}: weekdays must be 0 (Monday) to 6 (Sunday)")
        for label, value in (("start", start), ("end", end)):
            if not isinstance(value, str) or _HHMM.fullmatch(value) is None:
                raise ValidationError(f"shift {name!r}: {label} must be HH:MM, got {value!r}")
        if start == end:
            raise ValidationError(f"shift {name!r}: start and end must differ")
        return cls(name=name, weekdays=days, start=start, end=end)


@attrs.frozen
class SiteDetails:
    name: str
    timezone: str
    address: str = ""
    tariff_ref: str | None = None
    shifts: tuple[Shift, ...] = ()

    @classmethod
    def create(
        cls,
        name: str,
        timezone: str,
        address: str = "",
        tariff_ref: str | None = None,
        shifts: tuple[Shift, ...] = (),
    ) -> SiteDetails:
        names = [s.name for s in shifts]
        if len(names) != len(set(names)):
            raise ValidationError("shift names must be unique within a site")
        if len(shifts) > 20:
            raise ValidationError("a site has at most 20 shifts")
        return cls(
            name=bounded_text(name, "name"),
            timezone=valid_timezone(timezone),
            address=bounded_text(address, "address", max_length=500, allow_empty=True),
            tariff_ref=bounded_text(tariff_ref, "tariff_ref", max_length=128)
            if tariff_ref
            else None,
            shifts=tuple(shifts),
        )


@attrs.frozen(kw_only=True)
class SiteRegistered(DomainEvent):
    site_id: SiteId
    details: SiteDetails


@attrs.frozen(kw_only=True)
class SiteDetailsChanged(DomainEvent):
    details: SiteDetails


def site_aggregate_id(tenant_id: TenantId, site_id: SiteId) -> str:
    return f"site:{tenant_id}:{site_id}"


class Site(Aggregate):
    prefix = "site"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.site_id = SiteId("unset")
        self.details = SiteDetails(name="", timezone="UTC")

    @classmethod
    def register(
        cls, tenant_id: TenantId, site_id: SiteId, details: SiteDetails, ctx: EventContext
    ) -> Site:
        site = cls(site_aggregate_id(tenant_id, site_id))
        site._record(SiteRegistered, ctx, tenant_id=tenant_id, site_id=site_id, details=details)
        return site

    def change_details(self, details: SiteDetails, ctx: EventContext) -> None:
        if details != self.details:
            self._record(SiteDetailsChanged, ctx, details=details)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case SiteRegistered():
                self.site_id = event.site_id
                self.details = event.details
            case SiteDetailsChanged():
                self.details = event.details
