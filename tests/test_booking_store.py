"""Bookings on a store that cannot be written: a full disk (a small tmpfs) and a database locked by another
connection. Issue 12 (7): ``book`` answered 500 but the booking was listed, in memory only. Now a change is
stored before it is listed, or refused with a StoreError saying why, with nothing changed: a booking, a
cancel, a move and a batch."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_bookings import make_config

from ambience.app.commands import FireBooking
from ambience.daemon import Daemon
from ambience.errors import StoreError


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs, unmounted afterwards whatever happens (skipped where it cannot be mounted)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)  # files still open: detach it now
        assert str(where) not in Path("/proc/mounts").read_text()


def fill(disk: Path) -> Path:
    """Use up every free block of ``disk``."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1):
            while True:
                try:
                    if os.write(fd, bytes(size)) < size:
                        break
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


def with_service(tmp_path: Path, db: Path, scenario) -> None:
    """Run ``scenario(service)`` with a booking service on ``db``, started (its scheduler needs a loop)."""
    config = make_config(tmp_path, bookings={"timezone": "Europe/London", "store_url": f"sqlite:///{db}"})

    async def main() -> None:
        service = Daemon(config, players=False).bookings
        service.start()
        try:
            scenario(service)
        finally:
            service.stop()

    asyncio.run(main())


def soon(hours: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=hours)


def stored(db: Path) -> set[str]:
    """The booking ids a restarted daemon would find."""
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM apscheduler_jobs")}


def listed(service) -> set[str]:
    return {b.id for b in service.bookings()}


def running(service, monkeypatch):
    """A booking whose session runs in ``studio`` (a stand-in room, as the service reads rooms)."""
    booking = service.book("studio", "hour", soon(20), lead=0)
    service.scheduler.remove_job(booking.id)  # the job has fired
    service._drop(booking.id)
    room = SimpleNamespace(active=True, session_booking=booking.kwargs())
    monkeypatch.setitem(service.rooms, "studio", room)
    return booking


def test_on_a_full_disk_nothing_is_listed_that_is_not_stored(small_disk, tmp_path, monkeypatch):
    db = small_disk / "bookings.db"

    def scenario(service) -> None:
        kept = service.book("studio", "hour", soon(0))
        moved = service.book("room2", "hour", soon(0))
        session = running(service, monkeypatch)
        filler = fill(small_disk)
        before = listed(service)
        assert before == {kept.id, moved.id, session.id} and stored(db) == {kept.id, moved.id}
        full = rf"the booking store \({db}\) could not be written: database or disk is full; nothing was changed"
        with pytest.raises(StoreError, match=full):
            service.book("studio", "hour", soon(4))
        with pytest.raises(StoreError, match=full):
            service.cancel(kept.id)
        with pytest.raises(StoreError, match=full):
            service.reschedule(moved.id, room="room2", preset="hour", start=soon(6), duration=None)
        assert service.get(moved.id).start == moved.start
        with pytest.raises(StoreError, match=full):
            with service.batch():  # a calendar sync: all of it or nothing
                service.book("studio", "hour", soon(8))
                service.cancel(kept.id)
                service.cancel(session.id)
        assert listed(service) == before and stored(db) == {kept.id, moved.id}
        assert service.take_stops() == []  # no session is stopped for a cancel that was not stored
        filler.unlink()  # room again: the same changes land
        made = service.book("studio", "hour", soon(4))
        service.cancel(kept.id)
        service.cancel(session.id)
        assert (
            stored(db) == {moved.id, made.id} == listed(service) - {session.id}
        )  # it runs till the controller stops it
        assert service.take_stops() == [(kept.id, "studio"), (session.id, "studio")]  # for the controller

    with_service(tmp_path, db, scenario)


def test_a_store_locked_by_another_connection_refuses_the_change(tmp_path):
    db = tmp_path / "bookings.db"

    def scenario(service) -> None:
        kept = service.book("studio", "hour", soon(0))
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # held for longer than the store's busy timeout
        try:
            with pytest.raises(StoreError, match=r"could not be written: database is locked; nothing was changed"):
                service.book("studio", "hour", soon(4))
            with pytest.raises(StoreError, match=r"database is locked"):
                service.cancel(kept.id)
            assert listed(service) == {kept.id}
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert stored(db) == {kept.id}
        made = service.book("studio", "hour", soon(4))
        assert stored(db) == {kept.id, made.id} == listed(service)

    with_service(tmp_path, db, scenario)


def test_a_booking_due_while_the_session_store_cannot_be_written_waits_and_is_kept(tmp_path):
    config = make_config(tmp_path, bookings={"timezone": "Europe/London"})

    async def main() -> None:
        daemon = Daemon(config, players=False)
        service = daemon.bookings
        service.start()
        try:
            booking = service.book("studio", "hour", datetime.now(UTC) + timedelta(minutes=5), lead=600)

            def full(*args, **kwargs):
                raise StoreError("cannot start the session: the store ambience.db cannot grow: the disk is full")

            daemon.rooms["studio"].start = full  # type: ignore[method-assign]
            daemon.controller.execute(FireBooking(booking=booking.kwargs()))
            kept = service.get(booking.id)
            assert kept.waiting is not None and "the disk is full" in kept.waiting
            assert service.scheduler.get_job(booking.id) is not None  # tried again later
        finally:
            service.stop()

    asyncio.run(main())
