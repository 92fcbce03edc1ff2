"""A site's leadership on PostgreSQL: one daemon leads, the others wait (docs/failover.md).

Daemons started with the same ``store_url`` (PostgreSQL) and ``mqtt.base_topic`` form one *site*. The
leader holds a session-level **advisory lock** on the site's key, on a connection of its own: while
that connection lives, nobody else can take it. A standby waits on the same lock inside the server
(``pg_advisory_lock``), so when the leader dies the server hands the lock over at once:

- a leader SIGKILLed, or whose machine is switched off: its socket closes, the server ends its session
  and the standby has the lock in milliseconds;
- a network cut: the server notices the silent peer by TCP keepalives and ``tcp_user_timeout`` set on
  the leader's session (``DEAD_AFTER`` seconds) and then ends the session;
- a leader that hangs (frozen, swapping, SIGSTOPped) while its machine still answers TCP: the standby
  sees its ``seen`` (the server's clock) older than ``STALE_AFTER`` and ends the leader's session itself
  (``pg_terminate_backend``), which frees the lock.

**Fencing.** Every ``CHECK_EVERY`` seconds the leader writes ``seen`` on its ``sites`` row, guarded by
its *epoch* (each leader that takes over writes one more). A write that lands renews the leader's
**lease**: ``LEASE`` seconds of this machine's monotonic clock from *before* the write was sent. Nothing
is published — no device command, no Home Assistant call — outside the lease (:meth:`Leadership.valid`,
checked by the connections at every send), so a leader that froze and wakes up sends nothing; and a
write that fails or finds the epoch moved on ends the leadership (:meth:`Leadership.watch` returns and
the daemon fences itself). The standby takes over no sooner than ``STALE_AFTER`` after the last ``seen``
(or when the server ended the leader's session), and ``LEASE`` < ``STALE_AFTER``: two daemons never
command a site's devices at once.
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
LEASE = 1.6
"""How long a landed proof lets the leader send (monotonic seconds from before the proof was sent)."""
STALE_AFTER = 2.5
"""A leader whose proof is older than this (by the server's clock) is ended by the standby."""
POLL = 0.25
"""How often the standby tries the lock (a freed lock is taken within this)."""
NOW = "extract(epoch from clock_timestamp())"


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
        self.valid_until = 0.0
        """The lease: the monotonic time until which this daemon may send (:meth:`valid`)."""

    def valid(self) -> bool:
        """This daemon may publish now: it leads, and its last proof is recent enough (the lease)."""
        return self.epoch is not None and time.monotonic() < self.valid_until

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
                    await self._end_a_silent_leader()
                    await asyncio.sleep(POLL)
                    continue
                sent = time.monotonic()
                self.epoch = await self._take()
                self.valid_until = sent + LEASE
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

    async def _end_a_silent_leader(self) -> None:
        """The leader holds the lock but has not proved itself for ``STALE_AFTER`` s: end its session."""
        cur = await self._db.execute(f"SELECT {NOW} - seen FROM sites WHERE site = %s", (self.site,))
        row = await cur.fetchone()
        if row is None or row[0] is None or row[0] < STALE_AFTER:
            return
        cur = await self._db.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 2 AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_CLASS, self.key),
        )
        for pid, _ in await cur.fetchall():
            log.warning(
                "site %r: the leader has been silent for %.1f s; its session %d is ended", self.site, row[0], pid
            )

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
            f"INSERT INTO sites (site, epoch, holder, since, seen, rooms) VALUES (%s, 1, %s, %s, {NOW}, %s) "
            "ON CONFLICT (site) DO UPDATE SET epoch = sites.epoch + 1, holder = EXCLUDED.holder, "
            "since = EXCLUDED.since, seen = EXCLUDED.seen, rooms = EXCLUDED.rooms RETURNING epoch",
            (self.site, holder, now, rooms),
        )
        return int((await cur.fetchone())[0])

    async def check(self) -> bool:
        """Still the leader: the ``seen`` write under this epoch landed in time."""
        if self._db is None or self.epoch is None:
            return False
        sent = time.monotonic()
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                cur = await self._db.execute(
                    f"UPDATE sites SET seen = {NOW} WHERE site = %s AND epoch = %s", (self.site, self.epoch)
                )
                if cur.rowcount != 1:
                    return False
        except Exception:
            return False
        self.valid_until = sent + LEASE
        return True

    async def watch(self) -> str:
        """Return (with the reason) as soon as this daemon may no longer lead the site."""
        while True:
            await asyncio.sleep(CHECK_EVERY)
            if not await self.check():
                return "the store's PostgreSQL did not confirm the leadership in time, or another daemon took it"

    async def close(self) -> None:
        """Let go: closing the connection ends the session, and with it the lock."""
        self.valid_until = 0.0
        db, self._db = self._db, None
        if db is not None:
            try:
                await db.close()
            except Exception:
                pass
