"""P13 the music library: rendering the default playlist ``calm`` from an empty cache, and the demo's first sound.

- **Render**: the daemon's own renderer child (``ambience.music.sounds._main``, as
  ``render_in_background`` runs it, at nice 10) into an empty music folder; each track's "rendered
  i/15" line is stamped on arrival (track by track: the growth table). Peak memory two ways: the
  child's ``ru_maxrss`` from ``wait4`` (Linux: the largest of the child and the FluidSynth processes
  it waited for), and the whole process tree's resident memory (VmRSS of the child and its
  children, summed, sampled every 50 ms), which is what the machine must hold at once. The scale:
  the music's own length (× real time) and the machine's memory.
- **First sound in the demo**: ``python -m ambience.cli.demo --dir <empty>`` (what ``./run demo``
  runs) with an empty music cache: from its launch to the first track rendered (the demo renders it
  first), to the API up, and, with a session started over the API at once
  (``swedish-relaxation-60``, music ``calm``), to the room's player reporting ``playing`` (mpv has the
  file loaded and is not paused) while the daemon's child renders the rest. The demo is stopped
  with SIGTERM (as Ctrl-C), which ends its renderer too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from common import Result

from ambience.music.sounds import PIECES, TOTAL

RENDERER = "import os, sys; os.nice(10); from ambience.music.sounds import _main; sys.exit(_main(*sys.argv[1:]))"
"""The daemon's renderer child, word for word (ambience/music/sounds.py, ``render_in_background``)."""


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return out


def _mem_total_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def render(folder: Path, preview: float | None) -> dict:
    """Render ``calm`` into the empty ``folder`` as the daemon's child does; per track times and memory."""
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", RENDERER, str(folder), *([] if preview is None else [str(preview)])]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks: list[int] = [0]  # the tree's summed VmRSS (kB), the current track's peak last
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total = sum(_rss_kb(p) for p in _tree(proc.pid))
            peaks[-1] = max(peaks[-1], total)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tracks: list[tuple[str, float, int]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"rendered (\d+)/(\d+): (\S+)", line.strip())
        if m:
            tracks.append((line.strip().split(": ", 1)[1], time.perf_counter() - t0, peaks[-1]))
            peaks.append(0)
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t0
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"the renderer exited with {proc.returncode}: {err.strip()[-400:]}")
    return {"seconds": took, "tracks": tracks, "maxrss_kb": usage.ru_maxrss, "tree_kb": max(t[2] for t in tracks),
            "cpu": usage.ru_utime + usage.ru_stime}  # fmt: skip


def demo(folder: Path, timeout: float = 120.0) -> dict:
    """``python -m ambience.cli.demo`` from an empty folder until the studio's music plays."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("AMBIENCE_"))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ambience.cli.demo", "--dir", str(folder)], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
    )  # fmt: skip
    marks: dict[str, float] = {}
    url = None
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        first = folder / "music" / "calm" / PIECES[0].mood / f"{PIECES[0].stem}.ogg"

        def watch() -> None:  # the first track's file appears (renamed into place) when it is rendered
            while proc.poll() is None and "first" not in marks:
                if first.is_file():
                    marks["first"] = time.perf_counter() - t0
                time.sleep(0.02)

        threading.Thread(target=watch, daemon=True).start()
        for line in proc.stdout:
            lines.append(line)
            m = re.search(r"Phone page: (https?://[\d.]+:\d+)/", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            raise RuntimeError("the demo did not start:\n" + "".join(lines[-20:]))
        marks["api"] = time.perf_counter() - t0
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
        token = (folder / "state" / "token").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            reply = http.post("/api/rooms/studio/start", json={"preset": "swedish-relaxation-60"})
            assert reply.status_code == 200, reply.text
            marks["started"] = time.perf_counter() - t0
            deadline = time.monotonic() + timeout
            music: dict = {}
            while time.monotonic() < deadline:
                music = http.get("/api/rooms/studio").json().get("music") or {}
                if music.get("playing"):
                    marks["playing"] = time.perf_counter() - t0
                    break
                time.sleep(0.02)
            marks["silent"] = bool(music.get("silent"))
            marks["track"] = music.get("track") or music.get("error")
            http.post("/api/rooms/studio/stop")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # as Ctrl-C: the demo stops the daemon (and its renderer) first
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
    return marks


def p13(folder: Path, preview: float | None = None, with_demo: bool = True) -> Result:
    """``preview``: cut every track to that many seconds (quick; None: the whole library, ~2–3 min here);
    ``with_demo``: also time the demo's first sound (~20 s: it renders one whole track first)."""
    result = Result()
    marks = demo(folder / "demo") if with_demo else None  # first: the library's render would compete with it
    lib = render(folder / "music", preview)
    length = sum(min(p.length, preview) if preview else p.length for p in PIECES)
    mem = _mem_total_kb()
    what = "the default library" if preview is None else f"the default library, each track cut to {preview:g} s"
    result.add(
        "P13", f"render {what} ({len(lib['tracks'])} tracks, {length / 60:.1f} min of music) from an empty cache: wall time",
        f"{lib['seconds']:.1f} s (CPU {lib['cpu']:.1f} s)", f"{length / 60:.1f} min of music",
        f"{length / lib['seconds']:.1f}× real time", "—", None,
    )  # fmt: skip
    result.add(
        "P13", "render: peak memory, the largest process (ru_maxrss) / the process tree at once (VmRSS, sampled)",
        f"{lib['maxrss_kb'] / 1024:.0f} MB / {lib['tree_kb'] / 1024:.0f} MB", f"{mem / 1024:.0f} MB of memory",
        f"{lib['tree_kb'] / mem:.1%} of it" if mem else "—", "—", None,
    )  # fmt: skip
    if marks is not None:
        if "playing" in marks:
            result.add(
                "P13", "demo from an empty music cache: launch → the room's player playing (session started at once)",
                f"{marks['playing']:.1f} s", f"first track rendered {marks.get('first', float('nan')):.1f} s, API up "
                f"{marks['api']:.1f} s, session started {marks['started']:.1f} s", "—", "—", None,
            )  # fmt: skip
        else:
            result.add("P13", "demo: launch → music playing", "never", f"{marks.get('track')}", "—", "—", False)
    rows, before = [], 0.0
    for (name, at, peak), piece in zip(lib["tracks"], PIECES, strict=False):
        secs = min(piece.length, preview) if preview else piece.length
        rows.append([name, f"{secs:.0f} s", f"{at - before:.1f} s", f"{secs / (at - before):.1f}×", f"{at:.1f} s",
                     f"{peak / 1024:.0f} MB"])  # fmt: skip
        before = at
    result.growth.append((
        "P13 rendering track by track (the daemon's child, nice 10)",
        ["track", "music", "render", "× real time", "cumulative", "peak resident (tree)"], rows,
    ))  # fmt: skip
    result.notes.append(
        f"P13: the library is {TOTAL / 60:.1f} min of music in {len(PIECES)} tracks; rendered by the daemon's own "
        "child command (FluidSynth per track, mixed, measured, encoded to Ogg Vorbis); memory is the child's "
        "ru_maxrss (its largest process, FluidSynth included) and the tree's summed resident memory. The demo's "
        "first sound is the HTTP API's `music.playing` for the studio"
        + (f" (its `music.silent` then: {str(marks.get('silent')).lower()})" if marks else "")
        + "; the demo renders one whole track before it starts its daemon, which renders the rest in the background."
    )
    return result
