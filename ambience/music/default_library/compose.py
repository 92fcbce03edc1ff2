"""Seeded, slow compositions written as General MIDI (mido). Deterministic: a piece's seed gives
the same notes on every machine.

A piece is a chord progression in one key (diatonic triads with an added ninth, voice-led: each
voice moves to the nearest tone of the next chord), 55–65 bpm, two bars a chord, and one of two
textures: ``piano`` (a low root, a slow arpeggio of the voicing and a sparse melody, the sustain
pedal changed with each chord) or ``pads`` (warm pad and strings holding the voicing, a flute
now and then). Nothing sudden: velocities 28–58 following slow curves, no drums, no accents; the
first and last chords are the tonic, and the end rings out.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

import mido

MAJOR = (0, 2, 4, 5, 7, 9, 11)
TPB = 480
"""MIDI ticks per beat."""
BEATS_PER_CHORD = 8
SOFTEST, LOUDEST = 28, 60
"""The velocities every note lies within: soft, and nothing accented."""
RING = 8.0
"""Seconds of silence after the last note, for the pedal and the reverb to ring out."""
PIANO, WARM_PAD, NEW_AGE_PAD, CHOIR_PAD, STRINGS, SLOW_STRINGS, FLUTE = 0, 89, 88, 91, 48, 49, 73
PADS = (WARM_PAD, NEW_AGE_PAD, CHOIR_PAD)
ORCHESTRA = (STRINGS, SLOW_STRINGS, FLUTE)
"""The General MIDI programs the pieces use; no percussion, ever."""
PROGRESSIONS = (
    (1, 6, 4, 5),
    (1, 4, 6, 5),
    (1, 5, 6, 4),
    (6, 4, 1, 5),
    (1, 3, 4, 4),
    (4, 1, 2, 5),
    (1, 6, 2, 5),
)
"""Families of four chords (scale degrees, 1 = the tonic), chosen from anew every four chords."""


@dataclass(frozen=True)
class Piece:
    stem: str
    """The file name without its suffix, under the mood's folder."""
    title: str
    mood: str
    """``piano``, ``pads`` or ``rain`` (piano over rain): the folder it lies in."""
    texture: str
    """``piano`` or ``pads``."""
    key: int
    """The tonic's MIDI note in the middle octave (60 = C)."""
    bpm: int
    seconds: int
    seed: int
    bed: str = ""
    """A nature bed mixed under it: ``rain``, ``surf``, ``stream`` or none."""
    bed_level: float = 0.0
    """The bed's level against the music's, in dB (before the track is brought to its loudness)."""

    @property
    def chords(self) -> int:
        return max(2, round((self.seconds - RING) / (BEATS_PER_CHORD * 60 / self.bpm)))

    @property
    def length(self) -> float:
        """Seconds of the rendered piece: whole chords, then the ring (near :attr:`seconds`)."""
        return self.chords * BEATS_PER_CHORD * 60 / self.bpm + RING


def chord_tones(key: int, degree: int) -> list[int]:
    """Pitch classes (0 = C) of the triad on ``degree`` of ``key``'s major scale, then its ninth."""
    return [(key + MAJOR[(degree - 1 + step) % 7]) % 12 for step in (0, 2, 4, 1)]


def voice_lead(previous: list[int], classes: list[int]) -> list[int]:
    """The voicing of the chord ``classes`` (:func:`chord_tones`) nearest to ``previous``: every voice
    on a tone of the chord, its root, third and fifth all sounding, the voices moving the least in all."""
    options = [[p for p in range(v - 7, v + 8) if p % 12 in classes] for v in sorted(previous)]
    triad = set(classes[:3])
    best = min(
        (
            choice
            for choice in itertools.product(*options)
            if len(set(choice)) == len(choice) and triad <= {p % 12 for p in choice}
        ),
        key=lambda choice: (sum(abs(a - b) for a, b in zip(choice, sorted(previous), strict=True)), sorted(choice)),
    )
    return sorted(best)


def progression(piece: Piece) -> list[int]:
    """The piece's degrees, chord by chord: families chosen by the seed, tonic first and last."""
    rng = random.Random(f"ambience:progression:{piece.seed}")
    degrees: list[int] = []
    while len(degrees) < piece.chords:
        degrees.extend(rng.choice(PROGRESSIONS))
    degrees = degrees[: piece.chords]
    degrees[0] = degrees[-1] = 1
    return degrees


def _curve(rng: random.Random) -> list[tuple[float, float]]:
    """A slow velocity curve: two (period in beats, phase) pairs, summed by :func:`_velocity`."""
    return [(rng.uniform(24, 64), rng.uniform(0, 2 * math.pi)) for _ in range(2)]


def _velocity(curve: list[tuple[float, float]], beat: float, lo: int, hi: int) -> int:
    x = sum(math.sin(2 * math.pi * beat / period + phase) for period, phase in curve) / len(curve)
    return round(lo + (hi - lo) * (0.5 + 0.5 * x))


class _Track:
    """Absolute-time events for one channel, turned into a delta-time MIDI track at the end."""

    def __init__(self, channel: int, program: int, *, reverb: int = 96, chorus: int = 40, volume: int = 100):
        self.channel = channel
        self.events: list[tuple[int, int, mido.Message]] = []
        for number, value in ((7, volume), (91, reverb), (93, chorus), (11, 127)):
            self.control(0, number, value)
        self.events.append((0, 1, mido.Message("program_change", channel=channel, program=program)))

    def control(self, tick: int, number: int, value: int) -> None:
        self.events.append((tick, 0, mido.Message("control_change", channel=self.channel, control=number, value=value)))

    def note(self, tick: int, length: int, pitch: int, velocity: int) -> None:
        velocity = max(SOFTEST, min(LOUDEST, velocity))
        self.events.append((tick, 2, mido.Message("note_on", channel=self.channel, note=pitch, velocity=velocity)))
        self.events.append((tick + length, 0, mido.Message("note_off", channel=self.channel, note=pitch, velocity=0)))

    def midi(self, end: int) -> mido.MidiTrack:
        track = mido.MidiTrack()
        now = 0
        for tick, _, msg in sorted(self.events, key=lambda e: (e[0], e[1])):
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
        return track


def _melody_notes(
    rng: random.Random, key: int, classes: list[int], start: int, beats: int, last: int, density: float
) -> list[tuple[int, int, int]]:
    """(tick, length, pitch) of a sparse stepwise line over one chord, in the octave above middle C."""
    scale = [p for p in range(key + 12, key + 29) if (p - key) % 12 in MAJOR]
    notes = []
    beat = 0.0
    pitch = last
    while beat < beats - 1:
        length = rng.choice((1.0, 2.0, 2.0, 3.0, 4.0))
        if rng.random() < density:
            i = min(range(len(scale)), key=lambda k: abs(scale[k] - pitch))
            i = max(0, min(len(scale) - 1, i + rng.choice((-2, -1, -1, 0, 1, 1, 2))))
            candidates = [scale[i]] + [p for p in scale if abs(p - scale[i]) <= 2 and p % 12 in classes]
            pitch = rng.choice(candidates) if beat == 0 else candidates[0]
            length = min(length, beats - beat)
            notes.append((start + round(beat * TPB), round(length * TPB * 0.96), pitch))
        beat += length
    return notes


def compose(piece: Piece) -> mido.MidiFile:
    """The piece as a General MIDI file."""
    rng = random.Random(f"ambience:compose:{piece.seed}")
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(piece.bpm), time=0)])
    midi.tracks.append(tempo)
    key = piece.key
    chord_ticks = BEATS_PER_CHORD * TPB
    end = piece.chords * chord_ticks + round(RING * piece.bpm / 60 * TPB)
    voicing = [key - 5, key, key + 4, key + 7]
    soft = _curve(rng)
    lead = _curve(rng)
    degrees = progression(piece)
    tracks: list[_Track]
    if piece.texture == "piano":
        piano, right = _Track(0, PIANO, reverb=100, chorus=20), _Track(1, PIANO, reverb=100, chorus=20)
        tracks = [piano, right]
        melody_pitch = key + 16
        pattern = rng.choice(((0, 1, 2, 3, 2, 1, 2, 3), (0, 2, 1, 3, 2, 3, 1, 2), (0, 1, 3, 2, 3, 1, 2, 1)))
        step = rng.choice((1.0, 1.0, 0.5))  # beats between arpeggio notes
        for c, degree in enumerate(degrees):
            classes = chord_tones(key, degree)
            voicing = voice_lead(voicing, classes)
            start = c * chord_ticks
            piano.control(start + 10, 64, 127)
            piano.control(start + chord_ticks - 20, 64, 0)
            right.control(start + 10, 64, 127)
            right.control(start + chord_ticks - 20, 64, 0)
            root = key - 24 + MAJOR[degree - 1]
            piano.note(start, chord_ticks - 40, root, _velocity(soft, c * 8, 30, 44))
            n = int(BEATS_PER_CHORD / step)
            for i in range(1 if step == 1.0 else 2, n):
                if rng.random() < 0.12:
                    continue
                beat = i * step
                pitch = voicing[pattern[i % len(pattern)]]
                vel = _velocity(soft, c * 8 + beat, 32, 44) - (4 if i % 2 else 0)
                piano.note(start + round(beat * TPB), round(step * TPB * 1.8), pitch, vel)
            density = 0.55 + 0.35 * math.sin(c / 5.0) if 1 <= c < len(degrees) - 1 else 0.0
            for tick, length, pitch in _melody_notes(rng, key, classes, start, BEATS_PER_CHORD, melody_pitch, density):
                right.note(tick, length, pitch, _velocity(lead, tick / TPB, 36, 54))
                melody_pitch = pitch
    else:
        pad = _Track(0, rng.choice(PADS), reverb=110, chorus=70, volume=96)
        strings = _Track(1, rng.choice((STRINGS, SLOW_STRINGS)), reverb=110, chorus=50, volume=80)
        flute = _Track(2, FLUTE, reverb=110, chorus=30, volume=72)
        tracks = [pad, strings, flute]
        melody_pitch = key + 19
        for c, degree in enumerate(degrees):
            classes = chord_tones(key, degree)
            voicing = voice_lead(voicing, classes)
            start = c * chord_ticks
            vel = _velocity(soft, c * 8, 38, 54)
            for pitch in voicing:
                pad.note(start, chord_ticks + TPB // 2, pitch, vel)  # overlaps the next chord a little
            root = key - 24 + MAJOR[degree - 1]
            strings.note(start, chord_ticks, root + 12, vel - 6)
            strings.note(start, chord_ticks, voicing[0] - 12 if voicing[0] - 12 > root + 12 else root + 19, vel - 8)
            for beat in range(0, BEATS_PER_CHORD * 2, 2):  # the expression swells with the curve
                strings.control(start + beat * TPB // 2, 11, 90 + _velocity(soft, c * 8 + beat / 2, 0, 30))
            if 2 <= c < len(degrees) - 2 and rng.random() < 0.35:
                for tick, length, pitch in _melody_notes(rng, key, classes, start, BEATS_PER_CHORD, melody_pitch, 0.6):
                    flute.note(tick, length, pitch, _velocity(lead, tick / TPB, 32, 48))
                    melody_pitch = pitch
    midi.tracks.extend(t.midi(end) for t in tracks)
    return midi
