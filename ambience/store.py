"""SQLite persistence in the state directory: running sessions, history and clients.

Boring on purpose: one file, WAL, a row per running session rewritten on every change, so a
daemon killed at any moment restarts from what the last command left. Client rows hold a
label and comfort preferences, nothing else.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .clients import Client, Comfort
from .errors import NotFound
from .session import Pause, SessionFacts

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
"""
OUTCOMES = ("completed", "stopped", "replaced", "recovered", "missed", "cancelled")


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
    """Set once the session has ended: its after state is being applied."""
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
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ---- sessions --------------------------------------------------------------------------

    def save_session(self, record: SessionRecord) -> None:
        self.db.execute("INSERT OR REPLACE INTO sessions (room, data) VALUES (?, ?)", (record.room, record.to_json()))

    def delete_session(self, room: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE room = ?", (room,))

    def sessions(self) -> list[SessionRecord]:
        return [SessionRecord.from_json(row[0]) for row in self.db.execute("SELECT data FROM sessions ORDER BY room")]

    # ---- history ----------------------------------------------------------------------------

    def record_history(self, record: SessionRecord, ended_at: float, outcome: str) -> None:
        assert outcome in OUTCOMES, outcome
        self.db.execute(
            "INSERT INTO history (session, room, preset, client, started_at, ended_at, outcome) VALUES (?,?,?,?,?,?,?)",
            (record.id, record.room, record.preset, record.client, record.facts.started_at, ended_at, outcome),
        )

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

    # ---- cancelled recurring/calendar bookings, so they are not booked again ----------------

    def add_tombstone(self, uid: str, until: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO tombstones (uid, until) VALUES (?, ?)", (uid, until))

    def tombstones(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT uid FROM tombstones")}

    # ---- clients ----------------------------------------------------------------------------

    def add_client(self, client: Client) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO clients (label, comfort) VALUES (?, ?)", (client.label, client.comfort.model_dump_json())
        )

    def remove_client(self, label: str) -> None:
        if self.db.execute("DELETE FROM clients WHERE label = ?", (label,)).rowcount == 0:
            raise NotFound("client", label, [c.label for c in self.clients()])

    def clients(self) -> list[Client]:
        rows = self.db.execute("SELECT label, comfort FROM clients ORDER BY label").fetchall()
        return [Client(label=label, comfort=Comfort.model_validate_json(comfort)) for label, comfort in rows]

    def client(self, label: str) -> Client | None:
        row = self.db.execute("SELECT label, comfort FROM clients WHERE label = ?", (label,)).fetchone()
        return Client(label=row[0], comfort=Comfort.model_validate_json(row[1])) if row else None
