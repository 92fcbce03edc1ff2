"""What the store keeps, as plain values: a running session, an owed after state, a paired phone.

Apart from :mod:`ambience.infra.store` so that the rooms, the controller and the command line can use
them without importing SQLAlchemy (a CLI command that never opens the store starts ~0.2 s sooner).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ambience.core.session import Pause, SessionFacts
from ambience.model.client import Comfort

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
