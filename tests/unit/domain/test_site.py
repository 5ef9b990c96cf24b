"""The Site aggregate: IANA timezones, shift calendars and the events of a site."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smdh.domain.shared.errors import InvalidTimezone, ValidationError
from smdh.domain.shared.events import EventContext
from smdh.domain.shared.ids import SiteId, TenantId
from smdh.domain.tenancy import site as s

CTX = EventContext(datetime(2026, 1, 5, 8, 0, tzinfo=UTC), "user:acme/alice")
LATER = EventContext(datetime(2026, 3, 1, 6, 0, tzinfo=UTC), "user:acme/bob")


def state(site: s.Site) -> dict[str, Any]:
    return {k: v for k, v in vars(site).items() if k != "_pending"}


@pytest.mark.parametrize(
    "name",
    ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Asia/Kolkata"],
)
def test_real_iana_zones_are_accepted(name: str) -> None:
    assert s.valid_timezone(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Base",
        "../../etc/passwd",
        "/etc/passwd",
        "",
        "Europe/Berlin ",
        " Europe/Berlin",
        "Europe/../UTC",
        "Europe/Berlin/Mitte",
        "Not a zone",
        "zone.tab",
    ],
)
def test_unknown_or_path_like_zones_are_rejected(name: str) -> None:
    with pytest.raises(InvalidTimezone):
        s.valid_timezone(name)


@pytest.mark.parametrize("name", ["Europe", "America/Argentina", "US"])
def test_a_zone_directory_is_rejected_as_an_invalid_timezone(name: str) -> None:
    # The tzdata folder 'Europe' exists; ZoneInfo raises IsADirectoryError on it, which must
    # come out as InvalidTimezone, not as an OSError (a 500 from the API).
    with pytest.raises(InvalidTimezone):
        s.valid_timezone(name)


def test_timezone_errors_say_what_is_expected() -> None:
    with pytest.raises(InvalidTimezone, match="Europe/Berlin"):
        s.valid_timezone("../../etc/passwd")
    with pytest.raises(InvalidTimezone, match="not a known IANA zone"):
        s.valid_timezone("Mars/Base")


def test_shift_is_normalised() -> None:
    shift = s.Shift.create("  Early ", (4, 0, 2, 0), "06:00", "14:00")
    assert shift == s.Shift("Early", (0, 2, 4), "06:00", "14:00")


def test_a_shift_may_run_past_midnight() -> None:
    night = s.Shift.create("Night", (0, 1, 2, 3, 4), "22:00", "06:00")
    assert (night.start, night.end) == ("22:00", "06:00")


@pytest.mark.parametrize(
    ("weekdays", "start", "end", "message"),
    [
        ((), "06:00", "14:00", "weekdays"),
        ((7,), "06:00", "14:00", "weekdays"),
        ((-1, 2), "06:00", "14:00", "weekdays"),
        ((1.5,), "06:00", "14:00", "weekdays"),
        ((0,), "24:00", "06:00", "start must be HH:MM"),
        ((0,), "6:00", "14:00", "start must be HH:MM"),
        ((0,), "06:00", "14:60", "end must be HH:MM"),
        ((0,), "06:00:00", "14:00", "start must be HH:MM"),
        ((0,), "06:00", "14:00\n", "end must be HH:MM"),
        ((0,), "08:00", "08:00", "must differ"),
    ],
)
def test_shift_validation(weekdays: Any, start: str, end: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        s.Shift.create("Early", weekdays, start, end)


def test_shift_weekdays_of_mixed_types_are_a_validation_error() -> None:
    # A JSON body like {"weekdays": [1, "tue"]} must be a 400, not a TypeError from sorting.
    with pytest.raises(ValidationError, match="weekdays"):
        s.Shift.create("Early", (1, "tue"), "06:00", "14:00")  # type: ignore[arg-type]


def test_site_details_validation() -> None:
    early = s.Shift.create("Early", (0,), "06:00", "14:00")
    details = s.SiteDetails.create("Plant 1", "Europe/Berlin", tariff_ref="t-1", shifts=(early,))
    assert details.timezone == "Europe/Berlin"
    assert details.shifts == (early,)
    with pytest.raises(ValidationError, match="unique"):
        s.SiteDetails.create("Plant 1", "UTC", shifts=(early, early))
    many = tuple(s.Shift.create(f"s{i}", (0,), "06:00", "07:00") for i in range(21))
    with pytest.raises(ValidationError, match="at most 20"):
        s.SiteDetails.create("Plant 1", "UTC", shifts=many)
    with pytest.raises(ValidationError):
        s.SiteDetails.create("", "UTC")
    with pytest.raises(InvalidTimezone):
        s.SiteDetails.create("Plant 1", "Mars/Base")
    with pytest.raises(ValidationError):
        s.SiteDetails.create("Plant 1", "UTC", address="line\x07bell")


def test_register_records_site_registered() -> None:
    details = s.SiteDetails.create("Plant 1", "Europe/Berlin")
    site = s.Site.register(TenantId("acme"), SiteId("plant-1"), details, CTX)
    [event] = site.pending_events()
    assert isinstance(event, s.SiteRegistered)
    assert event.aggregate_id == "site:acme:plant-1" == site.id
    assert (event.version, event.tenant_id, event.actor) == (1, "acme", CTX.actor)
    assert event.occurred_at == CTX.occurred_at
    assert event.site_id == "plant-1" == site.site_id
    assert site.details == details


def test_change_details_records_only_real_changes() -> None:
    details = s.SiteDetails.create("Plant 1", "Europe/Berlin")
    site = s.Site.register(TenantId("acme"), SiteId("plant-1"), details, CTX)
    site.change_details(s.SiteDetails.create(" Plant 1 ", "Europe/Berlin"), LATER)
    assert len(site.pending_events()) == 1
    moved = s.SiteDetails.create("Plant 1", "America/Chicago", address="1 Main St")
    site.change_details(moved, LATER)
    event = site.pending_events()[-1]
    assert isinstance(event, s.SiteDetailsChanged)
    assert (event.version, event.actor, event.occurred_at) == (2, LATER.actor, LATER.occurred_at)
    assert site.details.timezone == "America/Chicago"


def test_site_state_is_the_fold_of_its_events() -> None:
    site = s.Site.register(
        TenantId("acme"), SiteId("plant-1"), s.SiteDetails.create("Plant 1", "UTC"), CTX
    )
    shifts = (s.Shift.create("Late", (5, 6), "14:00", "22:00"),)
    site.change_details(s.SiteDetails.create("Plant One", "Europe/Berlin", shifts=shifts), LATER)
    rebuilt = s.Site.rehydrate(site.pending_events())
    assert rebuilt is not None
    assert state(rebuilt) == state(site)
    assert rebuilt.version == 2
