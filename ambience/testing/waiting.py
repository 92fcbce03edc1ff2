"""Waiting for something instead of sleeping for a guessed while, and a clock a test moves by hand."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    step: float = 0.05,
    *,
    ignoring: tuple[type[BaseException], ...] = (),
    describe: Callable[[], object] | None = None,
) -> T:
    """Ask ``predicate()`` every ``step`` seconds until it returns something true, and return that.

    ``ignoring``: exceptions that count as "not yet" (a daemon restarting refuses connections).
    After ``timeout`` seconds, AssertionError with the last value (or exception) it returned, or
    with ``describe()`` (what the test would want to see, e.g. the statuses it waited on).
    """
    deadline = time.monotonic() + timeout
    while True:
        last: object
        try:
            value = last = predicate()
        except ignoring as exc:
            value, last = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {describe() if describe else repr(last)}")
        time.sleep(step)


async def eventually_async(predicate: Callable[[], T], timeout: float = 10.0, step: float = 0.02) -> T:
    """:func:`eventually` for a test running on an asyncio loop: it awaits between the questions,
    so the loop (the daemon, the player) goes on meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s (last: {value!r})")
        await asyncio.sleep(step)


class Clock:
    """Wall-clock time that stands still unless the test moves it: pass it as ``clock=``.

    ``clock()`` and ``clock.now`` are the time (seconds since the epoch); ``advance(s)`` moves it on.
    """

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now

    def __repr__(self) -> str:
        return f"Clock({self.now})"
