"""A log that a flood cannot fill: the same message at most ``burst`` times per ``interval``, then a count.

"The same message" is one logger, level, template (the first line of the unformatted message,
so ``"%s: lost"`` is one message whatever the room) and exception type. Past ``burst`` in one
window the rest are dropped and counted; when the window has passed, one line says how many
were not logged. A traceback counts as the message it belongs to: asyncio's "socket.accept()
out of system resource" with its OSError is one message however often the loop retries.

DEBUG records pass untouched: they are only on with ``-v``, asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

BURST = 20
INTERVAL = 60.0
"""Seconds."""
MAX_KINDS = 1000
"""Messages remembered at once; past that the oldest window is closed early."""

Key = tuple[str, int, str, str]


@dataclass
class _Window:
    opened: float
    sample: str
    """The first message of the window, formatted (its first line)."""
    passed: int = 0
    dropped: int = 0
    last: float = 0.0
    """When the last one was dropped."""


def _first_line(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # a bad format string: logging reports it when the record is written
        text = str(record.msg)
    return text.split("\n", 1)[0][:200]


def _key(record: logging.LogRecord) -> Key:
    template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    first_line = template.split("\n", 1)[0][:200]
    exc = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
    return record.name, record.levelno, first_line, exc


class RateLimit(logging.Filter):
    """A handler's filter; :meth:`install` it on the handler so it can write the "not logged" lines."""

    def __init__(self, burst: int = BURST, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.burst = burst
        self.interval = interval
        self.clock = clock
        self._windows: dict[Key, _Window] = {}
        self._lock = threading.Lock()
        self._handler: logging.Handler | None = None

    def install(self, handler: logging.Handler) -> RateLimit:
        handler.addFilter(self)
        self._handler = handler
        return self

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO or getattr(record, "rate_limit_summary", False):
            return True
        now = self.clock()
        with self._lock:
            closed = self._close_windows(now)
            key = _key(record)
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(now, _first_line(record))
            if window.passed < self.burst:
                window.passed += 1
                keep = True
            else:
                window.dropped += 1
                window.last = now
                keep = False
        self._report(closed)
        return keep

    def flush(self) -> None:
        """Write the counts of every open window now (at exit: nothing more will come)."""
        with self._lock:
            closed = [(key, window) for key, window in self._windows.items() if window.dropped]
            self._windows.clear()
        self._report(closed)

    def _close_windows(self, now: float) -> list[tuple[Key, _Window]]:
        """Remove the windows past their interval (and the oldest, if too many); those that dropped any."""
        closed = []
        while self._windows:  # opened in insertion order: the first is the oldest
            key, window = next(iter(self._windows.items()))
            if now - window.opened < self.interval and len(self._windows) < MAX_KINDS:
                break
            del self._windows[key]
            if window.dropped:
                closed.append((key, window))
        return closed

    def _report(self, closed: list[tuple[Key, _Window]]) -> None:
        if self._handler is None:
            return
        for (name, level, _, exc), window in closed:
            what = f"{window.sample} ({exc})" if exc else window.sample
            summary = logging.LogRecord(
                name, level, __file__, 0, "%d more like this in %.0f s were not logged: %s",
                (window.dropped, window.last - window.opened, what), None,
            )  # fmt: skip
            summary.rate_limit_summary = True
            self._handler.handle(summary)


__all__ = ["RateLimit", "BURST", "INTERVAL"]
