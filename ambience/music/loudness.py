"""Even loudness: every track's integrated loudness (EBU R128), measured once and cached. See docs/music.md.

A track is measured by libmpv itself: the file is decoded faster than real time (``ao=null``,
untimed) through libavfilter's ``ebur128`` filter (EBU R128 / ITU-R BS.1770 integrated loudness,
gated, and the true peak), whose totals are read from the filter's metadata at the end of the file.
That needs no decoder of our own and reads every format mpv plays; a 10-minute track takes a few
seconds of one core.

The result is kept in a :class:`LoudnessCache` (a JSON file in the state directory), keyed by the
file's path, size and modification time: a file that changes is measured again. The player asks the
cache for a track's :func:`gain` (a linear factor) when it queues the file; a file not measured yet
plays at gain 1 and is measured in the background (:class:`Measurer`), for the next time it plays.

The gain brings the track to the room's target (``speaker.loudness``, default −23 LUFS) at full
volume: ``target − measured`` dB, but a boost is at most :data:`MAX_BOOST` and never lifts the
track's true peak above :data:`PEAK_CEILING` (no clipping). The envelope and the room's
``max_volume`` ceiling then only lower it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TARGET = -23.0
"""LUFS: EBU R128's programme loudness."""
MAX_BOOST = 12.0
"""dB: the most a quiet track is lifted."""
PEAK_CEILING = -1.0
"""dBTP: a boost never lifts a track's true peak above this."""
SILENT = -69.0
"""LUFS: at or below this (ebur128 says -70 when nothing passes its gate) a track is silence: gain 1."""
LABEL = "r128"
VERSION = 1
"""Of the cache file: a cache of another version is measured anew."""


@dataclass(frozen=True)
class Loudness:
    integrated: float
    """LUFS."""
    true_peak: float
    """dBTP (dB of full scale, between the samples too)."""


def gain_db(measured: Loudness, target: float = DEFAULT_TARGET) -> float:
    """The dB to apply to a track measured ``measured`` to bring it to ``target`` (see the module)."""
    if measured.integrated <= SILENT or not math.isfinite(measured.integrated):
        return 0.0
    db = target - measured.integrated
    if db > 0:
        db = min(db, MAX_BOOST, max(0.0, PEAK_CEILING - measured.true_peak))
    return db


def factor(db: float) -> float:
    """A dB gain as the linear factor on samples."""
    return float(10 ** (db / 20))


def _key(path: Path) -> Key | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return str(path), st.st_size, st.st_mtime_ns


Key = tuple[str, int, int]
_SHARED: dict[Path, LoudnessCache] = {}
_SHARED_LOCK = threading.Lock()


class LoudnessCache:
    """Measured tracks by (path, size, mtime), in memory and, given a ``file``, in that JSON file.

    Thread-safe: the players' workers read it, the measurers write it. The rooms of a daemon share
    one (:meth:`at`), so no room writes over another's results and a track is measured by one room
    only (:meth:`claim`). A cache file that cannot be read is started anew (logged once); one that
    cannot be written costs only the measuring again.
    """

    def __init__(self, file: Path | None = None):
        self.file = file
        self._lock = threading.Lock()
        self._known: dict[str, tuple[int, int, Loudness]] = {}
        self._claimed: set[Key] = set()
        """Files being measured, or that could not be measured (retried once they change)."""
        if file is not None:
            self._read(file)

    @classmethod
    def at(cls, file: Path) -> LoudnessCache:
        """The one cache of ``file`` in this process."""
        key = Path(os.path.abspath(file))
        with _SHARED_LOCK:
            cache = _SHARED.get(key)
            if cache is None:
                cache = _SHARED[key] = cls(key)
            return cache

    def claim(self, key: Key) -> bool:
        """Whether the caller is the one to measure the file ``key`` (no one measures or measured it)."""
        with self._lock:
            if key in self._claimed:
                return False
            self._claimed.add(key)
            return True

    def release(self, key: Key) -> None:
        """``key`` was not measured after all (its measurer closed first): another may measure it."""
        with self._lock:
            self._claimed.discard(key)

    def _read(self, file: Path) -> None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("loudness cache %s cannot be read (%s); tracks are measured again", file, exc)
            return
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("tracks"), dict):
            return
        for path, row in data["tracks"].items():
            try:
                self._known[path] = (
                    int(row["size"]),
                    int(row["mtime_ns"]),
                    Loudness(float(row["i"]), float(row["tp"])),
                )
            except (KeyError, TypeError, ValueError):
                continue

    def get(self, path: Path) -> Loudness | None:
        """The loudness measured for ``path`` as it is now on disk, if any."""
        key = _key(path)
        with self._lock:
            row = self._known.get(str(path))
        if key is None or row is None or (row[0], row[1]) != key[1:]:
            return None
        return row[2]

    def put(self, path: Path, loudness: Loudness, key: Key | None = None) -> None:
        key = key or _key(path)
        if key is None:
            return
        with self._lock:
            self._known[key[0]] = (key[1], key[2], loudness)
            rows = {
                p: {"size": s, "mtime_ns": m, "i": round(v.integrated, 3), "tp": round(v.true_peak, 3)}
                for p, (s, m, v) in self._known.items()
            }
        if self.file is not None:
            self._write({"version": VERSION, "tracks": rows})

    def _write(self, data: Mapping[str, Any]) -> None:
        assert self.file is not None
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError as exc:
            log.warning("loudness cache %s cannot be written (%s)", self.file, exc)
            tmp.unlink(missing_ok=True)


def _db(linear: str) -> float:
    value = float(linear)
    return 20 * math.log10(value) if value > 0 else -math.inf


def measure(path: Path, demuxer: str, load: Callable[[], ModuleType], timeout: float = 600.0) -> Loudness:
    """Decode ``path`` (with libavformat's ``demuxer``) through ``ebur128`` in a libmpv of its own.

    Raises ValueError when it cannot be measured (not played to its end, no result)."""
    from ambience.music.mpv import CONTAINED

    module = load()
    done = threading.Event()
    ended: list[int] = []
    m = module.MPV(
        ao="null",
        ao_null_untimed=True,
        vid="no",
        idle=True,
        keep_open="yes",
        input_default_bindings=False,
        af=f"@{LABEL}:lavfi=[ebur128=metadata=1:peak=true]",
        **CONTAINED,
    )
    try:

        def eof(_name: str, value: Any) -> None:
            if value:
                done.set()

        def event(ev: Any) -> None:
            if ev.event_id.value == module.MpvEventID.END_FILE:
                ended.append(int(ev.data.reason))
                done.set()

        m.observe_property("eof-reached", eof)
        m.register_event_callback(event)
        m.command("loadfile", str(path), "replace", f"demuxer-lavf-format={demuxer}")
        if not done.wait(timeout):
            raise ValueError(f"measuring took longer than {timeout:.0f}s")
        if ended:
            raise ValueError("mpv could not play it to its end")
        stats = getattr(m, f"af-metadata/{LABEL}")  # python-mpv reads a property by its name
        try:
            return Loudness(float(stats["lavfi.r128.I"]), _db(stats["lavfi.r128.true_peak"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"mpv's ebur128 gave no result ({exc!r})") from None
    finally:
        m.terminate()


class Measurer:
    """Measures tracks in the background (one thread, in order), once each, into ``cache``."""

    def __init__(self, cache: LoudnessCache, load: Callable[[], ModuleType], name: str = "loudness"):
        self.cache = cache
        self._load = load
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._mine: set[Key] = set()
        """Claimed and not measured yet: given back on :meth:`close`."""
        self._lock = threading.Lock()
        self._closed = False

    def ask(self, tracks: Iterable[tuple[Path, str]]) -> None:
        """Measure those of ``tracks`` (path, demuxer) that no one measured or measures yet. Never blocks."""
        for path, demuxer in tracks:
            key = _key(path)
            if key is None or self._closed or self.cache.get(path) is not None or not self.cache.claim(key):
                continue
            with self._lock:
                self._mine.add(key)
            self._pool.submit(self._one, path, demuxer, key)

    def _one(self, path: Path, demuxer: str, key: Key) -> None:
        if self._closed:
            return
        try:
            loudness = measure(path, demuxer, self._load)
        except Exception as exc:  # a file that cannot be measured plays at gain 1 (and stays claimed: not retried)
            log.warning("loudness: %s cannot be measured (%s); it plays at its own level", path.name, exc)
            return
        finally:
            with self._lock:
                self._mine.discard(key)
        self.cache.put(path, loudness, key)
        log.info("loudness: %s is %.1f LUFS (true peak %.1f dBTP)", path.name, loudness.integrated, loudness.true_peak)

    def wait(self) -> None:
        """Block until everything asked for so far is measured (for tests and ``ambience play``)."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            mine, self._mine = self._mine, set()
        for key in mine:
            self.cache.release(key)
