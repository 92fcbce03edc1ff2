"""What lasts: running sessions, owed after states, history, clients, phones — on SQLite or PostgreSQL.

One SQLAlchemy URL (``store_url``, docs/store.md): by default a SQLite file in the state directory
(WAL), or a PostgreSQL database that several daemons of a site or a chain share. The schema is
made and upgraded by Alembic's migrations (``ambience/infra/migrations``) when the store opens, so
an upgrade of ambience never loses a row. Boring on purpose: a row per running session rewritten on
every change, so a daemon killed at any moment restarts from what the last command left. Client rows hold a
label and comfort preferences, nothing else. A paired phone's row holds its id, the name it
gave, when it paired and was last seen, and a SHA-256 hash of its device token, never the token.

*Owed* rows are after states a device has not confirmed yet, one per (room, device): written
in the same transaction that ends the session (and removes its row), deleted when the device
confirms, and taken over as "the room as found" by the next session in the same transaction that
stores it. So at every moment either the session row or the owed rows say what the room must go
back to, whatever crashes in between.

Every write is one transaction; a write that fails (a full disk, the database locked by another
process for longer than ``BUSY_TIMEOUT_MS``, a PostgreSQL server gone) raises :class:`~ambience.errors.StoreError` and
leaves the file as it was.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ambience.errors import NotFound, StoreError
from ambience.infra import schema
from ambience.infra.records import OUTCOMES, Owed, Phone, SessionRecord
from ambience.infra.schema import clients, history, owed, phones, sessions, sites, tombstones
from ambience.model.client import Client, Comfort

__all__ = ["OUTCOMES", "BUSY_TIMEOUT_MS", "Owed", "Phone", "SessionRecord", "Store", "StoreError"]

BUSY_TIMEOUT_MS = 2000
"""How long a write waits for a database another process holds, before it fails (the loop waits too)."""
LOCKED_RETRY = 3.0
"""After a write found the database locked, how long the next writes fail at once instead of each
waiting ``BUSY_TIMEOUT_MS`` on the loop again: with every room ending and retrying (a room retries
every 5 s), ten rooms' waits would hold the loop for 20 s in every 5 — no after state sent, the API
silent (the endings soak, bench/soak_endings.py, found it)."""


def store_url(where: Path | str) -> str:
    """A SQLAlchemy URL for ``where``: a URL as it is, a path (or ``:memory:``) as a SQLite file."""
    text = str(where)
    if "://" in text:
        return text
    return "sqlite://" if text == ":memory:" else f"sqlite:///{text}"


def shown_url(url: str) -> str:
    """The URL for a message: a SQLite file's name, a server's URL without its password."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Path(parsed.database).name if parsed.database else ":memory:"
    return parsed.render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite: WAL, a busy timeout, and ``BEGIN IMMEDIATE`` for every transaction
    (a write takes the lock at once, or waits ``BUSY_TIMEOUT_MS`` and fails); PostgreSQL: psycopg 3."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg2", "psycopg2cffi"):
            raise StoreError(f"store_url {shown_url(url)!r}: use the psycopg 3 driver, postgresql+psycopg://")
        try:
            return sa.create_engine(url, pool_pre_ping=True, connect_args=_server_args(parsed))
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StoreError(
                f"store_url {shown_url(url)!r} is not usable ({exc}); use sqlite:///FILE or postgresql+psycopg://…"
            ) from None
    memory = parsed.database in (None, "", ":memory:")
    if not memory and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        **({"poolclass": sa.pool.StaticPool} if memory else {}),
    )

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves (below), not pysqlite
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.info.get("write") else "BEGIN")

    return engine


def _server_args(parsed: sa.engine.URL) -> dict[str, Any]:
    if parsed.get_backend_name() == "postgresql":
        return {"connect_timeout": 5}
    return {}


class Store:
    def __init__(self, where: Path | str, site: str = ""):
        """Open (and make or upgrade) the store at ``where``: a SQLAlchemy URL, or a SQLite file's path.

        ``site``: whose running sessions, owed after states and history these are (the daemon's MQTT
        base topic): several sites of a chain, and a site's leader and standby, share one database.
        Clients, paired phones and cancelled calendar bookings are the chain's, shared by its sites.
        """
        self.url = store_url(where)
        self.site = site
        self.name = shown_url(self.url)
        self.engine = make_engine(self.url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self._upserts: dict[tuple[str, tuple[str, ...]], Any] = {}
        """Each table's upsert statement, built once (:meth:`_upsert`)."""
        self._locked_until = 0.0
        """While the clock is before this, a write fails at once: the database was locked a moment ago."""
        try:
            schema.upgrade(self.engine)
            if site:
                self.adopt()
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise StoreError(f"the store {self.name} cannot be opened: {_why(exc)}") from None

    def adopt(self) -> None:
        """Rows written before the store had sites (site ``''``) are this site's: the daemon that ran
        alone before the upgrade is the one that opens it first after."""
        with self.engine.connect() as db:
            db.info["write"] = True
            with db.begin():
                for table in (sessions, owed, history):
                    db.execute(table.update().where(table.c.site == "").values(site=self.site))

    @property
    def path(self) -> Path:
        """A SQLite store's file (``:memory:`` for none)."""
        return Path(self.engine.url.database or ":memory:")

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        """One transaction; any failure rolls it back and raises :class:`StoreError`.

        A database found locked is not waited for again for :data:`LOCKED_RETRY` seconds."""
        if time.monotonic() < self._locked_until:
            raise StoreError(f"cannot {what}: the store {self.name} is locked by another program (waiting to retry)")
        try:
            with self.engine.connect() as db:
                db.info["write"] = True
                try:
                    with db.begin():
                        yield db
                finally:
                    db.info.pop("write", None)
        except sa.exc.SQLAlchemyError as exc:
            why = _why(exc)
            if "locked" in why:
                self._locked_until = time.monotonic() + LOCKED_RETRY
            raise StoreError(f"cannot {what}: the store {self.name} {why}") from None

    def _read(self, statement: Any, *args: Any) -> list[Any]:
        try:
            with self.engine.connect() as db:
                return list(db.execute(statement, *args))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot read: the store {self.name} {_why(exc)}") from None

    def _upsert(self, table: sa.Table, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> Any:
        """INSERT, or UPDATE the row with the same ``keys`` (SQLite's and PostgreSQL's ON CONFLICT).

        The statement is built once per table: building it (its ``excluded`` columns) was a third of what
        persisting a session cost (bench P1's profile), and it never changes."""
        statement = self._upserts.get((table.name, keys))
        if statement is None:
            if self.postgres:
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
            base = insert(table)
            changed = {c.name: base.excluded[c.name] for c in table.columns if c.name not in keys}
            statement = self._upserts[(table.name, keys)] = base.on_conflict_do_update(
                index_elements=list(keys), set_=changed
            )
        return statement, rows

    # ---- sessions --------------------------------------------------------------------------

    def _put_session(self, db: Connection, record: SessionRecord) -> None:
        row = {"site": self.site, "room": record.room, "data": record.to_json()}
        db.execute(*self._upsert(sessions, ("site", "room"), [row]))

    def save_session(self, record: SessionRecord) -> None:
        with self._write("save the session") as db:
            self._put_session(db, record)

    def start_session(
        self, record: SessionRecord, replaced: tuple[SessionRecord, float] | None = None, outcome: str = "replaced"
    ) -> None:
        """Store a new session; the room's owed rows are its snapshot now, so they go (one transaction).

        ``replaced``: the session it replaces and when, recorded in the history with ``outcome``
        (``replaced``; or ``completed`` when the new one follows it straight on).
        """
        with self._write("start the session") as db:
            if replaced is not None:
                self._history(db, replaced[0], replaced[1], outcome)
            self._put_session(db, record)
            db.execute(owed.delete().where(owed.c.site == self.site, owed.c.room == record.room))

    def end_session(
        self,
        record: SessionRecord,
        ended_at: float,
        outcome: str | None,
        owes: Mapping[str, dict[str, Any]],
        since: float,
    ) -> None:
        """The session is over: its history row (``outcome`` None: already written), its owed after
        states, and its row gone — in one transaction, so a crash leaves either the session or what it owes."""
        with self._write("record the end of the session") as db:
            if outcome is not None:
                self._history(db, record, ended_at, outcome)
            rows = [
                {"site": self.site, "room": record.room, "device": dev, "state": json.dumps(state),
                 "session": record.id, "since": since}
                for dev, state in owes.items()
            ]  # fmt: skip
            if rows:
                db.execute(*self._upsert(owed, ("site", "room", "device"), rows))
            db.execute(self._mine(sessions).where(sessions.c.room == record.room))

    def delete_session(self, room: str) -> None:
        with self._write("delete the session") as db:
            db.execute(self._mine(sessions).where(sessions.c.room == room))

    def _mine(self, table: sa.Table) -> Any:
        """A DELETE of this site's rows of ``table``."""
        return table.delete().where(table.c.site == self.site)

    def sessions(self) -> list[SessionRecord]:
        query = sa.select(sessions.c.data).where(sessions.c.site == self.site).order_by(sessions.c.room)
        return [SessionRecord.from_json(row[0]) for row in self._read(query)]

    def site_sessions(self) -> dict[str, list[SessionRecord]]:
        """Every site's running sessions (``ambience status --site``)."""
        out: dict[str, list[SessionRecord]] = {}
        for site, data in self._read(
            sa.select(sessions.c.site, sessions.c.data).order_by(sessions.c.site, sessions.c.room)
        ):
            out.setdefault(site, []).append(SessionRecord.from_json(data))
        return out

    def sites(self) -> list[dict[str, Any]]:
        """Each site's leadership as the leaders wrote it (:mod:`ambience.infra.leadership`)."""
        c = sites.c
        rows = self._read(sa.select(c.site, c.epoch, c.holder, c.since, c.seen, c.rooms).order_by(c.site))
        return [
            {"site": site, "epoch": epoch, "holder": json.loads(holder), "since": since, "seen": seen,
             "rooms": json.loads(rooms)}
            for site, epoch, holder, since, seen, rooms in rows
        ]  # fmt: skip

    # ---- owed after states ----------------------------------------------------------------------

    def owed(self) -> list[Owed]:
        c = owed.c
        query = sa.select(c.room, c.device, c.state, c.session, c.since).where(c.site == self.site)
        rows = self._read(query.order_by(c.room, c.device))
        return [Owed(room, device, json.loads(state), session, since) for room, device, state, session, since in rows]

    def settle_owed(self, room: str, devices: list[tuple[str, str]]) -> None:
        """The devices confirmed: ``(device, session)`` pairs; a row owed by a later ending stays."""
        if not devices:
            return
        c = owed.c
        with self._write("record that the after state landed") as db:
            for device, session in devices:
                db.execute(self._mine(owed).where(c.room == room, c.device == device, c.session == session))

    # ---- history ----------------------------------------------------------------------------

    def record_history(self, record: SessionRecord, ended_at: float, outcome: str) -> None:
        with self._write("record the history") as db:
            self._history(db, record, ended_at, outcome)

    def _history(self, db: Connection, record: SessionRecord, ended_at: float, outcome: str) -> None:
        assert outcome in OUTCOMES, outcome
        db.execute(
            history.insert().values(
                site=self.site,
                session=record.id,
                room=record.room,
                preset=record.preset,
                client=record.client,
                started_at=record.facts.started_at,
                ended_at=ended_at,
                outcome=outcome,
            )
        )

    def prune_history(self, before: float) -> int:
        """Forget the sessions that ended before ``before`` (the retention, ``history.keep_days``); how many."""
        with self._write("prune the history") as db:
            return db.execute(self._mine(history).where(history.c.ended_at < before)).rowcount

    def history(self, room: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        c = history.c
        query = sa.select(c.session, c.room, c.preset, c.client, c.started_at, c.ended_at, c.outcome)
        query = query.where(c.site == self.site)
        if room is not None:
            query = query.where(c.room == room)
        rows = self._read(query.order_by(c.started_at.desc(), c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]

    def last_presets(self) -> dict[str, str]:
        """Each client label's preset of its latest session that ran (not ``missed`` or ``cancelled``):
        the phone offers it first when that client is chosen."""
        c = history.c
        rows = self._read(
            sa.select(c.client, c.preset)
            .where(c.client.is_not(None), c.outcome.not_in(("missed", "cancelled")))
            .order_by(c.started_at, c.id)
        )
        return {client: preset for client, preset in rows}  # later rows win: the latest session

    # ---- cancelled recurring/calendar bookings, so they are not booked again ----------------

    def add_tombstone(self, uid: str, until: float) -> None:
        with self._write("remember the cancelled booking") as db:
            db.execute(*self._upsert(tombstones, ("uid",), [{"uid": uid, "until": until}]))

    def tombstones(self) -> set[str]:
        return {row[0] for row in self._read(sa.select(tombstones.c.uid))}

    # ---- clients ----------------------------------------------------------------------------

    def add_client(self, client: Client) -> None:
        with self._write("save the client") as db:
            row = {"label": client.label, "comfort": client.comfort.model_dump_json()}
            db.execute(*self._upsert(clients, ("label",), [row]))

    def remove_client(self, label: str) -> None:
        with self._write("remove the client") as db:
            removed = db.execute(clients.delete().where(clients.c.label == label)).rowcount
        if removed == 0:
            raise NotFound("client", label, [c.label for c in self.clients()])

    def clients(self) -> list[Client]:
        rows = self._read(sa.select(clients.c.label, clients.c.comfort).order_by(clients.c.label))
        return [Client(label=label, comfort=Comfort.model_validate_json(comfort)) for label, comfort in rows]

    def client(self, label: str) -> Client | None:
        rows = self._read(sa.select(clients.c.label, clients.c.comfort).where(clients.c.label == label))
        return Client(label=rows[0][0], comfort=Comfort.model_validate_json(rows[0][1])) if rows else None

    # ---- paired phones: a hash of each one's device token ----------------------------------

    def add_phone(self, phone: Phone, token_hash: str) -> None:
        with self._write("save the paired phone") as db:
            db.execute(
                phones.insert().values(
                    id=phone.id,
                    name=phone.name,
                    token_hash=token_hash,
                    created=phone.created,
                    last_seen=phone.last_seen,
                )
            )

    def phone_with(self, token_hash: str) -> Phone | None:
        """The phone whose device token has this hash, if it is paired (not revoked)."""
        c = phones.c
        rows = self._read(sa.select(c.id, c.name, c.created, c.last_seen).where(c.token_hash == token_hash))
        return Phone(*rows[0]) if rows else None

    def phone_seen(self, phone_id: str, when: float) -> None:
        with self._write("note when the phone was last seen") as db:
            db.execute(phones.update().where(phones.c.id == phone_id).values(last_seen=when))

    def phones(self) -> list[Phone]:
        c = phones.c
        rows = self._read(sa.select(c.id, c.name, c.created, c.last_seen).order_by(c.created, c.id))
        return [Phone(*row) for row in rows]

    def remove_phone(self, phone_id: str) -> None:
        """Revoke one phone's token; :class:`NotFound` (naming the paired ones) if there is none of this id."""
        with self._write("revoke the phone") as db:
            removed = db.execute(phones.delete().where(phones.c.id == phone_id)).rowcount
        if removed == 0:
            raise NotFound("paired phone", phone_id, [p.id for p in self.phones()])

    def remove_phones(self) -> list[str]:
        """Revoke every phone's token; the ids revoked."""
        with self._write("revoke the phones") as db:
            ids = [row[0] for row in db.execute(sa.select(phones.c.id))]
            db.execute(phones.delete())
        return ids


def _why(exc: BaseException) -> str:
    """The database's reason in words a clinic can act on."""
    text = str(getattr(exc, "orig", None) or exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return f"is locked by another program (waited {BUSY_TIMEOUT_MS / 1000:g} s)"
    if "full" in low or "no space" in low:
        return "cannot grow: the disk is full"
    if "readonly" in low or "read-only" in low:
        return "is read-only"
    if "connection refused" in low or "could not connect" in low or "timeout expired" in low:
        return "cannot be reached (is the database server running?)"
    if "server closed the connection" in low or "terminating connection" in low or "connection is closed" in low:
        return "lost its connection to the database server"
    if "does not exist" in low and "database" in low:
        return "names a database the server does not have"
    if "password authentication failed" in low:
        return "refused the user or password"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"failed: {first}"
