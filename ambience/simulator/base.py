"""What every virtual device is: a light or thermostat model behind one bridge's MQTT convention.

A virtual device is pure: the simulator hands it incoming messages and the time, and publishes
the :class:`Publish` list it returns. A subclass per bridge knows the topics and payloads
(:meth:`subscriptions`, :meth:`handle`, :meth:`report`, :meth:`availability`); the faults, the
command count and the snapshot are shared here. One thread owns a device (the simulator's engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Final, Generic, TypeVar

from ambience.config.devices import DeviceBase
from ambience.simulator.faults import Faults
from ambience.simulator.model import ClimateModel, LightModel, SensorModel, SwitchModel
from ambience.simulator.profiles import Profile

LIGHT: Final = "light"
CLIMATE: Final = "climate"
SWITCH: Final = "switch"
SENSOR: Final = "sensor"

ConfigT = TypeVar("ConfigT", bound=DeviceBase)
"""The bridge's device model (``Zigbee2MqttDevice``…): a subclass reads its own topics off it."""


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: str
    retain: bool = False


class VirtualDevice(Generic[ConfigT]):
    bridge: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = (LIGHT, CLIMATE)
    """What the bridge's convention can express; anything else is simulated as a light."""
    option_names: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        room_id: str,
        config: ConfigT,
        kind: str,
        *,
        initial: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        drift: float = 0.1,
        profile: Profile | None = None,
    ):
        if kind not in self.kinds:
            raise ValueError(f"a {self.bridge} device cannot be a {kind}")
        unknown = set(options or {}) - self.option_names
        if unknown:
            allowed = ", ".join(sorted(self.option_names)) or "none"
            raise ValueError(f"unknown {self.bridge} simulator option {sorted(unknown)[0]!r}; allowed: {allowed}")
        self.room_id = room_id
        self.config = config
        self.kind = kind
        self.options = dict(options or {})
        self.profile = profile
        """The real device it is (:mod:`ambience.simulator.profiles`); None: the bridge's convention in general."""
        self.light = LightModel.from_initial(initial) if kind == LIGHT else None
        self.climate = ClimateModel.from_initial(initial, drift) if kind == CLIMATE else None
        self.switch = SwitchModel.from_initial(initial) if kind == SWITCH else None
        self.sensor = SensorModel.from_initial(initial) if kind == SENSOR else None
        self.faults = Faults()
        self.commands = 0
        """Commands obeyed."""
        self.dropped = 0
        """Commands ignored because of ``drop_first``."""

    @property
    def name(self) -> str:
        return self.config.device

    @property
    def answering(self) -> bool:
        return not (self.faults.offline or self.faults.mute)

    # ---- the bridge's convention (subclasses) ------------------------------------------------

    def subscriptions(self) -> list[str]:
        """Topic filters the device listens on."""
        raise NotImplementedError

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        """A message on one of the subscriptions; call :meth:`accept` before obeying a command."""
        raise NotImplementedError

    def report(self, now: float) -> list[Publish]:
        """What the device publishes to tell its whole state (at start-up and on reconnect)."""
        raise NotImplementedError

    def availability(self, online: bool) -> list[Publish]:
        raise NotImplementedError

    def fade_step(self, now: float, finished: bool) -> list[Publish]:
        """What it publishes while a fade runs (each tick) and when it ends."""
        return []

    def climate_step(self, now: float) -> list[Publish]:
        """What it publishes when the measured temperature changed."""
        return []

    def switch_changed(self, now: float) -> list[Publish]:
        """What a plug publishes when its output changed by itself (its auto-off timer ran out)."""
        return self.report(now)

    def sensor_step(self, now: float) -> list[Publish]:
        """What a sensor publishes at a tick (its reading, when it changed or is due)."""
        return []

    # ---- driven by the simulator -------------------------------------------------------------

    def accept(self) -> bool:
        """Count a command; False if ``drop_first`` swallows it."""
        if self.faults.drop_first > 0:
            self.faults = replace(self.faults, drop_first=self.faults.drop_first - 1)
            self.dropped += 1
            return False
        self.commands += 1
        return True

    def receive(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        return self.handle(topic, payload, now) if self.answering else []

    def announce(self, now: float, availability: bool = True) -> list[Publish]:
        """Discovery, availability and state, as a bridge publishes them when it (re)connects; without the
        availability for a device whose own connection says it (a Shelly's, an ESPHome node's)."""
        state = self.report(now) if self.answering else []
        online = self.availability(not self.faults.offline) if availability else []
        return self.discovery() + online + state

    def discovery(self) -> list[Publish]:
        """The retained announcement of what the device is (Tasmota discovery, ESPHome's HA configs)."""
        return []

    def timed(self, now: float) -> list[Publish]:
        """What it does on its own at a tick: a sleepy valve's periodic report, a schedule step."""
        return []

    def set_faults(self, faults: Faults, now: float) -> list[Publish]:
        was_offline = self.faults.offline
        self.faults = faults
        if faults.offline != was_offline:
            return self.availability(not faults.offline) + (self.report(now) if self.answering else [])
        return []

    @property
    def deadline(self) -> float | None:
        """When a running fade ends, or a plug's auto-off timer runs out (the simulator wakes then)."""
        if self.switch is not None:
            return self.switch.off_at
        return self.light.deadline if self.light else None

    def update(self, now: float, step: bool) -> list[Publish]:
        """Time passes: end fades that are due; on a tick (``step``) report fades and drift the climate."""
        out: list[Publish] = []
        if self.light is not None:
            if self.light.settle(now):
                out += self.fade_step(now, finished=True)
            elif step and self.light.fading:
                out += self.fade_step(now, finished=False)
        if self.climate is not None and step and self.climate.step():
            out += self.climate_step(now)
        if self.switch is not None and self.switch.expire(now):
            out += self.switch_changed(now)  # the firmware's timer: whether or not ambience is there
        if self.sensor is not None and step:
            out += self.sensor_step(now)
        if step:
            out += self.timed(now)
        return out if self.answering else []

    def snapshot(self, now: float) -> dict[str, Any]:
        """The true state in ambience units (%, K, °C), for tests, demos and benchmarks."""
        snap: dict[str, Any] = {"room": self.room_id, "device": self.name, "bridge": self.bridge, "kind": self.kind}
        if self.light is not None:
            v = self.light.view(now)
            snap.update(
                on=v.on,
                brightness=round(v.brightness, 1),
                color_temp=round(v.color_temp) if v.color_temp else None,
                color=v.color,
                fading=self.light.fading,
            )
        if self.climate is not None:
            c = self.climate
            snap.update(
                target=c.target,
                mode=c.mode,
                local_temperature=round(c.local, 2),
                running_state=c.running_state,
                preset=c.preset,
            )
        if self.switch is not None:
            sw = self.switch
            snap.update(
                on=sw.on,
                power=sw.power,
                auto_off_left=None if sw.off_at is None else round(max(0.0, sw.off_at - now)),
                timed_offs=sw.timed_offs,
            )
        if self.sensor is not None:
            snap.update(temperature=round(self.sensor.temperature, 2), humidity=round(self.sensor.humidity, 1))
        if self.profile is not None:
            snap["profile"] = self.profile.name
            snap.update(self.snapshot_extra(now))
        snap.update(
            online=not self.faults.offline, commands=self.commands, dropped=self.dropped, faults=self.faults.as_dict()
        )
        return snap

    def snapshot_extra(self, now: float) -> dict[str, Any]:
        """What a profiled device adds to its snapshot (valve position, the bridge's errors …)."""
        return {}


def number(value: Any) -> float | None:
    """A JSON number as float; None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def parse_number(text: str) -> float | None:
    """A number in a plain-text payload (``"21.5"``); None if it is not one."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None
