"""Nature beds from filtered noise (numpy, scipy): rain, surf and a stream, stereo, seeded.

- ``rain``: a soft band-passed hiss, and drops: a sparse train of random impulses (a few hundred
  a second) high-passed so each is a short tick, with the density drifting slowly.
- ``surf``: brown-ish noise (low-passed) and a little hiss, both swelling with waves 8–13 s long.
- ``stream``: band-passed noise whose level babbles (a low-passed random modulation, 3–9 Hz).

Made in :data:`CHUNK`-second pieces with each filter's state carried on, so a 7-minute bed needs its
own array and little more (a Raspberry Pi has no gigabyte to spare). Every bed fades in over its
first seconds; its RMS is 1, so the mix level is set in dB against the music. float32,
shape ``(samples, 2)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import signal

BEDS = ("rain", "surf", "stream")
CHUNK = 20.0
"""Seconds made at a time."""


class _Filter:
    """A Butterworth filter over stereo chunks, its state carried from one chunk to the next."""

    def __init__(self, rate: int, kind: str, freq: float | tuple[float, float], order: int = 2):
        self.sos = signal.butter(order, freq, btype=kind, fs=rate, output="sos")
        self.zi = np.zeros((self.sos.shape[0], 2, 2))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y, self.zi = signal.sosfilt(self.sos, x, axis=0, zi=self.zi)
        return y.astype(np.float32)


class _Slow:
    """A smooth random curve between lo and hi, changing over about ``period`` seconds."""

    def __init__(self, rng: np.random.Generator, seconds: float, period: float, lo: float, hi: float):
        self.period = period
        self.knots = rng.uniform(lo, hi, int(seconds / period) + 3)

    def at(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t / self.period, np.arange(len(self.knots)), self.knots).astype(np.float32)


def _scale(first: np.ndarray) -> np.float32:
    """1 / the RMS of a component's first chunk: its level from then on (one pass, deterministic)."""
    return np.float32(1.0 / (float(np.sqrt(np.mean(first**2))) or 1.0))


Chunk = Callable[[int, int], np.ndarray]
"""(first sample, samples) -> that chunk of the bed, float32 (m, 2)."""


def _rain(rng: np.random.Generator, seconds: float, rate: int) -> Chunk:
    hiss_f = _Filter(rate, "bandpass", (500, 9000))
    high, low = _Filter(rate, "highpass", 1800), _Filter(rate, "lowpass", 12000)
    density = _Slow(rng, seconds, 20.0, 0.5, 1.0)
    scales: list[np.float32] = []

    def chunk(start: int, m: int) -> np.ndarray:
        hiss = hiss_f(rng.standard_normal((m, 2), dtype=np.float32))
        count = int(m / rate * 300)
        where = rng.integers(0, m, (count, 2))
        keep = rng.random((count, 2)) < density.at((start + where) / rate)
        amp = rng.uniform(0.2, 1.0, (count, 2)).astype(np.float32) ** 2 * keep
        drops = np.zeros((m, 2), dtype=np.float32)
        for ch in range(2):
            np.add.at(drops[:, ch], where[:, ch], amp[:, ch])
        drops = low(high(drops))
        if not scales:
            scales.extend((_scale(hiss), _scale(drops)))
        drops = 2.5 * np.tanh(drops * scales[1] / 2.5)  # no drop stands out: a loud one is rounded off
        return 0.6 * hiss * scales[0] + 0.8 * drops

    return chunk


def _surf(rng: np.random.Generator, seconds: float, rate: int) -> Chunk:
    period = _Slow(rng, seconds, 30.0, 8.0, 13.0)
    offset = rng.uniform(0, 6.3)
    low_f, hiss_f = _Filter(rate, "lowpass", 600), _Filter(rate, "bandpass", (1500, 10000))
    lag = int(0.7 * rate)  # the hiss of the wave breaking comes a little after its swell
    phases = [0.0]  # where the waves had got to at the end of the last chunk
    tails = [np.zeros(lag, dtype=np.float32)]  # and its last ``lag`` samples of swell
    scales: list[np.float32] = []

    def chunk(start: int, m: int) -> np.ndarray:
        t = (start + np.arange(m)) / rate
        phase = phases[-1] + np.cumsum(1.0 / period.at(t).astype(np.float64)) / rate
        phases[-1] = float(phase[-1])
        wave = ((0.5 + 0.5 * np.sin(2 * np.pi * phase + offset)) ** 2).astype(np.float32)
        both = np.concatenate([tails[-1], wave])
        late = both[:m]
        tails[-1] = both[m:]
        low = low_f(rng.standard_normal((m, 2), dtype=np.float32))
        hiss = hiss_f(rng.standard_normal((m, 2), dtype=np.float32))
        if not scales:
            scales.extend((_scale(low), _scale(hiss)))
        return (0.25 + wave)[:, None] * low * scales[0] + (0.1 + 0.6 * late)[:, None] * hiss * scales[1]

    return chunk


def _stream(rng: np.random.Generator, seconds: float, rate: int) -> Chunk:
    water_f, babble_f = _Filter(rate, "bandpass", (300, 4000)), _Filter(rate, "lowpass", 6.0)
    sparkle_f = _Filter(rate, "bandpass", (4000, 11000))
    scales: list[np.float32] = []

    def chunk(start: int, m: int) -> np.ndarray:
        water = water_f(rng.standard_normal((m, 2), dtype=np.float32))
        babble = babble_f(rng.standard_normal((m, 2), dtype=np.float32))
        sparkle = sparkle_f(rng.standard_normal((m, 2), dtype=np.float32))
        if not scales:
            scales.extend((_scale(water), _scale(babble) / np.float32(3.0), _scale(sparkle)))
        babble = np.clip(babble * scales[1], -1.0, 1.0)
        return (0.7 + 0.3 * babble) * water * scales[0] + 0.25 * (0.5 + 0.5 * babble) * sparkle * scales[2]

    return chunk


def bed(kind: str, seconds: float, rate: int, seed: int, fade: float = 6.0) -> np.ndarray:
    """``seconds`` of the bed ``kind`` (one of :data:`BEDS`), RMS 1, fading in over ``fade`` s."""
    if kind not in BEDS:
        raise ValueError(f"nature bed {kind!r} is not one of {', '.join(BEDS)}")
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    make = {"rain": _rain, "surf": _surf, "stream": _stream}[kind](rng, seconds, rate)
    out = np.empty((n, 2), dtype=np.float32)
    step = int(CHUNK * rate)
    energy = 0.0
    for start in range(0, n, step):
        part = make(start, min(step, n - start))
        out[start : start + len(part)] = part
        energy += float(np.sum(part.astype(np.float64) ** 2))
    ramp = min(n, int(fade * rate))
    out[:ramp] *= (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp, dtype=np.float32)))[:, None]
    out *= np.float32(1.0 / (np.sqrt(energy / max(1, out.size)) or 1.0))
    return out
