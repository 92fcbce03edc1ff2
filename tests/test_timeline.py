"""The timeline: examples of each rule, then properties over generated presets and sessions."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ambience.core.after import DeviceRef, after_states
from ambience.core.lightness import lightness
from ambience.core.session import SessionFacts
from ambience.core.timeline import Timeline
from ambience.errors import CommandError
from ambience.model.client import Comfort
from ambience.model.limits import Limits
from ambience.model.preset import Preset, parse_preset
from ambience.model.state import ALL, Switch
from ambience.testing.properties import draws

pytestmark = pytest.mark.unit

SWEDISH = """
name: Swedish relaxation
duration: 60m
climate: {target: 24.0}
lights:
  brightness: 30
  color_temp: 2700
  transition: 30s
  roles: {ceiling: {state: off}}
music: {playlist: calm, volume: 35, fade_in: 20s, fade_out: 3m}
phases:
  - {name: arrival, at: 0m, lights: {brightness: 50}}
  - {name: treatment, at: 5m, lights: {brightness: 30, transition: 2m}}
  - name: closing
    at: -5m
    lights: {brightness: 60, transition: 4m}
    music: {volume: 20, transition: 4m}
after: restore
"""
T0 = 1_000_000.0


@pytest.fixture
def swedish() -> Preset:
    return parse_preset(SWEDISH, "swedish", "swedish.yaml")


def at(preset, facts, offset, limits=None):
    return Timeline(preset, facts, limits).at(T0 + offset)


def test_phases_walk_in_order_and_are_cumulative(swedish):
    facts = SessionFacts(T0, swedish.duration)
    assert at(swedish, facts, 0).phase == "arrival"
    assert at(swedish, facts, 299).phase == "arrival"
    assert at(swedish, facts, 300).phase == "treatment"
    assert at(swedish, facts, 3299).phase == "treatment"
    closing = at(swedish, facts, 3300)
    assert closing.phase == "closing"
    assert closing.light("lamp").now.color_temp == 2700  # colour carried over from the base


def test_a_light_fade_is_interpolated_with_its_remaining_time(swedish):
    facts = SessionFacts(T0, swedish.duration)
    mid = at(swedish, facts, 300 + 60).light(ALL)
    # halfway in perceived lightness from 50 % to 30 % (not 40 %, halfway in brightness): bench P7
    assert lightness(mid.now.brightness) == pytest.approx((lightness(50) + lightness(30)) / 2)
    assert 39 < mid.now.brightness < 40
    assert mid.target.brightness == 30 and mid.transition == pytest.approx(60)
    assert at(swedish, facts, 420).light(ALL).transition == 0


def test_a_role_setting_holds_through_later_phases(swedish):
    facts = SessionFacts(T0, swedish.duration)
    for offset in (0, 400, 3500):
        assert not at(swedish, facts, offset).light("ceiling").now.on
    assert at(swedish, facts, 3500).light("lamp").now.on


def test_music_fades_in_follows_phases_and_is_silent_exactly_at_the_end(swedish):
    facts = SessionFacts(T0, swedish.duration)
    assert at(swedish, facts, 0).music.volume == 0
    assert at(swedish, facts, 10).music.volume == pytest.approx(17.5)
    assert at(swedish, facts, 20).music.volume == pytest.approx(35)
    start_fade_out = 3600 - 180
    level = at(swedish, facts, start_fade_out).music.volume
    assert level == pytest.approx(35 + (20 - 35) * 120 / 240)
    assert at(swedish, facts, 3599.9).music.volume == pytest.approx(
        level * 0.1 / 180 * 20 / level * (20 / 20), rel=1e-6
    )
    end = at(swedish, facts, 3600)
    assert end.status == "ended" and end.music is None


def test_pause_freezes_countdown_and_music_lights_and_climate_hold(swedish):
    facts = SessionFacts(T0, swedish.duration).pause(T0 + 330)
    paused = at(swedish, facts, 330)
    later = at(swedish, facts, 900)
    assert later.status == "paused"
    assert later.remaining == paused.remaining == 3600 - 330
    assert later.music.position == 330 and not later.music.playing and later.music.ramp == 0
    assert later.light(ALL).now == paused.light(ALL).now and later.light(ALL).transition == 0
    assert later.climate == paused.climate
    assert Timeline(swedish, facts).next_change(T0 + 900) is None
    resumed = facts.resume(T0 + 900)
    assert at(swedish, resumed, 900).remaining == pytest.approx(3600 - 330)
    assert at(swedish, resumed, 900).ends_at == T0 + 3600 + 570


def test_extension_moves_end_anchored_phases(swedish):
    facts = SessionFacts(T0, swedish.duration).extend(600, T0 + 100)
    assert at(swedish, facts, 3300).phase == "treatment"
    assert at(swedish, facts, 3900).phase == "closing"
    assert at(swedish, facts, 4199).status == "running"
    assert at(swedish, facts, 4200).status == "ended"


def test_shortening_never_ends_before_now(swedish):
    facts = SessionFacts(T0, swedish.duration).extend(-7200, T0 + 1000)
    assert facts.length == 1000
    assert at(swedish, facts, 1000).status == "ended"
    with pytest.raises(CommandError, match="ended"):
        facts.extend(60, T0 + 1001)


def test_lead_time_runs_only_the_climate(swedish):
    facts = SessionFacts(T0, swedish.duration, lead=900)
    before = at(swedish, facts, -1000)
    assert before.status == "scheduled" and before.climate is None
    lead = at(swedish, facts, -600)
    assert lead.status == "preconditioning" and lead.climate.target == 24
    assert lead.lights is None and lead.music is None
    assert lead.remaining == 600 + 3600
    assert Timeline(swedish, facts).next_change(T0 - 600) == T0


def test_comfort_preferences_apply_on_top_and_limits_clamp_and_say_so(swedish):
    comfort = Comfort(temperature_offset=2.5, max_brightness=20, volume_offset=-10)
    facts = SessionFacts(T0, swedish.duration, comfort=comfort)
    state = at(swedish, facts, 400, Limits(max_temperature=26))
    assert state.climate.target == 26
    assert any("26.5 °C clamped to 26 °C" in n for n in state.notes)
    assert state.light(ALL).now.brightness == 20
    assert state.music.volume == 25
    no_music = SessionFacts(T0, swedish.duration, comfort=Comfort(no_music=True))
    assert at(swedish, no_music, 400).music is None


def test_no_mode_is_asked_unless_a_preset_names_one(swedish):
    """A Tuya TS0601 in ``heat`` holds its valve open: a mode is never implied."""
    facts = SessionFacts(T0, swedish.duration)
    assert at(swedish, facts, 0).climate.mode is None
    text = "name: m\nduration: 30m\nclimate: {target: 22}\nphases: [{name: cool, at: 10m, climate: {mode: 'off'}}]\n"
    moded = parse_preset(text + "after: {climate: {target: 18}}\n", "m", "m.yaml")
    facts = SessionFacts(T0, moded.duration)
    assert at(moded, facts, 0).climate.mode is None
    assert at(moded, facts, 900).climate.mode == "off" and at(moded, facts, 900).climate.target == 22
    assert at(moded, facts, 1800).climate.mode is None  # the after block names no mode


def test_after_restore_and_after_state_block(swedish):
    ended = at(swedish, SessionFacts(T0, swedish.duration), 4000)
    assert ended.restore == {"climate", "lights", "switches"} and ended.lights is None
    block = parse_preset("name: x\nduration: 30m\nafter: {lights: {brightness: 80, color_temp: 3500}}\n", "x", "x.yaml")
    state = at(block, SessionFacts(T0, block.duration), 1800)
    assert state.restore == {"climate", "switches"}
    assert state.light(ALL).now.brightness == 80 and state.light(ALL).now.color_temp == 3500


def test_stop_applies_the_after_state_at_once(swedish):
    facts = SessionFacts(T0, swedish.duration).stop(T0 + 100)
    state = at(swedish, facts, 100)
    assert state.status == "ended" and state.remaining == 0 and state.elapsed == 100


def test_session_commands_refuse_what_makes_no_sense(swedish):
    facts = SessionFacts(T0, swedish.duration)
    with pytest.raises(CommandError, match="not paused"):
        facts.resume(T0 + 10)
    with pytest.raises(CommandError, match="already paused"):
        facts.pause(T0 + 10).pause(T0 + 20)
    with pytest.raises(CommandError, match="starts in"):
        SessionFacts(T0, 60, lead=600).pause(T0 - 10)


WARM_TABLE = """
name: Warm table
duration: 60m
climate: {target: 23}
switches:
  table_warmer: {state: on, from: -40m}
  diffuser: on
  fan: {state: on, from: 10m}
phases:
  - {name: arrival, at: 0m}
  - {name: treatment, at: 5m}
  - {name: closing, at: -5m, switches: {diffuser: off, fan: off}}
after: {switches: {table_warmer: off}}
"""


@pytest.fixture
def warm_table() -> Preset:
    return parse_preset(WARM_TABLE, "warm-table", "warm-table.yaml")


def on_roles(state):
    return {role: s.on for role, s in (state.switches or {}).items()}


def test_a_switch_with_a_negative_from_is_on_from_then_during_the_lead(warm_table):
    facts = SessionFacts(T0, warm_table.duration, lead=3600)  # the booking's lead is longer than the warmer's
    tl = Timeline(warm_table, facts)
    early = tl.at(T0 - 3000)
    assert early.status == "preconditioning" and early.climate.target == 23 and early.switches is None
    assert tl.next_change(T0 - 3000) == T0 - 2400
    assert on_roles(tl.at(T0 - 2400)) == on_roles(tl.at(T0 - 1)) == {"table_warmer": True}
    assert tl.next_change(T0 - 2400) == T0
    assert tl.at(T0 - 3000 - 900).status == "scheduled" and tl.at(T0 - 3900).switches is None


def test_a_lead_shorter_than_the_from_has_the_switch_on_for_all_of_it(warm_table):
    tl = Timeline(warm_table, SessionFacts(T0, warm_table.duration, lead=900))
    assert on_roles(tl.at(T0 - 900)) == {"table_warmer": True}
    assert tl.next_change(T0 - 900) == T0


def test_a_session_started_now_turns_the_switch_on_at_the_start(warm_table):
    state = at(warm_table, SessionFacts(T0, warm_table.duration), 0)
    assert state.status == "running" and on_roles(state) == {"table_warmer": True, "diffuser": True}


def test_switches_follow_the_preset_then_each_phase_cumulatively(warm_table):
    facts = SessionFacts(T0, warm_table.duration)
    tl = Timeline(warm_table, facts)
    assert tl.next_change(T0 + 301) == T0 + 600  # the fan's from: not a phase time
    assert on_roles(tl.at(T0 + 600)) == {"table_warmer": True, "diffuser": True, "fan": True}
    closing = tl.at(T0 + 3300)
    assert closing.phase == "closing"
    assert on_roles(closing) == {"table_warmer": True, "diffuser": False, "fan": False}
    assert closing.desired("switch", "diffuser") == Switch(False)
    assert closing.desired("switch", "towel_warmer") is None  # a role nothing names is left alone


def test_a_phase_at_the_same_time_as_a_from_wins():
    text = "name: x\nduration: 30m\nswitches: {fan: {state: on, from: 10m}}\nphases: [{name: q, at: 10m, switches: {fan: off}}]\n"
    preset = parse_preset(text, "x", "x.yaml")
    assert on_roles(at(preset, SessionFacts(T0, preset.duration), 600)) == {"fan": False}


def test_a_pause_holds_every_switch_the_warmer_stays_on(warm_table):
    facts = SessionFacts(T0, warm_table.duration).pause(T0 + 400)
    tl = Timeline(warm_table, facts)
    held = tl.at(T0 + 2000)
    assert held.status == "paused" and on_roles(held) == {"table_warmer": True, "diffuser": True}  # no fan yet
    resumed = Timeline(warm_table, facts.resume(T0 + 2000))
    assert resumed.next_change(T0 + 2000) == T0 + 2000 + 200  # the fan's 10m, in session time
    assert on_roles(resumed.at(T0 + 2200))["fan"] is True


def test_the_end_gives_after_switches_and_restores_the_rest_with_heat_off(warm_table):
    ended = at(warm_table, SessionFacts(T0, warm_table.duration), 3600)
    assert ended.status == "ended" and on_roles(ended) == {"table_warmer": False}
    assert "switches" in ended.restore
    refs = [
        DeviceRef("warmer", "switch", "table_warmer", heats=True, restore_on=True),
        DeviceRef("diffuser", "switch", "diffuser"),
        DeviceRef("heater", "switch", "heater", heats=True),
    ]
    found = {"warmer": {"on": True}, "diffuser": {"on": True}, "heater": {"on": True}}
    assert after_states(ended, refs, found, Limits()) == {
        "warmer": Switch(False),  # the after block names it: off, whatever restore_on says
        "diffuser": Switch(True),  # not named: as found
        "heater": Switch(False),  # not named, heats: never back on
    }
    stopped = at(warm_table, SessionFacts(T0, warm_table.duration, lead=2400).stop(T0 - 100), -100)
    assert stopped.status == "ended" and on_roles(stopped) == {"table_warmer": False}


# ---- properties -----------------------------------------------------------------------------

ROLES = ["ceiling", "lamp"]
SWITCHES = ["table_warmer", "diffuser", "fan"]


@st.composite
def light_blocks(draw, phase=False):
    block = {}
    if draw(st.booleans()):
        block["brightness"] = draw(st.integers(0, 100))
    if draw(st.booleans()):
        block["color_temp"] = draw(st.integers(1500, 6500))
    if draw(st.booleans()):
        block["transition"] = draw(st.integers(0, 1200))
    if draw(st.booleans()):
        block["state"] = draw(st.sampled_from(["on", "off"]))
    roles = draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=2))
    if roles:
        block["roles"] = {r: {"brightness": draw(st.integers(0, 100))} for r in roles}
    return block


@st.composite
def presets(draw):
    duration = draw(st.integers(60, 3 * 3600))
    data: dict = {"id": "p", "name": "P", "duration": f"{duration}s"}
    if draw(st.booleans()):
        data["climate"] = {"target": draw(st.floats(5, 35, allow_nan=False))}
    if draw(st.booleans()):
        data["lights"] = draw(light_blocks())
    if draw(st.booleans()):
        fade_in = draw(st.integers(0, duration // 2))
        fade_out = draw(st.integers(0, duration - fade_in))
        data["music"] = {
            "playlist": "calm",
            "volume": draw(st.integers(0, 100)),
            "fade_in": fade_in,
            "fade_out": fade_out,
        }
    switch_roles = st.lists(st.sampled_from(SWITCHES), unique=True, max_size=3)
    data["switches"] = {
        r: {"state": draw(st.sampled_from(["on", "off"])), "from": f"{draw(st.integers(-3600, duration - 1))}s"}
        for r in draw(switch_roles)
    }
    phases = []
    for i in range(draw(st.integers(0, 4))):
        at = draw(st.one_of(st.integers(0, duration - 1), st.integers(-duration, -1)))
        phase = {"name": f"p{i}", "at": f"{at}s"}
        if draw(st.booleans()):
            phase["lights"] = draw(light_blocks())
        if draw(st.booleans()):
            phase["music"] = {"volume": draw(st.integers(0, 100)), "transition": draw(st.integers(0, 600))}
        if draw(st.booleans()):
            phase["climate"] = {"target": draw(st.floats(5, 35, allow_nan=False))}
        phase["switches"] = {r: draw(st.sampled_from(["on", "off"])) for r in draw(switch_roles)}
        phases.append(phase)
    data["phases"] = phases
    return Preset.model_validate(data)


@st.composite
def sessions(draw, preset):
    duration = draw(st.one_of(st.just(preset.duration), st.integers(60, 4 * 3600).map(float)))
    facts = SessionFacts(T0, duration, lead=draw(st.sampled_from([0.0, 900.0])))
    now = T0
    for _ in range(draw(st.integers(0, 4))):
        now += draw(st.integers(1, 1800))
        action = draw(st.sampled_from(["pause", "resume", "extend"]))
        try:
            if action == "pause":
                facts = facts.pause(now)
            elif action == "resume":
                facts = facts.resume(now)
            else:
                facts = facts.extend(draw(st.integers(-1800, 1800)), now)
        except CommandError:
            pass
    return facts


limits_st = st.builds(
    lambda lo, span, vol, bri: Limits(
        min_temperature=lo, max_temperature=min(35, lo + span), max_volume=vol, max_brightness=bri
    ),
    st.integers(5, 30),
    st.integers(0, 10),
    st.integers(0, 100),
    st.integers(0, 100),
)
comfort_st = st.builds(
    Comfort,
    temperature_offset=st.floats(-5, 5),
    no_music=st.booleans(),
    max_brightness=st.one_of(st.none(), st.integers(0, 100)),
    volume_offset=st.integers(-50, 50),
)


@settings(max_examples=draws(150), deadline=None)
@given(st.data(), presets())
def test_remaining_never_negative_and_zero_exactly_at_the_end(data, preset):
    facts = data.draw(sessions(preset))
    tl = Timeline(preset, facts)
    last = max([T0] + [p.start for p in facts.pauses] + [p.end or T0 for p in facts.pauses])
    end = facts.ends_at(last) if not facts.paused else None
    times = data.draw(st.lists(st.floats(T0 - 2000, T0 + 5 * 3600), max_size=20))
    for now in times:
        assert tl.at(now).remaining >= 0
    if end is not None:
        assert tl.at(end).remaining == 0 and tl.at(end).status == "ended"
        before = math.nextafter(end, -math.inf)
        if facts.elapsed(before) < facts.length:  # not a session shortened to end as its pause ended
            assert tl.at(before).remaining > 0 and tl.at(before).status in ("running", "paused")


@settings(max_examples=draws(150), deadline=None)
@given(st.data(), presets(), st.integers(-1800, 3600))
def test_extending_moves_the_end_and_end_anchored_phases_by_exactly_n(data, preset, n):
    facts = SessionFacts(T0, preset.duration)
    now = T0 + data.draw(st.integers(0, int(preset.duration) - 1))
    extended = facts.extend(n, now)
    assume(extended.length == facts.length + n)  # not clamped at now
    assert extended.ends_at(now) == facts.ends_at(now) + n
    before = {p.name: preset.phase_at(p.at, facts.length) for p in preset.phases if p.at < 0}
    after = {p.name: preset.phase_at(p.at, extended.length) for p in preset.phases if p.at < 0}
    for name, t in before.items():
        if t > 0 and after[name] > 0:
            assert after[name] == t + n


@settings(max_examples=draws(150), deadline=None)
@given(st.data(), presets())
def test_state_is_constant_between_change_moments_except_in_a_transition(data, preset):
    facts = SessionFacts(T0, preset.duration)
    tl = Timeline(preset, facts)
    points = tl.change_points()
    i = data.draw(st.integers(0, len(points) - 2)) if len(points) > 1 else 0
    assume(len(points) > 1 and points[i + 1] - points[i] > 1e-3)
    a, b = points[i], points[i + 1]
    # keep 1 µs from the next point: wall times are floats around T0
    t1 = data.draw(st.floats(a, b - 1e-6))
    t2 = data.draw(st.floats(t1, b - 1e-6))
    s1, s2 = tl.at(T0 + t1), tl.at(T0 + t2)
    assert tl.next_change(T0 + t1) == T0 + b
    assert s1.phase == s2.phase and s1.climate == s2.climate and s1.switches == s2.switches
    for role, lt in (s1.lights or {}).items():
        if lt.transition == 0:
            assert s2.lights[role].now == lt.now
    if s1.music is not None and s1.music.ramp == 0:
        assert s2.music.volume == pytest.approx(s1.music.volume)


@settings(max_examples=draws(150), deadline=None)
@given(st.data(), presets(), st.sampled_from([0.0, 900.0, 3600.0]))
def test_the_lead_is_constant_between_its_next_changes(data, preset, lead):
    """Before the start, the state holds until next_change: the switches' ``from`` times are in it."""
    tl = Timeline(preset, SessionFacts(T0, preset.duration, lead=lead))
    now = T0 - data.draw(st.floats(1e-3, lead + 100))
    nxt = tl.next_change(now)
    assert nxt is not None and now < nxt <= T0
    later = data.draw(st.floats(now, nxt)) if nxt - now > 1e-6 else now
    if later < nxt:
        assert tl.at(later).switches == tl.at(now).switches and tl.at(later).status == tl.at(now).status


@settings(max_examples=draws(200), deadline=None)
@given(st.data(), presets(), limits_st, comfort_st)
def test_every_value_stays_within_the_limits(data, preset, limits, comfort):
    facts = SessionFacts(T0, preset.duration, comfort=comfort, lead=600)
    tl = Timeline(preset, facts, limits)
    for now in data.draw(st.lists(st.floats(T0 - 700, T0 + preset.duration + 10), min_size=1, max_size=15)):
        state = tl.at(now)
        if state.climate and state.climate.target is not None:
            assert limits.min_temperature <= state.climate.target <= limits.max_temperature
        for lt in (state.lights or {}).values():
            for light in (lt.now, lt.target):
                assert 0 <= light.brightness <= limits.max_brightness
                if comfort.max_brightness is not None:
                    assert light.brightness <= comfort.max_brightness
        if state.music:
            assert 0 <= state.music.volume <= limits.max_volume + 1e-9
            assert 0 <= state.music.target <= limits.max_volume + 1e-9
            assert not comfort.no_music


@settings(max_examples=draws(60), deadline=None)
@given(now=st.floats(-100, 10_000))
def test_asking_the_timeline_changes_nothing(now):
    """Timeline.at is pure: asking twice gives equal answers, and the timeline's notes stay as they were."""
    preset = parse_preset(
        "name: t\nduration: 60s\nclimate: {target: 33}\nlights: {brightness: 20}\n"
        "after: {climate: {target: 34}, lights: {brightness: 100}}\n",
        "t",
        "t.yaml",
    )
    timeline = Timeline(preset, SessionFacts(started_at=0.0, duration=60.0), Limits(max_brightness=80))
    notes = list(timeline.notes)
    first, second = timeline.at(now), timeline.at(now)
    assert first == second
    assert timeline.notes == notes
    assert timeline.at(1e6).notes == timeline.at(2e6).notes
