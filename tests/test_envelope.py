"""The music volume envelope and how a player follows a music state (core, pure): the ramp, hold and
fade-out; the splice of a changed envelope; when the playing file is kept and when the order is loaded."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ambience.core.envelope import DRIFT, Envelope, Plan, keeping, late, plan_for
from ambience.core.fitting import fit
from ambience.core.session import SessionFacts
from ambience.core.timeline import Timeline
from ambience.model.preset import Music, Preset
from ambience.model.state import MusicState

T0 = 1_000_000.0


@dataclass(frozen=True)
class Song:
    name: str
    length: float


SONGS = [Song("tone0", 7.0), Song("tone1", 9.0), Song("tone2", 8.0)]


def session(length: float = 20.0, volume: int = 50, fade_in: float = 4.0, fade_out: float = 6.0) -> Timeline:
    music = Music(playlist="tones", volume=volume, fade_in=fade_in, fade_out=fade_out)
    preset = Preset(id="test", name="test", duration=f"{length}s", music=music)
    return Timeline(preset, SessionFacts(started_at=T0, duration=length, seed=7))


def steady(position: float, volume: float, playing: bool = True) -> MusicState:
    return MusicState("tones", True, playing, position, volume, volume, 0.0)


def test_the_envelope_continues_a_ramp_then_holds_then_fades_out_to_the_end():
    fitted = fit(SONGS, 20.0, 7, fade_out=6.0)
    timeline = session()
    start = Envelope.follow(timeline.at(T0).music, fitted, cap=70)
    assert start.points == ((0.0, 0.0), (4.0, 50.0), (14.0, 50.0), (20.0, 0.0))
    # Later states of the same timeline describe the same future: nothing to change in the player.
    for t in (2.0, 4.0, 10.0, 15.0, 19.0):
        later = Envelope.follow(timeline.at(T0 + t).music, fitted, cap=70)
        assert later.same_after(start, t), t
        assert later.at(t) == pytest.approx(timeline.at(T0 + t).music.volume)
    assert start.at(-1) == 0 and start.at(25) == 0 and start.at(17) == pytest.approx(25)
    capped = Envelope.follow(MusicState("x", True, True, 0.0, 90.0, 90.0, 0.0), fitted, cap=30)
    assert max(v for _, v in capped.points) == 30


def test_a_splice_keeps_what_mpv_has_filtered_and_joins_the_new_envelope():
    old = Envelope(((0.0, 40.0), (14.0, 40.0), (20.0, 0.0)))
    stop = Envelope(((5.0, 40.0), (7.0, 0.0), (14.0, 0.0), (20.0, 0.0)))  # a 2 s fade from 5 s
    spliced, settled = old.splice(stop, 5.0)
    assert spliced.at(5.9) == 40 and spliced.at(6.5) == pytest.approx(20) and spliced.at(7) == 0
    assert settled == 7.0 and spliced.same_after(stop, 7.0)
    phase = Envelope(((5.0, 40.0), (245.0, 20.0), (300.0, 20.0), (360.0, 0.0)))  # a 4-minute transition
    spliced, settled = old.splice(phase, 5.0)
    assert spliced.at(6.0) == 40 and settled == pytest.approx(6.25) and spliced.same_after(phase, settled)
    back = Envelope(((5.0, 35.0), (100.0, 35.0), (120.0, 0.0)))  # extended during the fade-out: swell back
    faded = Envelope(((0.0, 35.0), (4.0, 35.0), (10.0, 0.0)))
    spliced, settled = faded.splice(back, 5.0)
    assert settled - 6.0 == pytest.approx((35 - faded.at(6.0)) / 10)
    assert all(b[1] >= a[1] for a, b in zip(spliced.points[1:], spliced.points[2:], strict=False) if b[0] <= settled)


# ---- following a state ------------------------------------------------------------------------------


def test_plan_for_queues_from_the_slot_and_stops_past_the_music():
    fitted = fit(SONGS, 20.0, 7, fade_out=6.0)
    second = fitted.entries[1]
    planned = plan_for(steady(second.start + 2.0, 30), fitted, cap=70)
    assert planned is not None
    plan, slot = planned
    assert plan.base == 1 and slot.track == second.track and slot.offset == pytest.approx(2.0)
    assert plan.envelope == Envelope.follow(steady(second.start + 2.0, 30), fitted, 70)
    assert plan_for(steady(20.0, 30), fitted, cap=70) is None  # the session's music is over
    assert plan_for(None, fitted, cap=70) is None and plan_for(steady(0.0, 30), None, cap=70) is None


def test_the_same_state_again_keeps_the_plan_as_it_is():
    fitted = fit(SONGS, 20.0, 7, fade_out=6.0)
    old, _ = plan_for(steady(0.0, 30), fitted, 70)
    new, _ = plan_for(steady(3.0, 30), fitted, 70)  # three seconds on, nothing changed
    assert keeping(old, (0, 3.0), 3.0, new) is old
    assert keeping(old, (0, 3.0 + DRIFT + 0.1), 3.0, new) is None  # off its place: load anew
    assert keeping(old, None, 3.0, new) is None and keeping(None, (0, 3.0), 3.0, new) is None


def test_a_refit_keeps_the_playing_track_and_queues_the_new_order_after_it():
    fitted = fit(SONGS, 20.0, 7, fade_out=6.0)
    old, _ = plan_for(steady(0.0, 30), fitted, 70)
    second = fitted.entries[1]
    longer = fit(SONGS, 40.0, 7, fade_out=6.0, keep=fitted.played(second.start + 1))
    new, _ = plan_for(steady(second.start + 1, 30), longer, 70)
    kept = keeping(old, (1, 1.0), second.start + 1, new)
    assert kept is not None and kept is not old
    assert kept.fitted == longer and kept.base == 1 and kept.envelope.same_after(new.envelope, second.start + 1)


def test_a_changed_envelope_is_spliced_in_and_a_different_track_is_loaded():
    fitted = fit(SONGS, 20.0, 7, fade_out=6.0)
    old, _ = plan_for(steady(0.0, 30), fitted, 70)
    fade = MusicState("tones", True, True, 2.0, 30.0, 0.0, 3.0)
    new, _ = plan_for(fade, fitted, 70)
    kept = keeping(old, (0, 2.0), 2.0, new)
    assert kept is not None and kept.envelope == old.envelope.splice(new.envelope, 2.0)[0]
    assert kept.settled == pytest.approx(5.0)  # joins the fade at its end, within JOIN_WITHIN
    first = fitted.entries[0].track
    other = fit([s for s in SONGS if s != first] + [first], 20.0, 7, fade_out=6.0, shuffle=False)
    moved, _ = plan_for(steady(2.0, 30), other, 70)
    assert other.entries[0].track != first
    assert keeping(old, (0, 2.0), 2.0, moved) is None


def test_late_moves_a_state_on_and_shortens_its_ramp():
    fade = MusicState("tones", True, True, 2.0, 30.0, 0.0, 3.0)
    assert late(fade, 1.0) == MusicState("tones", True, True, 3.0, 30.0, 0.0, 2.0)
    assert late(fade, 5.0).ramp == 0.0
    assert Plan(fit(SONGS, 20.0, 7), 0, Envelope(((0.0, 0.0),))).settled == 0.0
