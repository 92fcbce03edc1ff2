"""A site's leadership on PostgreSQL: one daemon leads, the others wait (docs/failover.md).

Daemons started with the same ``store_url`` (PostgreSQL) and ``mqtt.base_topic`` form one *site*. The
leader holds a session-level **advisory lock** on the site's key, on a connection of its own: while
that connection lives, nobody else can take it. A standby waits on the same lock inside the server
(``pg_advisory_lock``), so when the leader dies the server hands the lock over at once:

- a leader SIGKILLed, or whose machine is switched off: its socket closes, the server ends its session
  and the standby has the lock in milliseconds;
- a network cut: the server notices the silent peer by TCP keepalives and ``tcp_user_timeout`` set on
  the leader's session (``DEAD_AFTER`` seconds) and then ends the session.

**Fencing.** Every ``CHECK_EVERY`` seconds the leader writes ``seen`` on its ``sites`` row, guarded by
its *epoch* (each leader that takes over writes one more). If that write fails or takes longer than
``CHECK_TIMEOUT``, or finds the epoch moved on, the leader has lost the site, or may have: it stops
commanding devices at once (:meth:`Leadership.watch` returns and the daemon fences itself). It notices
within ``CHECK_EVERY + CHECK_TIMEOUT`` seconds, before the server gives the lock away
(``DEAD_AFTER`` is larger), so two daemons never command a site's devices at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import zlib
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

LOCK_CLASS = 0x616D62  # 'amb': the first key of the two-key advisory lock, so other apps' locks don't clash
CHECK_EVERY = 0.4
CHECK_TIMEOUT = 1.0
DEAD_AFTER = 3.0
"""How long the server waits for a silent leader before it ends its session (and so frees the lock)."""
RETRY = 1.0


def site_key(site: str) -> int:
    """The second key of the site's advisory lock: a stable 31-bit hash of the base topic."""
    return zlib.crc32(site.encode()) & 0x7FFFFFFF


def conninfo(url: str) -> dict[str, Any]:
    """psycopg's connection arguments for a SQLAlchemy ``postgresql+psycopg://`` URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    args: dict[str, Any] = {
        "host": parsed.host or "localhost",
        "port": parsed.port or 5432,
        "dbname": parsed.database,
        "user": parsed.username,
        "password": parsed.password,
        **{k: v for k, v in parsed.query.items() if isinstance(v, str)},
    }
    return {k: v for k, v in args.items() if v is not None}


class Leadership:
    """The site's lock, held on a psycopg connection of its own (not the store's pool)."""

    def __init__(self, url: str, site: str, holder: dict[str, Any], clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.site = site
        self.key = site_key(site)
        self.holder = {"host": socket.gethostname(), "pid": os.getpid(), **holder}
        self.clock = clock
        self.epoch: int | None = None
        self.rooms: list[str] = []
        self._db: Any = None

    async def _connect(self) -> Any:
        import psycopg

        dead_ms = int(DEAD_AFTER * 1000)
        db = await psycopg.AsyncConnection.connect(
            **conninfo(self.url),
            autocommit=True,
            connect_timeout=3,
            keepalives=1,
            keepalives_idle=1,
            keepalives_interval=1,
            keepalives_count=2,
            tcp_user_timeout=dead_ms,
            application_name=f"ambience {self.site} leadership",
        )
        # the server's side of the same socket: a leader gone silent has its session (and lock) ended
        for setting, value in (
            ("tcp_keepalives_idle", 1),
            ("tcp_keepalives_interval", 1),
            ("tcp_keepalives_count", 2),
            ("tcp_user_timeout", dead_ms),
        ):
            await db.execute(f"SET {setting} = {value}")
        return db

    async def acquire(self) -> int:
        """Wait until this daemon leads the site; its epoch. Logs once that it is standing by, and who leads."""
        said = False
        while True:
            try:
                if self._db is None or self._db.closed:
                    self._db = await self._connect()
                cur = await self._db.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, self.key))
                got = (await cur.fetchone())[0]
                if not got:
                    if not said:
                        log.warning(
                            "standby: site %r is led by %s; taking over when it stops", self.site, await self._leader()
                        )
                        said = True
                    await self._db.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, self.key))
                self.epoch = await self._take()
                log.warning("leading site %r (leader number %d)", self.site, self.epoch)
                return self.epoch
            except asyncio.CancelledError:
                await self.close()
                raise
            except Exception as exc:  # the server away, or it dropped us: try again
                if not said:
                    log.warning("site %r: the store's PostgreSQL cannot be reached (%s); trying again", self.site, exc)
                    said = True
                await self.close()
                await asyncio.sleep(RETRY)

    async def _leader(self) -> str:
        try:
            cur = await self._db.execute("SELECT holder FROM sites WHERE site = %s", (self.site,))
            row = await cur.fetchone()
        except Exception:
            return "another daemon"
        if row is None:
            return "another daemon"
        holder = json.loads(row[0])
        return f"{holder.get('host', '?')} (pid {holder.get('pid', '?')})"

    async def _take(self) -> int:
        now = self.clock()
        holder = json.dumps(self.holder)
        rooms = json.dumps(self.rooms)
        cur = await self._db.execute(
            "INSERT INTO sites (site, epoch, holder, since, seen, rooms) VALUES (%s, 1, %s, %s, %s, %s) "
            "ON CONFLICT (site) DO UPDATE SET epoch = sites.epoch + 1, holder = EXCLUDED.holder, "
            "since = EXCLUDED.since, seen = EXCLUDED.seen, rooms = EXCLUDED.rooms RETURNING epoch",
            (self.site, holder, now, now, rooms),
        )
        return int((await cur.fetchone())[0])

    async def check(self) -> bool:
        """Still the leader: the ``seen`` write under this epoch landed in time."""
        if self._db is None or self.epoch is None:
            return False
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                cur = await self._db.execute(
                    "UPDATE sites SET seen = %s WHERE site = %s AND epoch = %s",
                    (self.clock(), self.site, self.epoch),
                )
                return cur.rowcount == 1
        except Exception:
            return False

    async def watch(self) -> str:
        """Return (with the reason) as soon as this daemon may no longer lead the site."""
        while True:
            await asyncio.sleep(CHECK_EVERY)
            if not await self.check():
                return "the store's PostgreSQL did not confirm the leadership in time, or another daemon took it"

    async def close(self) -> None:
        """Let go: closing the connection ends the session, and with it the lock."""
        db, self._db = self._db, None
        if db is not None:
            try:
                await db.close()
            except Exception:
                pass
