"""The shipped preset library (presets/): valid, complete, and within sensible room values."""

from __future__ import annotations

import re
from functools import cache

import pytest

from ambience.config.library import Library, load_library, shipped_presets
from ambience.core.session import SessionFacts
from ambience.core.timeline import Timeline
from ambience.model.preset import LightSettings, Preset, parse_preset
from ambience.model.state import ALL, HEAT_ROLES

pytestmark = pytest.mark.unit

WARM_LIGHT = (2200, 3000)
"""Kelvin: warm, dim treatment light. Only an ``after`` state block (cleaning light) may leave it."""
ROOM_TEMPERATURE = (22.0, 26.0)
MAX_VOLUME = 40


@cache
def library() -> Library:
    return load_library([shipped_presets()])


def presets() -> list[Preset]:
    return [library().presets[pid] for pid in sorted(library().presets)]


def each_preset():
    return pytest.mark.parametrize("preset", presets(), ids=lambda p: p.id)


def light_blocks(preset: Preset) -> list[tuple[str, LightSettings]]:
    """Every light setting of a preset's session (base, phases and their roles), not its ``after``."""
    blocks: list[tuple[str, LightSettings]] = []
    named = [("lights", preset.lights)] + [(f"phases.{p.name}.lights", p.lights) for p in preset.phases]
    for where, lights in named:
        if lights is None:
            continue
        blocks.append((where, lights))
        blocks += [(f"{where}.roles.{role}", settings) for role, settings in lights.roles.items()]
    return blocks


def facts(preset: Preset) -> SessionFacts:
    return SessionFacts(started_at=0, duration=preset.duration)


# ---- the library as a whole -------------------------------------------------------------


def test_library_loads_without_problems():
    lib = library()
    assert lib.problems == [], "\n".join(str(issue) for issue in lib.problems)
    assert len(lib.presets) >= 8


def test_library_covers_the_techniques():
    techniques = {p.technique for p in presets()}
    assert {"swedish", "deep-tissue", "myofascial", "trigger-point", "express", "home-visit"} <= techniques


def test_required_presets_are_shipped():
    required = {
        "swedish-relaxation-60",
        "swedish-relaxation-90",
        "deep-tissue-60",
        "deep-tissue-90",
        "myofascial-release-60",
        "trigger-point-45",
        "express-30",
        "home-visit-60",
    }
    assert required <= set(library().presets)


def test_readme_example_is_a_valid_preset():
    """The annotated example in presets/README.md must stay a preset that loads."""
    readme = (shipped_presets() / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", readme, flags=re.S)
    assert example, "presets/README.md has an annotated ```yaml example"
    preset = parse_preset(example.group(1), "swedish-relaxation-60", "presets/README.md")
    assert preset.summary() == library().presets["swedish-relaxation-60"].summary()
    assert preset.lights is not None and preset.lights.roles["ceiling"].state == "off"
    assert preset.lights.roles["floor"].color == "#ff9a40", "the quoted colour survives YAML"


def test_at_least_one_preset_leaves_a_cleaning_state():
    """A clinic preset sets the room for cleaning between clients instead of restoring it."""
    assert any(not p.after.restore_all for p in presets())


# ---- every preset -----------------------------------------------------------------------


@each_preset()
def test_id_names_the_duration(preset: Preset):
    match = re.search(r"-(\d+)$", preset.id)
    assert match, f"{preset.id}: the id should end in its length in minutes, e.g. -60"
    assert preset.duration == int(match.group(1)) * 60


@each_preset()
def test_has_a_name_and_a_description(preset: Preset):
    assert preset.name.strip()
    assert preset.summary(), "the first line of the description is what `presets list` shows"
    text = re.sub(r"\b(?:e\.g|i\.e|etc)\.", "", preset.description.strip())
    sentences = re.findall(r"[.!?](?:\s|$)", text)
    assert 2 <= len(sentences) <= 4, f"{len(sentences)} sentences; say why in 2–4"


@each_preset()
def test_climate_target_is_a_warm_room(preset: Preset):
    assert preset.climate is not None and preset.climate.target is not None
    targets = [preset.climate.target] + [p.climate.target for p in preset.phases if p.climate and p.climate.target]
    lo, hi = ROOM_TEMPERATURE
    for target in targets:
        assert lo <= target <= hi


@each_preset()
def test_light_is_warm(preset: Preset):
    temps = [(where, s.color_temp) for where, s in light_blocks(preset) if s.color_temp is not None]
    assert temps, "a preset should say how warm its light is"
    lo, hi = WARM_LIGHT
    for where, kelvin in temps:
        assert lo <= kelvin <= hi, f"{where}: {kelvin} K"


@each_preset()
def test_music_is_quiet(preset: Preset):
    assert preset.music is not None
    assert preset.music.playlist == "calm"
    volumes = [preset.music.volume] + [p.music.volume for p in preset.phases if p.music and p.music.volume is not None]
    assert all(0 < v <= MAX_VOLUME for v in volumes), volumes


@each_preset()
def test_has_arrival_treatment_and_closing(preset: Preset):
    phases = {p.name: p for p in preset.phases}
    assert {"arrival", "treatment", "closing"} <= set(phases)
    assert phases["arrival"].at == 0
    assert 0 < phases["treatment"].at < preset.duration / 2
    assert phases["closing"].at < 0, "closing counts back from the end so it moves with an extension"


@each_preset()
def test_home_visit_restores_the_home(preset: Preset):
    if preset.technique == "home-visit":
        assert preset.after.restore_all is True


# ---- the timeline of every preset -------------------------------------------------------


@each_preset()
def test_midpoint_is_running_with_music(preset: Preset):
    timeline = Timeline(preset, facts(preset))
    state = timeline.at(preset.duration / 2)
    assert state.status == "running"
    assert state.phase == "treatment"
    assert state.music is not None and state.music.volume > 0
    assert state.climate is not None and state.climate.target == preset.climate.target


@each_preset()
def test_end_is_ended(preset: Preset):
    timeline = Timeline(preset, facts(preset))
    state = timeline.at(preset.duration)
    assert state.status == "ended"
    if preset.after.restore_all:
        assert state.restore == {"climate", "lights", "switches"}


@each_preset()
def test_arrival_and_closing_are_brighter_than_treatment(preset: Preset):
    """Brighter to settle in and undress, dim for the treatment, brighter again to get up safely."""
    timeline = Timeline(preset, facts(preset))
    start = timeline.at(1).light(ALL)
    middle = timeline.at(preset.duration / 2).light(ALL)
    near_end = timeline.at(preset.duration - 1).light(ALL)
    assert start and middle and near_end
    assert 0 < middle.now.brightness < start.now.brightness
    assert middle.now.brightness < near_end.now.brightness


@each_preset()
def test_closing_music_is_quieter_than_treatment(preset: Preset):
    timeline = Timeline(preset, facts(preset))
    closing = next(p for p in preset.phases if p.name == "closing")
    settled = preset.duration + closing.at + 90  # the closing transition has finished; the fade-out not begun
    assert settled < preset.duration - preset.music.fade_out
    middle = timeline.at(preset.duration / 2).music
    late = timeline.at(settled).music
    assert middle and late
    assert 0 < late.volume < middle.volume
    assert timeline.at(preset.duration - 0.001).music.volume < 1


@each_preset()
def test_ceiling_light_stays_off(preset: Preset):
    """No one lying face up should look into a ceiling light, at any point of the session."""
    timeline = Timeline(preset, facts(preset))
    for t in (0, preset.duration / 2, preset.duration - 1):
        ceiling = timeline.at(t).light("ceiling")
        assert ceiling is not None and not ceiling.now.on and not ceiling.target.on


@each_preset()
def test_closing_moves_with_an_extension(preset: Preset):
    extended = SessionFacts(started_at=0, duration=preset.duration, extended=600)
    timeline = Timeline(preset, extended)
    closing = next(p for p in preset.phases if p.name == "closing")
    assert timeline.at(preset.duration + 600 + closing.at - 1).phase == "treatment"
    assert timeline.at(preset.duration + 600 + closing.at).phase == "closing"
    assert timeline.at(preset.duration + 600).status == "ended"


@each_preset()
def test_no_switch_that_heats_is_left_on_by_the_after_state(preset: Preset):
    """Named in ``after`` a heat-class switch is off; not named, it is restored, never back on (core/after.py)."""
    end = Timeline(preset, facts(preset)).at(preset.duration)
    assert "switches" in end.restore
    assert not [role for role, s in (end.switches or {}).items() if s.on and role in HEAT_ROLES]


@pytest.mark.parametrize("pid", ["deep-tissue-60", "hot-stone-75"])
def test_the_warm_table_presets_warm_the_table_40_minutes_ahead_and_stop_the_diffuser_for_the_closing(pid):
    preset = library().presets[pid]
    assert preset.switch_lead == 2400
    timeline = Timeline(preset, SessionFacts(started_at=0, duration=preset.duration, lead=preset.switch_lead))
    lead = timeline.at(-2400)
    assert lead.status == "preconditioning" and lead.switches and lead.switches["table_warmer"].on
    assert "diffuser" not in lead.switches  # on at arrival, not before
    arrival = timeline.at(0).switches
    assert arrival and arrival["diffuser"].on and arrival["table_warmer"].on
    closing = timeline.at(preset.duration - 1)
    assert closing.phase == "closing" and closing.switches and not closing.switches["diffuser"].on
    assert closing.switches["table_warmer"].on  # the client is still on the table
