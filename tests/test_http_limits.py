"""``ambience serve`` under a flood of idle connections, with systemd's file-descriptor limit.

The attack of issue 12: ~1,100 TCP connections that never send a byte, against a daemon whose
RLIMIT_NOFILE is 1024. Before the limits, the API died, MQTT could not reconnect, the after state
was not applied and the log filled with "Too many open files" tracebacks.
"""

from __future__ import annotations

import json
import logging
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from test_daemon import close, daemon_and_simulator

from ambience.surfaces.http import app as api
from ambience.surfaces.http.limits import Connections
from ambience.testing import LiveDaemon, MqttProbe, eventually, write_clinic

IDLE = 1100
SYSTEMD_NOFILE = 1024
HOLDER = Path(__file__).with_name("hold_connections.py")


def systemd_limits() -> None:
    """In the daemon's child process: soft = hard = 1024, so raising soft to hard gains nothing."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (SYSTEMD_NOFILE, SYSTEMD_NOFILE))


@contextmanager
def idle_connections(port: int, count: int) -> Iterator[int]:
    """``count`` connections that send nothing, held by another process; yields how many connected."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < count + 256:
        pytest.skip(f"holding {count} connections needs {count + 256} open files; the hard limit is {hard}")
    holder = subprocess.Popen(
        [sys.executable, str(HOLDER), str(port), str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.startswith("connected "), line
        yield int(line.split()[1])
    finally:
        holder.communicate(timeout=10)


@pytest.fixture
def setup(broker, tmp_path):
    with daemon_and_simulator(broker, tmp_path, preexec_fn=systemd_limits) as (daemon, sim):
        yield daemon, sim, broker


def test_1100_idle_connections_leave_the_api_mqtt_and_the_after_state_working(setup):
    daemon, sim, broker = setup
    daemon.start()
    eventually(lambda: all(d["reported"] for d in daemon.room("studio")["devices"]))
    with idle_connections(daemon.port, IDLE) as connected:
        assert connected > 1024  # more than the daemon could ever hold open
        began = time.monotonic()
        answer = httpx.get(
            daemon.url + "/api/rooms/studio", headers={"Authorization": f"Bearer {daemon.token()}"}, timeout=5
        )
        assert answer.status_code == 200 and time.monotonic() - began < 5
        daemon.api("POST", "/api/rooms/studio/start", {"preset": "tiny"})
        sim.wait_for("studio", "trv", lambda s: s["target"] == 25, timeout=5)
        with MqttProbe(broker, "amb/status") as probe:
            probe.wait_for(lambda m: m.text == "online")
            since = probe.mark()
            broker.stop()
            broker.start()
            probe.wait_for(lambda m: m.text == "online", timeout=15, since=since)  # the daemon is back
        # the session (8 s) ends: its after state reaches the devices over the reconnected broker
        sim.wait_for("studio", "trv", lambda s: s["target"] == 19, timeout=15)
        sim.wait_for("studio", "lamp", lambda s: close(s["brightness"], 80), timeout=5)
        sim.wait_for("studio", "ceiling", lambda s: not s["on"], timeout=5)
        assert [h["outcome"] for h in daemon.api("GET", "/api/history?room=studio")] == ["completed"]
    text = daemon.log.read_text(errors="replace")
    assert daemon.log.stat().st_size < 64 * 1024, daemon.log_tail()
    assert text.count("Too many open files") <= 5, daemon.log_tail()


def test_the_daemon_raises_its_open_file_limit_to_the_hard_limit(broker, tmp_path):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else min(hard, 4096)

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, target))

    with daemon_and_simulator(broker, tmp_path, preexec_fn=low_soft_limit) as (daemon, _):
        daemon.start()
        assert daemon.proc is not None
        limits = Path(f"/proc/{daemon.proc.pid}/limits").read_text()
        soft = next(line.split()[3] for line in limits.splitlines() if line.startswith("Max open files"))
        shown = "unlimited" if target == resource.RLIM_INFINITY else str(target)
        assert soft == shown
        assert daemon.log.read_text().count(f"open files: up to {shown}") == 1


# ---- the limits, in-process, with short timeouts ---------------------------------------------

REQUEST_TIMEOUT = 1.0
KEEP_ALIVE = 0.5
LIMIT = 4


def connect(serving: LiveDaemon) -> socket.socket:
    return socket.create_connection(("127.0.0.1", serving.port), timeout=5)


def open_idle(serving: LiveDaemon, count: int) -> list[socket.socket]:
    """``count`` connections, each one counted by the server before the next is made."""
    connections: Connections = serving.server.connections
    socks = []
    for _ in range(count):
        before = connections.evicted + len(connections.idle)
        socks.append(connect(serving))
        eventually(lambda: connections.evicted + len(connections.idle) > before, timeout=2)  # noqa: B023
    return socks


def open_stream(serving: LiveDaemon) -> socket.socket:
    """An open event stream (a phone page), its response head read."""
    sock = connect(serving)
    sock.sendall(f"GET /api/events?token={serving.token()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert read_until(sock, b"\r\n\r\n").startswith(b"HTTP/1.1 200")
    return sock


@pytest.fixture
def serving(tmp_path, monkeypatch, clean_env) -> Iterator[LiveDaemon]:
    """``serve_http`` for a Daemon's rooms (no broker, no players) on a loop in a thread, short timeouts."""
    monkeypatch.setattr(api, "REQUEST_TIMEOUT", REQUEST_TIMEOUT)
    monkeypatch.setattr(api, "KEEP_ALIVE", KEEP_ALIVE)
    room = {"thermostat": {"bridge": "zigbee2mqtt", "device": "studio-trv"}, "speaker": None}
    clinic = write_clinic(tmp_path, {"studio": room}, http={"port": 0, "max_connections": LIMIT})
    with LiveDaemon(clinic.config, mqtt=False) as server:
        yield server


def read_until(sock: socket.socket, end: bytes, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while end not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def seconds_until_closed(sock: socket.socket, trickle: bytes = b"", limit: float = 5.0) -> float:
    """How long until the server closes ``sock``; meanwhile one byte of ``trickle`` every 50 ms."""
    began = time.monotonic()
    sock.settimeout(0.05)
    sent = 0
    while time.monotonic() - began < limit:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - began
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - began
        if sent < len(trickle):
            try:
                sock.send(trickle[sent : sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - began
            sent += 1
    raise AssertionError(f"still open after {limit} s")


def test_a_connection_that_sends_nothing_is_closed_after_the_request_timeout(serving: LiveDaemon):
    with connect(serving) as sock:
        assert REQUEST_TIMEOUT - 0.2 <= seconds_until_closed(sock) <= REQUEST_TIMEOUT + 1


def test_a_request_head_sent_a_byte_at_a_time_is_closed_at_the_deadline(serving: LiveDaemon):
    head = b"GET /healthz HTTP/1.1\r\n" + b"X-Slow: " + b"a" * 200
    with connect(serving) as sock:
        assert REQUEST_TIMEOUT - 0.2 <= seconds_until_closed(sock, trickle=head) <= REQUEST_TIMEOUT + 1


def test_a_body_sent_a_byte_at_a_time_is_closed_at_the_deadline_without_a_traceback(serving: LiveDaemon, caplog):
    head = (
        f"POST /api/rooms/studio/start HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {serving.token()}\r\n"
        "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
    ).encode()
    with connect(serving) as sock:
        sock.sendall(head)
        took = seconds_until_closed(sock, trickle=b'{"preset": "' + b"x" * 400)
        assert REQUEST_TIMEOUT - 0.2 <= took <= REQUEST_TIMEOUT + 1
    eventually(lambda: not serving.server.server_state.tasks)  # the handler has finished
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert serving.controller.status("studio")[0]["state"] == "idle"


def test_a_kept_alive_connection_is_closed_after_the_keep_alive_timeout(serving: LiveDaemon):
    with connect(serving) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(sock, b'{"ok":true}').startswith(b"HTTP/1.1 200")
        assert KEEP_ALIVE - 0.2 <= seconds_until_closed(sock) <= KEEP_ALIVE + 1


def test_past_the_cap_a_new_connection_closes_the_one_idle_longest(serving: LiveDaemon):
    socks = open_idle(serving, LIMIT)
    try:
        newest = open_idle(serving, 1)[0]
        socks.append(newest)
        assert seconds_until_closed(socks[0]) < REQUEST_TIMEOUT / 2  # closed for the newcomer, not timed out
        newest.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(newest, b'{"ok":true}').startswith(b"HTTP/1.1 200")
        assert serving.server.connections.open == LIMIT
    finally:
        for sock in socks:
            sock.close()


def test_when_every_connection_is_busy_a_new_one_is_answered_503(serving: LiveDaemon):
    streams = [open_stream(serving) for _ in range(LIMIT)]
    try:
        with connect(serving) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_until(sock, b"}")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in head
        assert "http.max_connections" in json.loads(body)["error"]
        streams.pop().close()
        eventually(lambda: httpx.get(serving.url + "/healthz", timeout=2).status_code == 200, timeout=5)
    finally:
        for sock in streams:
            sock.close()


def test_an_event_stream_outlives_every_timeout(serving: LiveDaemon):
    with httpx.stream("GET", serving.url + "/api/events", params={"token": serving.token()}, timeout=10) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))  # the snapshot
        time.sleep(REQUEST_TIMEOUT + KEEP_ALIVE + 0.5)  # the passing of time is the test
        started = serving.request("POST", "/api/rooms/studio/stop")
        assert started.status_code == 409  # nothing to stop; the stream is still open to hear of changes
        serving.loop.call_soon_threadsafe(serving.controller.changed, "studio")
        assert json.loads(next(line for line in lines if line.startswith("data:"))[5:])["room"] == "studio"


def test_max_connections_is_lowered_to_fit_the_open_file_limit(caplog):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (api.FILES_RESERVED + 100, hard))
    try:
        assert api._connection_limit(200) == 100
        assert api._connection_limit(50) == 50
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert "http.max_connections 200 is more than 500 open files allow" in caplog.text
