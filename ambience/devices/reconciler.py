"""Desired vs reported, per device. Pure: every method takes ``now`` and returns messages.

A :class:`Tracked` device remembers what the room wants of it, what it last reported and
whether it is online. It sends when the two differ, on (re)connect and when the device
comes back online; it retries with backoff when no matching report arrives, and after
``MAX_TRIES`` it is *unconfirmed* — it keeps being retried, slowly, but never blocks
anything else. Payloads are absolute, so a duplicate (QoS 1) is harmless.

A fade longer than the device does natively is sent as steps, each with a device
transition, so it looks continuous.

*Confirmed* means the device's last report matches what is desired now. A report that differs
is never confirmed: while a command is in flight (its transition plus the ack window) it is
*pending*; a device that had confirmed and then reports something else was changed at the
device — *manual* — and is left as the person set it until the room wants something new of it
(or it comes back to what is wanted). A thermostat reporting a setpoint outside the room's
limits is always corrected at once, manual or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from ambience.core import lightness
from ambience.devices.base import Adapter, Availability, ClimateReport, Message, Report, SensorReport, SwitchReport
from ambience.devices.capabilities import Capabilities, Learns
from ambience.devices.kinds import KINDS, Kind, Tolerances
from ambience.model.state import ClimateState, Light, LightTarget, Switch
from ambience.units import format_duration

ACK_TIMEOUT = 2.0
"""Seconds to wait for a device's report after a command (plus its transition), doubled per try."""
MAX_TRIES = 4
SLOW_RETRY = 30.0
"""Seconds between tries once a device is unconfirmed."""
PATIENT_ACK_TIMEOUT = 300.0
"""A thermostat's (or battery device's) first ack window: a sleepy valve reports when it next wakes."""
PATIENT_TRIES = 3
"""Writes of one change to a patient device: the first and two slow retries, then it waits for its report."""
MIN_STEP = 1.0
"""Seconds between the steps of a fade on a device that does no transition of its own."""
CURVE_STEPS = 6
"""A brightness fade longer than :data:`CURVE_FROM` is sent as this many steps at least, even to a device
that could do it in one: a device fades in a straight line of brightness, so each step is a chord of the
lightness curve (:mod:`ambience.core.lightness`), and six keep a 60→10 % dim within about 1 ΔL* of it (bench P7)."""
CURVE_FROM = 60.0
"""Seconds: a shorter fade is left to the device in one command."""
REARM_EVERY = 0.25
"""A switch's device-side auto-off timer is re-armed after this fraction of it: three re-arms can be
lost (a broker restart, a dropped command) before the device switches itself off."""

TIMER_RAN_OUT = 0.9
"""An *off* at least this fraction of ``auto_off`` after the switch last said *on* is its own timer."""

Desired = LightTarget | ClimateState | Switch
Sent = Light | ClimateState | Switch
Reported = Light | ClimateReport | SwitchReport | SensorReport

Status = Literal["idle", "pending", "confirmed", "unconfirmed", "offline", "manual"]


@dataclass
class Fade:
    """A light fade from ``start`` (at ``since``) to ``target`` over ``duration`` seconds: even in perceived
    lightness (:func:`ambience.core.lightness.mix`, as the timeline), the colour temperature linear."""

    start: Light
    target: Light
    since: float
    duration: float

    def value(self, t: float) -> Light:
        if self.duration <= 0 or t >= self.since + self.duration:
            return self.target
        f = max(0.0, (t - self.since) / self.duration)
        a, b = self.start, self.target
        ct = b.color_temp
        if a.color_temp is not None and b.color_temp is not None:
            ct = a.color_temp + (b.color_temp - a.color_temp) * f
        return Light(lightness.mix(a.brightness, b.brightness, f), ct, b.color)

    def left(self, t: float) -> float:
        return max(0.0, self.since + self.duration - t)


@dataclass
class Tracked:
    room: str
    id: str
    role: str
    adapter: Adapter
    mired_range: tuple[int, int] = (153, 500)
    temperature_step: float = 0.5
    temperature_limits: tuple[float, float] | None = None
    """The room's min/max temperature: a reported setpoint outside them is corrected at once."""
    ack_timeout: float = ACK_TIMEOUT
    max_tries: int = MAX_TRIES
    slow_retry: float = SLOW_RETRY
    manual: Literal["hold", "reassert"] = "hold"
    """The room's policy for a change by hand: keep it (until the room wants something new) or undo it."""
    patient: bool = False
    """A thermostat or battery device: after ``max_tries`` it is not retried again, its next report
    (whenever it comes) confirms; each try is a write the device (and the room) hears."""
    auto_off: float | None = None
    """A switch's device-side auto-off timer (seconds), armed with *on* and re-armed while it should stay on."""
    heats: bool = False
    """A heat-class switch (heater, table warmer…): ``max_on`` applies, and it is shown if it relies on ambience."""
    max_on: float | None = None
    """A heat-class switch is switched off after this many seconds on in a row, whatever the room wants."""
    fade: Fade | None = None
    climate: ClimateState | None = None
    switch: Switch | None = None
    on_since: float | None = None
    """When the room last wanted the switch on (from off): its on-time is counted from there."""
    capped: bool = False
    """The switch was switched off for its maximum on-time; it stays off until the room wants it off."""
    rearm_at: float | None = None
    on_reported_at: float | None = None
    """When the switch last said it is on: its firmware's timer, re-armed by then, runs out ``auto_off`` later."""
    sent: Sent | None = None
    sent_transition: float = 0.0
    reported: Reported | None = None
    online: bool | None = None
    bridge_online: bool | None = None
    """The bridge's own health (Zigbee2MQTT ``bridge/state``): offline, no device behind it is reached."""
    status: Status = "idle"
    tries: int = 0
    retry_at: float | None = None
    step_at: float | None = None
    last_sent_at: float | None = None
    reported_at: float | None = None
    """When the last state report came (availability aside)."""
    sends: int = field(default=0)

    @cached_property
    def learner(self) -> Learns | None:
        """The adapter, if it is one that :class:`Learns` — asked once: an isinstance() against a runtime-checkable
        Protocol walks the protocol's attributes every time (1.5 ms of a start's 6.8 under cProfile, bench P1)."""
        return self.adapter if isinstance(self.adapter, Learns) else None

    @property
    def kind(self) -> str:
        return self.adapter.kind

    @property
    def behaviour(self) -> Kind:
        """What this kind of device means (:mod:`ambience.devices.kinds`)."""
        return KINDS[self.adapter.kind]

    def want(self, desired: Desired | None, now: float) -> list[Message]:
        """What the room wants of the device now (None: nothing; it is left as it is)."""
        if self.kind == "climate":
            assert desired is None or isinstance(desired, ClimateState)
            return self.want_climate(desired, now)
        if self.kind == "switch":
            assert desired is None or isinstance(desired, Switch)
            return self.want_switch(desired, now)
        if self.kind == "sensor":
            return []  # only listened to
        assert desired is None or isinstance(desired, LightTarget)
        return self.want_light(desired, now)

    @property
    def wants_something(self) -> bool:
        return self.fade is not None or self.climate is not None or self.switch is not None

    @property
    def reachable(self) -> bool | None:
        """``False`` when the device, or the bridge it is behind, says it is offline."""
        if self.online is False or self.bridge_online is False:
            return False
        return self.online

    # ---- what the bridge says the device can do ---------------------------------------------

    def learn(self, announced: Capabilities, now: float) -> list[Message]:
        """The bridge announced what the device can do: from now on it is sent within that. What is
        wanted now is sent again if it now becomes something else (a mode spelled as the device does)."""
        if (learner := self.learner) is None:
            return []
        old = learner.capabilities
        learner.learn(announced)
        caps = learner.capabilities
        if caps.color_temp is not None:
            self.mired_range = caps.color_temp
        if caps.setpoint_step is not None:
            self.temperature_step = caps.setpoint_step
        if not self.wants_something or self.sent is None:
            return []
        if self.reported is not None and self.matches(self.reported):
            self.status, self.retry_at = "confirmed", None
            return []
        if self._plan_changed():
            return self._send(now, fresh=True)
        if caps != old and self.status not in ("confirmed", "manual"):
            # the same state may now go out otherwise (a two-point node's low/high topics, a plug's
            # Switch.Set): one more try, counted against the device's tries
            return self._send(now)
        return []

    def notes(self) -> list[str]:
        """What the room wants of the device now that it cannot do (not sent; it blocks nothing)."""
        notes = []
        if self.learner is not None and self.climate is not None:
            notes += self.learner.refusals(self.climate)
        if self.capped and self.max_on is not None:
            notes.append(f"switched off: on for its maximum on-time ({format_duration(self.max_on)})")
        return notes

    @property
    def relies_on_ambience(self) -> bool:
        """A switch that heats with no device-side timer: only ambience switches it off."""
        return self.kind == "switch" and self.heats and self.adapter.auto_off_range() is None

    # ---- what the room wants -----------------------------------------------------------

    def want_light(self, target: LightTarget | None, now: float) -> list[Message]:
        if target is None:
            self.fade, self.status, self.retry_at, self.step_at = None, "idle", None, None
            return []
        fade = Fade(target.now, target.target, now, target.transition)
        if self.fade is not None and self._same_fade(self.fade, fade, now):
            return []
        self.fade = fade
        return self._send(now, fresh=True)

    def want_switch(self, switch: Switch | None, now: float) -> list[Message]:
        if switch is not None and switch.on and self.capped:
            return []  # it reached its maximum on-time: off until the room wants it off
        if switch is not None and switch.on:
            if self.on_since is None:
                self.on_since = now
            switch = Switch(True, self.auto_off if self.adapter.auto_off_range() is not None else None)
        else:
            self.on_since, self.capped = None, False
        if switch is not None and self.switch is not None and switch.on == self.switch.on:
            if switch != self.switch:  # the same state with another timer: the next re-arm takes it
                self.switch = switch
                if switch.auto_off and self.rearm_at is None:
                    self.rearm_at = now  # a timer learnt while on (Z2M's bridge/devices came late): arm it now
            return []
        self.switch = switch
        self.rearm_at = None
        if switch is None:
            self.status, self.retry_at = "idle", None
            return []
        return self._send(now, fresh=True)

    def _cap(self, now: float) -> list[Message]:
        """A heat-class switch on for its maximum on-time is switched off."""
        self.switch, self.capped, self.rearm_at = Switch(False), True, None
        return self._send(now, fresh=True)

    def _rearm(self, now: float) -> list[Message]:
        """The same *on* again, which restarts the device's auto-off timer; the status is left as it is
        (the device's report confirms, as for any command)."""
        assert self.switch is not None
        messages = self.behaviour.encode(self.adapter, self.switch, 0.0)
        self.last_sent_at, self.sends = now, self.sends + 1
        self.rearm_at = now + (self.switch.auto_off or 0) * REARM_EVERY
        return messages

    def want_climate(self, climate: ClimateState | None, now: float) -> list[Message]:
        if climate == self.climate:
            return []
        self.climate = climate
        if climate is None:
            self.status, self.retry_at = "idle", None
            return []
        return self._send(now, fresh=True)

    def _same_fade(self, old: Fade, new: Fade, now: float) -> bool:
        """The same fade asked again (e.g. the timeline re-read after a wake-up)."""
        if old.target != new.target:
            return False
        if old.left(now) == 0 and new.duration == 0:
            return True
        return abs(old.left(now) - new.duration) < 0.5

    # ---- sending -------------------------------------------------------------------------

    def _command(self, now: float) -> tuple[Sent, float]:
        if self.climate is not None:
            return self.climate, 0.0
        if self.switch is not None:
            if self.switch.on and self.switch.auto_off:
                self.rearm_at = now + self.switch.auto_off * REARM_EVERY
            return self.switch, 0.0
        assert self.fade is not None
        left = self.fade.left(now)
        native = self.adapter.max_transition
        fade = self.fade
        if fade.duration > CURVE_FROM and fade.start.brightness != fade.target.brightness:
            native = min(native, max(fade.duration / CURVE_STEPS, MIN_STEP))
        if left <= native + 1e-6:
            self.step_at = None
            return self.fade.target, left
        step = max(native, MIN_STEP)
        self.step_at = now + step
        return self.fade.value(now + step), step

    def _send(self, now: float, fresh: bool = False) -> list[Message]:
        if not self.wants_something:
            return []
        if fresh:
            self.tries = 0
        command, transition = self._command(now)
        messages = self.behaviour.encode(self.adapter, command, transition)
        if isinstance(command, ClimateState) and self.learner is not None:
            command = self.learner.expected(command)  # its report is compared with what the device was sent
        # The last report still tells how the device is only if nothing was sent to it since: a report
        # older than a command (the broker went down before the answer came) confirms nothing.
        current = self.reported_at is not None and (self.last_sent_at is None or self.reported_at > self.last_sent_at)
        # a device that always fades a little (a Shelly's 0.5 s at least) reports in-between values for that long
        floor = getattr(self.adapter, "min_transition", 0.0) if isinstance(command, Light) else 0.0
        self.sent, self.sent_transition = command, max(transition, floor)
        self.tries += 1
        self.sends += 1
        self.last_sent_at = now
        if self.reachable is False:
            self.status = "offline"
        elif self.tries > self.max_tries:
            self.status = "unconfirmed"
        else:
            self.status = "pending"
        if current and self.matches(self.reported):
            self.status = "confirmed"
        self.retry_at = now + self._patience(transition)
        if not messages and isinstance(command, ClimateState):  # all of it is what the device cannot do
            self.status, self.retry_at = "confirmed", None  # nothing is asked of it; its note says why
        return messages

    def _plan_changed(self) -> bool:
        """What is wanted now would be sent otherwise than it was (the capabilities came, or the valve
        said it runs its schedule), and the device does not already show that."""
        if self.climate is None or self.status == "manual" or self.learner is None:
            return False
        plan = self.learner.expected(self.climate)
        if plan == self.sent:
            return False
        tol = Tolerances(self.temperature_step, self.mired_range)
        return self.reported is None or not self.behaviour.matches(plan, self.reported, tol)

    def _patience(self, transition: float) -> float:
        """Seconds to wait for a report before the next try (for a patient device's last one: before
        it is shown unconfirmed)."""
        if self.tries > self.max_tries:
            return transition + self.slow_retry
        return transition + self.ack_timeout * 2 ** (self.tries - 1)

    # ---- what the device says --------------------------------------------------------------

    def report(self, report: Report, now: float) -> list[Message]:
        if isinstance(report, Availability):
            was = self.online
            self.online = report.online
            if not report.online:
                self.status = "offline" if self.wants_something else self.status
                return []
            if was is False and self.wants_something and self.status != "manual":
                return self._send(now, fresh=True)
            return []
        if self.behaviour.about_state(report):
            self.reported_at = now  # a measured temperature alone says nothing of the setpoint
        was_on = isinstance(self.reported, SwitchReport) and self.reported.on
        self.reported = self.behaviour.take(self.reported, report)
        if isinstance(report, SwitchReport) and report.on:
            self.on_reported_at = now
        elif isinstance(report, SwitchReport) and was_on and self._timer_ran_out(now):
            return self._send(now, fresh=True)  # not a person: re-arms were lost and its own timer ran out
        if self.online is None:
            self.online = True
        if self.sent is None or not self.wants_something:
            return []
        if self._plan_changed():
            return self._send(now)  # the report changed what the device needs (its schedule runs): one more try
        if self.matches(self.reported):
            self.status = "confirmed"
            self.retry_at = None
            return []
        # Until the device has confirmed, a report that differs may be it still getting there (the ack window);
        # once it has, only a fade's own in-between reports are: anything else is a person's change.
        grace = 0.0 if self.status in ("confirmed", "manual") else self.ack_timeout
        in_flight = self.last_sent_at is not None and now < self.last_sent_at + self.sent_transition + grace
        if self._outside_limits() and not in_flight:
            return self._send(now, fresh=True)  # never leave a room heated beyond its limits
        if in_flight:
            if self.status in ("confirmed", "manual"):  # an in-between report of a fade
                self.status = "pending"
                self.retry_at = self.last_sent_at + self._patience(self.sent_transition)  # type: ignore[operator]
        elif self.status in ("confirmed", "manual"):
            if self.manual == "reassert":  # the room's value wins: sent again at once
                return self._send(now, fresh=True)
            self.status = "manual"  # it had what was asked, and was changed at the device
            self.retry_at, self.step_at = None, None
        return []

    def _timer_ran_out(self, now: float) -> bool:
        """An *off* from a switch the room wants on, armed with a timer, said no sooner than that timer
        after the switch last said it was on: its re-arms were lost (a broker hiccup) and the device
        switched itself off. A person's *off* comes between re-arms, each of which the switch answers
        with *on*, so it is sooner; that one is held (``manual``)."""
        sw = self.switch
        if sw is None or not sw.on or not sw.auto_off or self.on_reported_at is None or self.status == "manual":
            return False
        return now >= self.on_reported_at + sw.auto_off * TIMER_RAN_OUT

    def _outside_limits(self) -> bool:
        if self.sent is None or self.reported is None:
            return False
        return self.behaviour.outside(self.sent, self.reported, self.temperature_limits)

    def matches(self, reported: Reported | None) -> bool:
        if reported is None or self.sent is None:
            return False
        capabilities = getattr(self.adapter, "capabilities", None)  # adapters that learn what the device can do
        dimmable = getattr(capabilities, "brightness", None) is not False
        return self.behaviour.matches(
            self.sent, reported, Tolerances(self.temperature_step, self.mired_range, dimmable=dimmable)
        )

    # ---- time and the connection ---------------------------------------------------------------

    def due(self, now: float) -> list[Message]:
        """Steps of a long fade, retries and re-arms that are due at ``now``."""
        if self.on_since is not None and self.max_on is not None and now >= self.on_since + self.max_on:
            if not self.capped:
                return self._cap(now)
        if self.rearm_at is not None and now >= self.rearm_at and self.switch is not None and self.switch.on:
            if self.status == "manual" or self.reachable is False:
                self.rearm_at = now + (self.switch.auto_off or 0) * REARM_EVERY
                return []
            return self._rearm(now)
        if self.step_at is not None and now >= self.step_at:
            return self._send(now, fresh=True)
        if self.retry_at is not None and now >= self.retry_at and self.status != "confirmed":
            if self.reachable is False:
                self.retry_at = None
                return []
            if self.patient and self.tries >= self.max_tries:  # no more writes: its next report confirms
                self.retry_at = None
                if self.status == "pending":
                    self.status = "unconfirmed"
                return []
            return self._send(now)
        return []

    def wake_at(self) -> float | None:
        cap = None
        if self.on_since is not None and self.max_on is not None and not self.capped:
            cap = self.on_since + self.max_on
        times = [
            t
            for t in (self.step_at, self.retry_at if self.status != "confirmed" else None, self.rearm_at, cap)
            if t is not None
        ]
        return min(times) if times else None

    def reconnected(self, now: float) -> list[Message]:
        """After a (re)connect: the current desired state, not the backlog; and ask for state."""
        if self.wants_something and self.status != "manual":  # a person's change is kept
            self.status = "pending"
        return self._ask_and_send(now)

    def bridge(self, online: bool, now: float) -> list[Message]:
        """The bridge itself went offline or came back (Zigbee2MQTT ``bridge/state``). Back after being
        down: it lost nothing it will tell unasked, so it is asked, and sent what is wanted."""
        was = self.bridge_online
        self.bridge_online = online
        if not online or was is not False:
            return []
        return self._ask_and_send(now)

    def _ask_and_send(self, now: float) -> list[Message]:
        """The state query, and what is wanted now (unless a person's change is kept). A patient device (a
        battery valve) is not sent both at once: it is sent what is wanted, and its report of that tells its
        state (bench P8: never two messages within 5 s to a battery device)."""
        query = list(self.adapter.query())
        if not self.wants_something or self.status == "manual":
            return query
        sent = self._send(now, fresh=True)
        return sent if self.patient and sent else query + sent

    @property
    def shown_status(self) -> Status:
        """The status as reported: an availability of offline (the device's or its bridge's) wins over what was last tried."""
        return "offline" if self.reachable is False else self.status

    # ---- status --------------------------------------------------------------------------------

    def describe(self) -> dict:
        wanted: Sent | None = self.climate if self.climate is not None else self.switch
        if wanted is None and self.fade is not None:
            wanted = self.fade.target
        out = {
            "id": self.id,
            "role": self.role,
            "desired": None if wanted is None else self.behaviour.shown(wanted),
            "reported": None if self.reported is None else self.behaviour.shown(self.reported),
            "status": self.shown_status,
        }
        if self.bridge_online is False:
            out["bridge"] = "offline"
        notes = self.notes()
        if notes:
            out["note"] = "; ".join(notes)
        return out

    def explain(self) -> dict:
        """What ``ambience rooms check`` shows beyond the status: the capabilities and the sending rules."""
        lines = self.learner.will_send() if self.learner is not None else []
        if self.patient:
            lines.append(
                f"patient: waits {self.ack_timeout:g} s for a report, {self.max_tries} writes a change at most"
            )
        if self.kind == "switch":
            span = self.adapter.auto_off_range()
            if span is not None and self.auto_off:
                lines.append(
                    f"auto-off: the device switches itself off {format_duration(self.auto_off)} after the last re-arm "
                    f"(re-armed every {format_duration(self.auto_off * REARM_EVERY)})"
                )
            elif self.heats:
                lines.append("relies on ambience: no device-side auto-off timer; only ambience switches it off")
            if self.heats and self.max_on is not None:
                lines.append(f"maximum on-time {format_duration(self.max_on)}")
        caps = self.learner.capabilities.shown() if self.learner is not None else {}
        return {"capabilities": caps, "sends": lines}
