"""Fitting a playlist to a session (core, pure): coverage, reproducible order, the last track ending near
the session end, ``at()`` at any moment, a refit that keeps what has played."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ambience.core.fitting import fit
from ambience.errors import PlayerError
from ambience.testing.properties import draws


@dataclass(frozen=True)
class Song:
    """A track as fitting sees one (a Piece): a name and a length, no file."""

    name: str
    length: float


def tracks_of(lengths: list[float]) -> list[Song]:
    return [Song(f"t{i:03d}.flac", float(x)) for i, x in enumerate(lengths)]


lengths_st = st.lists(st.floats(min_value=1.0, max_value=600.0, allow_nan=False), min_size=1, max_size=25)


@settings(max_examples=draws(150), deadline=None)
@given(lengths_st, st.floats(min_value=0, max_value=3 * 3600), st.integers(0, 2**31), st.booleans())
def test_fit_covers_the_session_reproducibly(lengths, length, seed, shuffle):
    tracks = tracks_of(lengths)
    fitted = fit(tracks, length, seed, fade_out=60, shuffle=shuffle)
    assert fitted.total >= length
    assert fitted == fit(tracks, length, seed, fade_out=60, shuffle=shuffle)
    start = 0.0
    for i, e in enumerate(fitted.entries):
        assert e.index == i and e.start == pytest.approx(start)
        start += e.track.length
    if fitted.entries:
        assert fitted.entries[-1].start < length  # no track starts after the end
    played = [e.track for e in fitted.entries]
    if sum(lengths) >= length:
        assert len(set(played)) == len(played), "a track repeats though the playlist is long enough"
    if len(tracks) > 1:
        assert all(a != b for a, b in zip(played, played[1:], strict=False)), "the same track twice in a row"
    assert fitted.fade_out_at == max(0.0, length - 60)


@settings(max_examples=draws(150), deadline=None)
@given(lengths_st, st.floats(min_value=1, max_value=3 * 3600), st.integers(0, 2**31), st.data())
def test_at_any_moment_agrees_with_the_order(lengths, length, seed, data):
    fitted = fit(tracks_of(lengths), length, seed)
    position = data.draw(st.floats(min_value=0, max_value=fitted.total, exclude_max=True))
    index, track, offset = fitted.at(position)
    entry = fitted.entries[index]
    assert entry.track == track
    assert entry.start <= position < entry.end
    assert offset == pytest.approx(position - entry.start)
    assert 0 <= offset < track.length


@settings(max_examples=draws(60), deadline=None)
@given(lengths_st, st.floats(min_value=60, max_value=3 * 3600), st.integers(0, 2**31), st.data())
def test_a_refit_after_an_extension_keeps_what_has_played(lengths, length, seed, data):
    tracks = tracks_of(lengths)
    fitted = fit(tracks, length, seed)
    position = data.draw(st.floats(min_value=0, max_value=length))
    extended = fit(tracks, length + data.draw(st.floats(1, 3600)), seed, keep=fitted.played(position))
    keep = len(fitted.played(position))
    assert extended.entries[:keep] == fitted.entries[:keep]
    assert extended.total >= extended.length


def test_different_seeds_give_different_orders():
    tracks = tracks_of([100.0 + i for i in range(12)])
    orders = {tuple(e.track.name for e in fit(tracks, 1000, seed).entries) for seed in range(10)}
    assert len(orders) > 5


def test_the_last_track_ends_near_the_session_end():
    # 20 tracks of 3–5 minutes for a 61-minute session: some choice of the last tracks ends within seconds.
    lengths = [180 + (i * 37) % 120 + (i % 7) * 0.5 for i in range(20)]
    for seed in range(20):
        fitted = fit(tracks_of(lengths), 3660, seed)
        assert fitted.cut < 2.0, (seed, fitted.cut)
        last = fitted.entries[-1]
        assert fitted.length - last.start > 0.9 * last.track.length  # the fade-out meets a track near its end


def test_a_short_playlist_repeats_in_fresh_cycles():
    fitted = fit(tracks_of([60, 70, 80]), 1000, 4)
    names = [e.track.name for e in fitted.entries]
    for k in range(0, len(names) - 3, 3):
        assert sorted(names[k : k + 3]) == ["t000.flac", "t001.flac", "t002.flac"]


def test_a_fitted_session_says_from_when_and_how_often_a_track_is_heard_again():
    short = fit(tracks_of([60, 70, 80]), 1000, 4)
    again = short.repeats()
    assert again is not None and again.at == 210 and again.track in {e.track for e in short.entries[:3]}
    plays = [e.track for e in short.entries if e.start < 1000]
    assert again.times == max(plays.count(t) for t in plays) == 5
    assert fit(tracks_of([600, 700]), 1200, 1).repeats() is None  # 1300 s of music for 1200 s: nothing twice


def test_unshuffled_keeps_the_playlist_order():
    fitted = fit(tracks_of([60, 70, 80]), 150, 4, shuffle=False)
    assert [e.track.name for e in fitted.entries][:2] == ["t000.flac", "t001.flac"]


def test_at_edges_and_empty_inputs():
    fitted = fit(tracks_of([10, 20]), 25, 1)
    assert fitted.at(-5).offset == 0 and fitted.at(-5).position == 0
    assert fitted.at(fitted.total) is None
    assert fit(tracks_of([10]), 0, 1).entries == ()
    with pytest.raises(PlayerError, match="no playable tracks"):
        fit([], 100, 1)


def test_fitting_a_large_library_is_fast():
    lengths = [120 + (i * 7919) % 300 + (i % 11) / 10 for i in range(2000)]
    started = time.perf_counter()
    fitted = fit(tracks_of(lengths), 3 * 3600, 9)
    assert time.perf_counter() - started < 1.0
    assert fitted.total >= 3 * 3600
