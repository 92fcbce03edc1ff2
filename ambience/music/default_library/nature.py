"""Nature beds from filtered noise (numpy, scipy): rain, surf and a stream, stereo, seeded.

- ``rain``: a soft band-passed hiss, and drops: a sparse train of random impulses (a few hundred
  a second) high-passed so each is a short tick, with the density drifting slowly.
- ``surf``: brown-ish noise (low-passed) and a little hiss, both swelling with waves 8–13 s long.
- ``stream``: band-passed noise whose level babbles (a low-passed random modulation, 3–9 Hz).

Every bed fades in over its first seconds; its RMS is 1 before :func:`bed` scales it, so the mix
level is set in dB against the music. float32, shape ``(samples, 2)``.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

BEDS = ("rain", "surf", "stream")


def _filter(x: np.ndarray, rate: int, kind: str, freq: float | tuple[float, float], order: int = 2) -> np.ndarray:
    sos = signal.butter(order, freq, btype=kind, fs=rate, output="sos")
    return signal.sosfilt(sos, x, axis=0).astype(np.float32)


def _slow(rng: np.random.Generator, n: int, rate: int, period: float, lo: float, hi: float) -> np.ndarray:
    """A smooth random curve between lo and hi, changing over about ``period`` seconds."""
    points = max(4, int(n / rate / period) + 3)
    knots = rng.uniform(lo, hi, points)
    curve = np.interp(np.linspace(0, points - 3, n), np.arange(points), knots)
    return curve.astype(np.float32)


def _rain(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    hiss = _filter(rng.standard_normal((n, 2), dtype=np.float32), rate, "bandpass", (500, 9000))
    density = _slow(rng, n, rate, 20.0, 0.5, 1.0)
    drops = np.zeros((n, 2), dtype=np.float32)
    count = int(n / rate * 300)
    where = rng.integers(0, n, (count, 2))
    keep = rng.random((count, 2)) < density[where]
    amp = rng.uniform(0.2, 1.0, (count, 2)).astype(np.float32) ** 2 * keep
    for ch in range(2):
        np.add.at(drops[:, ch], where[:, ch], amp[:, ch])
    drops = _filter(_filter(drops, rate, "highpass", 1800), rate, "lowpass", 12000)
    drops /= np.sqrt(np.mean(drops**2)) or 1.0
    drops = 2.5 * np.tanh(drops / 2.5)  # no drop stands out: a loud one is rounded off
    hiss /= np.sqrt(np.mean(hiss**2)) or 1.0
    return 0.6 * hiss + 0.8 * drops


def _surf(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    t = np.arange(n, dtype=np.float64) / rate
    phase = np.cumsum(1.0 / _slow(rng, n, rate, 30.0, 8.0, 13.0).astype(np.float64)) / rate
    wave = ((0.5 + 0.5 * np.sin(2 * np.pi * phase + rng.uniform(0, 6.3))) ** 2).astype(np.float32)
    low = _filter(rng.standard_normal((n, 2), dtype=np.float32), rate, "lowpass", 600)
    hiss = _filter(rng.standard_normal((n, 2), dtype=np.float32), rate, "bandpass", (1500, 10000))
    low /= np.sqrt(np.mean(low**2)) or 1.0
    hiss /= np.sqrt(np.mean(hiss**2)) or 1.0
    lag = np.roll(wave, int(0.7 * rate))  # the hiss of the wave breaking comes a little after its swell
    del t
    return (0.25 + wave)[:, None] * low + (0.1 + 0.6 * lag)[:, None] * hiss


def _stream(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    water = _filter(rng.standard_normal((n, 2), dtype=np.float32), rate, "bandpass", (300, 4000))
    babble = _filter(rng.standard_normal((n, 2), dtype=np.float32), rate, "lowpass", 6.0)
    babble /= np.max(np.abs(babble)) or 1.0
    sparkle = _filter(rng.standard_normal((n, 2), dtype=np.float32), rate, "bandpass", (4000, 11000))
    water /= np.sqrt(np.mean(water**2)) or 1.0
    sparkle /= np.sqrt(np.mean(sparkle**2)) or 1.0
    return (0.7 + 0.3 * babble) * water + 0.25 * (0.5 + 0.5 * babble) * sparkle


def bed(kind: str, seconds: float, rate: int, seed: int, fade: float = 6.0) -> np.ndarray:
    """``seconds`` of the bed ``kind`` (one of :data:`BEDS`), RMS 1, fading in over ``fade`` s."""
    if kind not in BEDS:
        raise ValueError(f"nature bed {kind!r} is not one of {', '.join(BEDS)}")
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = {"rain": _rain, "surf": _surf, "stream": _stream}[kind](rng, n, rate)
    out /= np.sqrt(np.mean(out**2)) or 1.0
    ramp = min(n, int(fade * rate))
    out[:ramp] *= (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp, dtype=np.float32)))[:, None]
    return out.astype(np.float32)
