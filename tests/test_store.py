"""The store's transactions (ambience.store): all or nothing, and a clear StoreError when it cannot write."""

from __future__ import annotations

import sqlite3

import pytest

from ambience.core.session import SessionFacts
from ambience.errors import StoreError
from ambience.infra.store import SessionRecord, Store

pytestmark = pytest.mark.unit


def record(room="studio", sid="s1") -> SessionRecord:
    return SessionRecord(
        sid, room, "tiny", SessionFacts(started_at=100.0, duration=8.0), None, {"trv": {"target": 19.0}}
    )


def test_ending_a_session_writes_history_and_owed_and_removes_it_at_once(tmp_path):
    store = Store(tmp_path / "a.db")
    store.start_session(record())
    store.end_session(record(), 108.0, "completed", {"trv": {"target": 19.0, "mode": "heat"}}, 108.0)
    assert store.sessions() == []
    assert [(o.device, o.state, o.session) for o in store.owed()] == [("trv", {"target": 19.0, "mode": "heat"}, "s1")]
    assert [h["outcome"] for h in store.history()] == ["completed"]


def test_a_confirmation_settles_only_the_ending_that_owes_it(tmp_path):
    store = Store(tmp_path / "a.db")
    store.end_session(record(sid="s1"), 108.0, "completed", {"trv": {"target": 19.0}}, 108.0)
    store.end_session(record(sid="s2"), 208.0, "completed", {"trv": {"target": 19.0}}, 208.0)  # a later ending
    store.settle_owed("studio", [("trv", "s1")])  # a late confirmation of the first
    assert [o.session for o in store.owed()] == ["s2"]
    store.settle_owed("studio", [("trv", "s2")])
    assert store.owed() == []


def test_a_locked_database_is_a_store_error_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr("ambience.infra.store.BUSY_TIMEOUT_MS", 100)
    store = Store(tmp_path / "a.db")
    store.start_session(record())
    other = sqlite3.connect(str(tmp_path / "a.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(
            StoreError, match="cannot record the end of the session: the store a.db is locked by another program"
        ):
            store.end_session(record(), 108.0, "completed", {"trv": {"target": 19.0}}, 108.0)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [r.id for r in store.sessions()] == ["s1"] and store.owed() == [] and store.history() == []


def test_a_replacing_start_records_the_replaced_session_in_the_same_transaction(tmp_path):
    store = Store(tmp_path / "a.db")
    store.start_session(record(sid="s1"))
    store.start_session(record(sid="s2"), replaced=(record(sid="s1"), 104.0))
    assert [r.id for r in store.sessions()] == ["s2"]
    assert [(h["session"], h["outcome"]) for h in store.history()] == [("s1", "replaced")]


def test_last_presets_is_each_clients_latest_session_that_ran(tmp_path):
    """The phone offers a client's last preset first: the latest started session, not one missed or cancelled."""
    store = Store(tmp_path / "a.db")

    def ran(sid: str, client: str | None, preset: str, at: float, outcome: str = "completed") -> None:
        facts = SessionFacts(started_at=at, duration=60.0)
        store.record_history(SessionRecord(sid, "studio", preset, facts, client), at + 60, outcome)

    ran("s1", "A. Smith", "swedish-relaxation-60", 100.0)
    ran("s3", "A. Smith", "deep-tissue-60", 300.0, "stopped")
    ran("s2", "A. Smith", "express-30", 200.0)  # written later, started earlier
    ran("s4", "A. Smith", "hot-stone-90", 400.0, "missed")
    ran("s5", "B. Jones", "express-30", 500.0, "cancelled")
    ran("s6", None, "express-30", 600.0)
    assert store.last_presets() == {"A. Smith": "deep-tissue-60"}
