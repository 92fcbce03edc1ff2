"""The systemd watchdog is fed from the daemon's loop, and not while a room is stuck; presence payloads."""

from __future__ import annotations

import asyncio

import pytest

from ambience import daemon as daemon_module
from ambience.app.presence import parse_peer
from ambience.config import parse_config
from ambience.daemon import Daemon

CONFIG = """
mqtt: {{url: '{url}', base_topic: wd}}
state_dir: state
http: {{enabled: false}}
rooms:
  studio:
    lights: [{{bridge: zigbee2mqtt, device: lamp}}]
    speaker: null
"""


def test_no_watchdog_ping_while_a_room_is_stuck_in_a_tick(broker, tmp_path, monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(daemon_module, "sd_notify", said.append)
    monkeypatch.setattr(daemon_module, "STUCK_TICK", 0.3)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    config = parse_config(CONFIG.format(url=broker.url), "test", tmp_path)

    async def main() -> tuple[int, int]:
        daemon = Daemon(config, players=False)
        await daemon.start()
        try:
            await asyncio.sleep(0.5)
            fed = said.count("WATCHDOG=1")
            room = daemon.rooms["studio"]
            hang = asyncio.get_running_loop().create_future()

            async def stuck() -> float | None:
                await hang  # a tick that never returns (mpv hung, say)
                return None

            room.tick = stuck  # type: ignore[method-assign]
            room.wake()
            await asyncio.sleep(0.2)
            before = said.count("WATCHDOG=1")
            await asyncio.sleep(0.8)
            return fed, said.count("WATCHDOG=1") - before
        finally:
            await daemon.stop()

    fed, while_stuck = asyncio.run(main())
    assert fed >= 3  # every 0.1 s while all is well
    assert while_stuck <= 2  # at most the pings before the tick counted as stuck (0.3 s)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"null",
        b"[]",
        b'{"instance": 5}',
        b'{"instance": "a", "host": "h", "pid": true, "started_at": 1}',
        b'{"instance": "a", "host": "h", "pid": 1, "started_at": 1e309}',
        b"x" * 5000,
        b"[" * 10000,
        b'{"instance": "", "host": "h", "pid": 1, "started_at": 1}',
    ],
)
@pytest.mark.unit
def test_a_presence_payload_that_is_not_one_is_ignored(payload):
    assert parse_peer(payload) is None


@pytest.mark.unit
def test_a_presence_payload_is_read():
    peer = parse_peer(b'{"instance": "abc", "host": "pi", "pid": 42, "started_at": 1700000000}')
    assert peer is not None and peer.host == "pi" and peer.pid == 42
