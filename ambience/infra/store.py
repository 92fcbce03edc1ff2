"""SQLite persistence in the state directory: running sessions, owed after states, history, clients, phones.

Boring on purpose: one file, WAL, a row per running session rewritten on every change, so a
daemon killed at any moment restarts from what the last command left. Client rows hold a
label and comfort preferences, nothing else. A paired phone's row holds its id, the name it
gave, when it paired and was last seen, and a SHA-256 hash of its device token, never the token.

*Owed* rows are after states a device has not confirmed yet, one per (room, device): written
in the same transaction that ends the session (and removes its row), deleted when the device
confirms, and taken over as "the room as found" by the next session in the same transaction that
stores it. So at every moment either the session row or the owed rows say what the room must go
back to, whatever crashes in between.

Every write is one transaction; a write that fails (a full disk, the database locked by another
process for longer than ``BUSY_TIMEOUT_MS``) raises :class:`~ambience.errors.StoreError` and
leaves the file as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ambience.core.session import Pause, SessionFacts
from ambience.errors import NotFound, StoreError
from ambience.model.client import Client, Comfort

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (room TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL, room TEXT NOT NULL, preset TEXT NOT NULL, client TEXT,
    started_at REAL NOT NULL, ended_at REAL NOT NULL, outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_room ON history (room, started_at);
CREATE TABLE IF NOT EXISTS clients (label TEXT PRIMARY KEY, comfort TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (uid TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS phones (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created REAL NOT NULL, last_seen REAL
);
CREATE TABLE IF NOT EXISTS owed (
    room TEXT NOT NULL, device TEXT NOT NULL, state TEXT NOT NULL, session TEXT NOT NULL, since REAL NOT NULL,
    PRIMARY KEY (room, device)
);
"""
BUSY_TIMEOUT_MS = 2000
"""How long a write waits for a database another process holds, before it fails (the loop waits too)."""
OUTCOMES = ("completed", "stopped", "replaced", "recovered", "missed", "cancelled")


@dataclass(frozen=True)
class Owed:
    """An after state a device has not confirmed yet."""

    room: str
    device: str
    state: dict[str, Any]
    """As :func:`ambience.core.after.to_json` writes it."""
    session: str
    """The id of the session whose ending owes it."""
    since: float


@dataclass(frozen=True)
class Phone:
    """A paired phone: its device token is kept only as a SHA-256 hash (ambience.infra.tokens)."""

    id: str
    name: str
    created: float
    last_seen: float | None = None

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "paired": self.created, "last_seen": self.last_seen}


@dataclass
class SessionRecord:
    """A session as stored: enough to recompute everything after a restart."""

    id: str
    room: str
    preset: str
    facts: SessionFacts
    client: str | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)
    """Each device's state when the session started, for ``after: restore``."""
    outcome: str | None = None
    """Only in rows written by ambience before owed after states existed: the session had ended."""
    booking: dict[str, Any] | None = None
    """The booking that started it (its job kwargs), if any."""
    music_order: list[str] = field(default_factory=list)
    """The fitted playlist (track names), so a restart resumes the same music at the same place."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "room": self.room,
                "preset": self.preset,
                "facts": _facts_json(self.facts),
                "client": self.client,
                "snapshot": self.snapshot,
                "outcome": self.outcome,
                "booking": self.booking,
                "music_order": self.music_order,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SessionRecord:
        data = json.loads(text)
        f = data["facts"]
        facts = SessionFacts(
            started_at=f["started_at"],
            duration=f["duration"],
            extended=f.get("extended", 0.0),
            pauses=tuple(Pause(p["start"], p.get("end")) for p in f.get("pauses", ())),
            lead=f.get("lead", 0.0),
            comfort=Comfort.model_validate(f.get("comfort") or {}),
            stopped_at=f.get("stopped_at"),
            seed=f.get("seed", 0),
            turnover=tuple(f["turnover"]) if f.get("turnover") else None,
        )
        return cls(
            data["id"],
            data["room"],
            data["preset"],
            facts,
            data.get("client"),
            data.get("snapshot") or {},
            data.get("outcome"),
            data.get("booking"),
            data.get("music_order") or [],
        )


def _facts_json(facts: SessionFacts) -> dict:
    out = {k: v for k, v in asdict(facts).items() if k != "comfort"}
    out["comfort"] = facts.comfort.model_dump()
    return out


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"the store {self.path} cannot be opened: {_why(exc)}") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One transaction; any failure rolls it back and raises :class:`StoreError`."""
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {what}: the store {self.path.name} {_why(exc)}") from None
        try:
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot {what}: the store {self.path.name} {_why(exc)}") from None
            raise

    # ---- sessions --------------------------------------------------------------------------

    def save_session(self, record: SessionRecord) -> None:
        with self._write("save the session") as db:
            db.execute("INSERT OR REPLACE INTO sessions (room, data) VALUES (?, ?)", (record.room, record.to_json()))

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
            db.execute("INSERT OR REPLACE INTO sessions (room, data) VALUES (?, ?)", (record.room, record.to_json()))
            db.execute("DELETE FROM owed WHERE room = ?", (record.room,))

    def end_session(
        self,
        record: SessionRecord,
        ended_at: float,
        outcome: str | None,
        owed: Mapping[str, dict[str, Any]],
        since: float,
    ) -> None:
        """The session is over: its history row (``outcome`` None: already written), its owed after
        states, and its row gone — in one transaction, so a crash leaves either the session or what it owes."""
        with self._write("record the end of the session") as db:
            if outcome is not None:
                self._history(db, record, ended_at, outcome)
            db.executemany(
                "INSERT OR REPLACE INTO owed (room, device, state, session, since) VALUES (?,?,?,?,?)",
                [(record.room, dev, json.dumps(state), record.id, since) for dev, state in owed.items()],
            )
            db.execute("DELETE FROM sessions WHERE room = ?", (record.room,))

    def delete_session(self, room: str) -> None:
        with self._write("delete the session") as db:
            db.execute("DELETE FROM sessions WHERE room = ?", (room,))

    def sessions(self) -> list[SessionRecord]:
        return [SessionRecord.from_json(row[0]) for row in self.db.execute("SELECT data FROM sessions ORDER BY room")]

    # ---- owed after states ----------------------------------------------------------------------

    def owed(self) -> list[Owed]:
        rows = self.db.execute("SELECT room, device, state, session, since FROM owed ORDER BY room, device")
        return [Owed(room, device, json.loads(state), session, since) for room, device, state, session, since in rows]

    def settle_owed(self, room: str, devices: list[tuple[str, str]]) -> None:
        """The devices confirmed: ``(device, session)`` pairs; a row owed by a later ending stays."""
        with self._write("record that the after state landed") as db:
            db.executemany(
                "DELETE FROM owed WHERE room = ? AND device = ? AND session = ?",
                [(room, device, session) for device, session in devices],
            )

    # ---- history ----------------------------------------------------------------------------

    def record_history(self, record: SessionRecord, ended_at: float, outcome: str) -> None:
        with self._write("record the history") as db:
            self._history(db, record, ended_at, outcome)

    @staticmethod
    def _history(db: sqlite3.Connection, record: SessionRecord, ended_at: float, outcome: str) -> None:
        assert outcome in OUTCOMES, outcome
        db.execute(
            "INSERT INTO history (session, room, preset, client, started_at, ended_at, outcome) VALUES (?,?,?,?,?,?,?)",
            (record.id, record.room, record.preset, record.client, record.facts.started_at, ended_at, outcome),
        )

    def prune_history(self, before: float) -> int:
        """Forget the sessions that ended before ``before`` (the retention, ``history.keep_days``); how many."""
        with self._write("prune the history") as db:
            return db.execute("DELETE FROM history WHERE ended_at < ?", (before,)).rowcount

    def history(self, room: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT session, room, preset, client, started_at, ended_at, outcome FROM history"
        args: tuple = ()
        if room is not None:
            sql += " WHERE room = ?"
            args = (room,)
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        rows = self.db.execute(sql, args + (limit,)).fetchall()
        keys = ("session", "room", "preset", "client", "started_at", "ended_at", "outcome")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def last_presets(self) -> dict[str, str]:
        """Each client label's preset of its latest session that ran (not ``missed`` or ``cancelled``):
        the phone offers it first when that client is chosen."""
        rows = self.db.execute(
            "SELECT client, preset FROM history WHERE client IS NOT NULL AND outcome NOT IN ('missed', 'cancelled') "
            "ORDER BY started_at, id"
        ).fetchall()
        return {client: preset for client, preset in rows}  # later rows win: the latest session

    # ---- cancelled recurring/calendar bookings, so they are not booked again ----------------

    def add_tombstone(self, uid: str, until: float) -> None:
        with self._write("remember the cancelled booking") as db:
            db.execute("INSERT OR REPLACE INTO tombstones (uid, until) VALUES (?, ?)", (uid, until))

    def tombstones(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT uid FROM tombstones")}

    # ---- clients ----------------------------------------------------------------------------

    def add_client(self, client: Client) -> None:
        with self._write("save the client") as db:
            db.execute(
                "INSERT OR REPLACE INTO clients (label, comfort) VALUES (?, ?)",
                (client.label, client.comfort.model_dump_json()),
            )

    def remove_client(self, label: str) -> None:
        with self._write("remove the client") as db:
            removed = db.execute("DELETE FROM clients WHERE label = ?", (label,)).rowcount
        if removed == 0:
            raise NotFound("client", label, [c.label for c in self.clients()])

    def clients(self) -> list[Client]:
        rows = self.db.execute("SELECT label, comfort FROM clients ORDER BY label").fetchall()
        return [Client(label=label, comfort=Comfort.model_validate_json(comfort)) for label, comfort in rows]

    def client(self, label: str) -> Client | None:
        row = self.db.execute("SELECT label, comfort FROM clients WHERE label = ?", (label,)).fetchone()
        return Client(label=row[0], comfort=Comfort.model_validate_json(row[1])) if row else None

    # ---- paired phones: a hash of each one's device token ----------------------------------

    def add_phone(self, phone: Phone, token_hash: str) -> None:
        with self._write("save the paired phone") as db:
            db.execute(
                "INSERT INTO phones (id, name, token_hash, created, last_seen) VALUES (?, ?, ?, ?, ?)",
                (phone.id, phone.name, token_hash, phone.created, phone.last_seen),
            )

    def phone_with(self, token_hash: str) -> Phone | None:
        """The phone whose device token has this hash, if it is paired (not revoked)."""
        row = self.db.execute(
            "SELECT id, name, created, last_seen FROM phones WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return Phone(*row) if row else None

    def phone_seen(self, phone_id: str, when: float) -> None:
        with self._write("note when the phone was last seen") as db:
            db.execute("UPDATE phones SET last_seen = ? WHERE id = ?", (when, phone_id))

    def phones(self) -> list[Phone]:
        rows = self.db.execute("SELECT id, name, created, last_seen FROM phones ORDER BY created, id").fetchall()
        return [Phone(*row) for row in rows]

    def remove_phone(self, phone_id: str) -> None:
        """Revoke one phone's token; :class:`NotFound` (naming the paired ones) if there is none of this id."""
        with self._write("revoke the phone") as db:
            removed = db.execute("DELETE FROM phones WHERE id = ?", (phone_id,)).rowcount
        if removed == 0:
            raise NotFound("paired phone", phone_id, [p.id for p in self.phones()])

    def remove_phones(self) -> list[str]:
        """Revoke every phone's token; the ids revoked."""
        with self._write("revoke the phones") as db:
            ids = [row[0] for row in db.execute("SELECT id FROM phones")]
            db.execute("DELETE FROM phones")
        return ids


def _why(exc: sqlite3.Error) -> str:
    """sqlite's reason in words a clinic can act on."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"is locked by another program (waited {BUSY_TIMEOUT_MS / 1000:g} s)"
    if "full" in text:
        return "cannot grow: the disk is full"
    if "readonly" in text or "read-only" in text:
        return "is read-only"
    return f"failed: {text}"
