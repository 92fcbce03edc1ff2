"""What differs between kinds of device, as data: one strategy per kind. Pure.

The reconciler (:mod:`ambience.devices.reconciler`) and the manager know a device only as
"a kind": what the room wants of it, how to send that, what its reports mean, when a report
confirms, and how it is shown. A new kind (a switch, a sensor) is one more entry in
:data:`KINDS`, not a branch in five places.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ambience.devices.base import Adapter, ClimateReport, LightReport, Message, Report, SensorReport, SwitchReport
from ambience.model.state import ClimateState, DeviceKind, Light, Switch, climate_json

BRIGHTNESS_TOLERANCE = 1.5
MIRED_TOLERANCE = 3

Sent = Light | ClimateState | Switch
Reported = Light | ClimateReport | SwitchReport | SensorReport


@dataclass(frozen=True)
class Tolerances:
    """A device's own precision, against which a report is compared with what was sent."""

    temperature_step: float = 0.5
    mired_range: tuple[int, int] = (153, 500)
    dimmable: bool = True
    """False for a relay driven as a light (its capabilities say ``brightness: False``): only on/off is compared."""


class Kind(Protocol):
    name: DeviceKind

    def encode(self, adapter: Adapter, command: Sent, transition: float) -> list[Message]:
        """The adapter's messages for ``command``."""
        ...

    def take(self, old: Reported | None, report: Report) -> Reported | None:
        """What the device says now, after ``report`` (partial reports keep what the others said)."""
        ...

    def about_state(self, report: Report) -> bool:
        """Whether ``report`` tells the state that confirms a command (not only, say, a measurement)."""
        ...

    def matches(self, sent: Sent, reported: Reported, tol: Tolerances) -> bool: ...

    def outside(self, sent: Sent, reported: Reported, limits: tuple[float, float] | None) -> bool:
        """A report the room corrects at once, whatever else (a setpoint beyond the room's limits)."""
        ...

    def shown(self, value: Sent | Reported) -> dict[str, Any]:
        """A desired or reported state as the room status shows it."""
        ...


class LightKind:
    name: DeviceKind = "light"

    def encode(self, adapter: Adapter, command: Sent, transition: float) -> list[Message]:
        assert isinstance(command, Light)
        return adapter.light(command, transition)

    def take(self, old: Reported | None, report: Report) -> Reported | None:
        return report.light if isinstance(report, LightReport) else old

    def about_state(self, report: Report) -> bool:
        return isinstance(report, LightReport)

    def matches(self, sent: Sent, reported: Reported, tol: Tolerances) -> bool:
        if not isinstance(sent, Light) or not isinstance(reported, Light):
            return False
        if sent.on != reported.on:
            return False
        if not sent.on or not tol.dimmable:
            return True
        if abs(sent.brightness - reported.brightness) > BRIGHTNESS_TOLERANCE:
            return False
        if sent.color_temp and reported.color_temp and not sent.color:
            lo, hi = tol.mired_range
            want = min(hi, max(lo, 1e6 / sent.color_temp))
            if abs(1e6 / reported.color_temp - want) > MIRED_TOLERANCE:
                return False
        return True

    def outside(self, sent: Sent, reported: Reported, limits: tuple[float, float] | None) -> bool:
        return False

    def shown(self, value: Sent | Reported) -> dict[str, Any]:
        assert isinstance(value, Light)
        out: dict[str, Any] = {"on": value.on, "brightness": round(value.brightness, 1)}
        if value.color:
            out["color"] = value.color
        elif value.color_temp:
            out["color_temp"] = round(value.color_temp)
        return out


class ClimateKind:
    name: DeviceKind = "climate"

    def encode(self, adapter: Adapter, command: Sent, transition: float) -> list[Message]:
        assert isinstance(command, ClimateState)
        return adapter.climate(command)

    def take(self, old: Reported | None, report: Report) -> Reported | None:
        if not isinstance(report, ClimateReport):
            return old
        last = old if isinstance(old, ClimateReport) else None
        settings = dict(last.settings if last else ()) | dict(report.settings)
        return ClimateReport(
            report.target if report.target is not None else (last.target if last else None),
            report.mode if report.mode is not None else (last.mode if last else None),
            report.current if report.current is not None else (last.current if last else None),
            tuple(sorted(settings.items())),
        )

    def about_state(self, report: Report) -> bool:
        return isinstance(report, ClimateReport) and (
            report.target is not None or report.mode is not None or bool(report.settings)
        )

    def matches(self, sent: Sent, reported: Reported, tol: Tolerances) -> bool:
        if not isinstance(sent, ClimateState) or not isinstance(reported, ClimateReport):
            return False
        if sent.target is not None:
            if reported.target is None or abs(reported.target - sent.target) > tol.temperature_step / 2 + 0.01:
                return False
        if sent.mode is not None and reported.mode is not None and reported.mode != sent.mode:
            return False  # no mode sent: whatever mode the device keeps is its own
        reported_settings = dict(reported.settings)
        return all(reported_settings.get(k, v) == v for k, v in sent.settings)

    def outside(self, sent: Sent, reported: Reported, limits: tuple[float, float] | None) -> bool:
        if limits is None or not isinstance(reported, ClimateReport) or reported.target is None:
            return False
        if not isinstance(sent, ClimateState) or sent.target is None:
            return False
        lo, hi = limits
        return not lo - 0.01 <= reported.target <= hi + 0.01

    def shown(self, value: Sent | Reported) -> dict[str, Any]:
        if isinstance(value, ClimateReport):
            out: dict[str, Any] = {"target": value.target, "mode": value.mode, "current": value.current}
            if value.settings:
                out["settings"] = dict(value.settings)
            return out
        assert isinstance(value, ClimateState)
        return climate_json(value)


class SwitchKind:
    """A plug or relay: on or off, confirmed by the output it reports (the power it draws is shown)."""

    name: DeviceKind = "switch"

    def encode(self, adapter: Adapter, command: Sent, transition: float) -> list[Message]:
        assert isinstance(command, Switch)
        return adapter.switch(command)

    def take(self, old: Reported | None, report: Report) -> Reported | None:
        if not isinstance(report, SwitchReport):
            return old
        if report.power is None and isinstance(old, SwitchReport) and old.on == report.on:
            return SwitchReport(report.on, old.power)  # a POWER message alone keeps the last measured power
        return report

    def about_state(self, report: Report) -> bool:
        return isinstance(report, SwitchReport)

    def matches(self, sent: Sent, reported: Reported, tol: Tolerances) -> bool:
        return isinstance(sent, Switch) and isinstance(reported, SwitchReport) and sent.on == reported.on

    def outside(self, sent: Sent, reported: Reported, limits: tuple[float, float] | None) -> bool:
        return False

    def shown(self, value: Sent | Reported) -> dict[str, Any]:
        if isinstance(value, SwitchReport):
            return {"on": value.on} if value.power is None else {"on": value.on, "power": round(value.power, 1)}
        assert isinstance(value, Switch)
        return {"on": value.on}


class SensorKind:
    """A room sensor: only listened to. Its reports are kept (the room's measured temperature); nothing is sent."""

    name: DeviceKind = "sensor"

    def encode(self, adapter: Adapter, command: Sent, transition: float) -> list[Message]:
        return []

    def take(self, old: Reported | None, report: Report) -> Reported | None:
        if not isinstance(report, SensorReport):
            return old
        last = old if isinstance(old, SensorReport) else None
        return SensorReport(
            report.temperature if report.temperature is not None else (last.temperature if last else None),
            report.humidity if report.humidity is not None else (last.humidity if last else None),
        )

    def about_state(self, report: Report) -> bool:
        return isinstance(report, SensorReport)

    def matches(self, sent: Sent, reported: Reported, tol: Tolerances) -> bool:
        return True

    def outside(self, sent: Sent, reported: Reported, limits: tuple[float, float] | None) -> bool:
        return False

    def shown(self, value: Sent | Reported) -> dict[str, Any]:
        assert isinstance(value, SensorReport)
        out: dict[str, Any] = {"temperature": value.temperature}
        if value.humidity is not None:
            out["humidity"] = value.humidity
        return out


KINDS: dict[str, Kind] = {
    "light": LightKind(),
    "climate": ClimateKind(),
    "switch": SwitchKind(),
    "sensor": SensorKind(),
}


__all__ = [
    "BRIGHTNESS_TOLERANCE",
    "KINDS",
    "MIRED_TOLERANCE",
    "ClimateKind",
    "Kind",
    "LightKind",
    "SensorKind",
    "SwitchKind",
    "Tolerances",
]
