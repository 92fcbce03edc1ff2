"""The rate-limited log: a flood of one message is cut to a burst and a count."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import Iterator

import pytest

from ambience.daemon import setup_logging
from ambience.infra.logsafe import BURST, RateLimit
from ambience.testing import Clock

pytestmark = pytest.mark.unit


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture
def out(clock: Clock) -> Iterator[tuple[io.StringIO, RateLimit]]:
    """A logger ``flood`` whose handler writes ``name level message`` lines through a RateLimit(3, 60 s)."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    limit = RateLimit(burst=3, interval=60, clock=clock).install(handler)
    logger = logging.getLogger("flood")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield text, limit
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(text: io.StringIO) -> list[str]:
    return text.getvalue().splitlines()


def test_a_message_passes_burst_times_per_interval_then_one_line_counts_the_rest(out, clock: Clock):
    text, _ = out
    log = logging.getLogger("flood")
    for port in range(10):
        clock.advance(1)
        log.warning("lost the broker at port %d", port)
    assert lines(text) == [f"flood WARNING lost the broker at port {port}" for port in range(3)]
    clock.advance(60)  # the window has passed: the next message first says what was dropped
    log.warning("lost the broker at port %d", 99)
    assert lines(text)[3:] == [
        "flood WARNING 7 more like this in 9 s were not logged: lost the broker at port 0",
        "flood WARNING lost the broker at port 99",
    ]


def test_messages_are_told_apart_by_logger_level_and_template(out, clock: Clock):
    text, _ = out
    for _ in range(5):
        logging.getLogger("flood").warning("one %s", "x")
        logging.getLogger("flood").error("one %s", "x")
        logging.getLogger("flood").warning("two %s", "x")
        logging.getLogger("flood.child").warning("one %s", "x")
    assert len(lines(text)) == 4 * 3


def test_debug_is_never_limited(out):
    text, _ = out
    for _ in range(10):
        logging.getLogger("flood").debug("sent %d bytes", 5)
    assert len(lines(text)) == 10


def test_flush_writes_the_counts_still_open(out):
    text, limit = out
    for _ in range(5):
        logging.getLogger("flood").info("hello")
    limit.flush()
    assert lines(text)[-1] == "flood INFO 2 more like this in 0 s were not logged: hello"
    limit.flush()  # nothing new: nothing written
    assert len(lines(text)) == 4


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The root logger's handlers and level put back after a test that calls setup_logging."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        root.handlers[:] = handlers
        root.setLevel(level)


def emfile() -> OSError:
    try:
        raise OSError(24, "Too many open files")
    except OSError as exc:
        return exc


def test_setup_logging_cuts_a_flood_of_accept_tracebacks(root_logging, capsys):
    """asyncio's loop logs a traceback each time accept() fails with EMFILE; the log gets BURST and a count."""
    rate_limit = setup_logging()
    with socket.socket() as listening:
        loop = asyncio.new_event_loop()
        try:
            for _ in range(500):
                context = {"message": "socket.accept() out of system resource", "socket": listening}
                context["exception"] = emfile()
                loop.call_exception_handler(context)
        finally:
            loop.close()
    rate_limit.flush()
    err = capsys.readouterr().err
    assert err.count("Traceback") == err.count("OSError: [Errno 24] Too many open files") == BURST
    assert err.splitlines()[-1].endswith(
        f"{500 - BURST} more like this in 0 s were not logged: socket.accept() out of system resource (OSError)"
    )
