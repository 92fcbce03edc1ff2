"""The batching job store: a batch is written in one transaction and nothing in it is lost."""

from __future__ import annotations

import pickle
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, event
from sqlalchemy.exc import OperationalError

from ambience.infra.jobstore import BatchingJobStore

pytestmark = pytest.mark.unit


def noop(**kwargs):
    pass


@pytest.fixture
def setup(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    store = BatchingJobStore(engine=engine)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=UTC)
    scheduler.start(paused=True)
    yield scheduler, store, commits, tmp_path
    scheduler.shutdown(wait=False)


def add(scheduler, job_id: str, hours: int, **kwargs):
    when = datetime.now(UTC) + timedelta(hours=hours)
    scheduler.add_job(noop, "date", run_date=when, id=job_id, kwargs=kwargs, replace_existing=True)


def test_a_batch_is_one_transaction_and_everything_in_it_is_stored(setup):
    scheduler, store, commits, tmp_path = setup
    add(scheduler, "kept", 1, n=0)
    add(scheduler, "replaced", 2, n=0)
    before = len(commits)
    with store.batch():
        for i in range(300):
            add(scheduler, f"job{i}", 3 + i, n=i)
        add(scheduler, "replaced", 5, n=1)  # a stored job, replaced
        add(scheduler, "gone", 6)
        scheduler.remove_job("gone")  # added and removed within the batch
        assert scheduler.get_job("job7").kwargs == {"n": 7}  # seen before it is written
    assert len(commits) - before == 1

    # what a restarted daemon finds
    fresh = BatchingJobStore(engine=create_engine(f"sqlite:///{tmp_path / 'jobs.db'}"))
    jobs = {job.id: job for job in fresh.get_all_jobs()}
    assert len(jobs) == 302 and "gone" not in jobs
    assert jobs["replaced"].kwargs == {"n": 1} and jobs["kept"].kwargs == {"n": 0}
    assert jobs["job299"].kwargs == {"n": 299}


def test_reads_inside_a_batch_see_what_is_pending(setup):
    scheduler, store, commits, _ = setup
    with store.batch():
        add(scheduler, "a", 1)
        assert [job.id for job in store.get_all_jobs()] == ["a"]
        add(scheduler, "b", 2)
    assert [job.id for job in store.get_all_jobs()] == ["a", "b"]


def test_outside_a_batch_it_is_the_stock_store(setup):
    scheduler, store, commits, _ = setup
    before = len(commits)
    add(scheduler, "a", 1)
    add(scheduler, "b", 2)
    assert len(commits) - before == 2
    with pytest.raises(JobLookupError):
        store.remove_job("nothing")


def written(tmp_path) -> list[str]:
    """The job ids in the database, as another connection sees them."""
    with sqlite3.connect(tmp_path / "jobs.db") as connection:
        return sorted(row[0] for row in connection.execute("SELECT id FROM apscheduler_jobs"))


def test_removals_are_part_of_the_batch_and_an_exception_writes_nothing(setup):
    scheduler, store, commits, tmp_path = setup
    for job_id in ("a", "b", "c"):
        add(scheduler, job_id, 1)
    with store.batch():
        scheduler.remove_job("a")
        add(scheduler, "d", 2)
        add(scheduler, "b", 3, n=1)  # replaced
        assert scheduler.get_job("a") is None and scheduler.get_job("b").kwargs == {"n": 1}
        assert [job.id for job in store.get_all_jobs()] == ["c", "d", "b"]  # by next run time
        assert store.get_next_run_time() == store.lookup_job("c").next_run_time
        assert [job.id for job in store.get_due_jobs(datetime.now(UTC) + timedelta(hours=2.5))] == ["c", "d"]
        with pytest.raises(JobLookupError):
            scheduler.remove_job("a")  # gone already
        assert written(tmp_path) == ["a", "b", "c"]  # none of it yet, reads included
    assert {job.id: job.kwargs for job in store.get_all_jobs()} == {"b": {"n": 1}, "c": {}, "d": {}}
    with pytest.raises(RuntimeError), store.batch():
        scheduler.remove_job("b")
        add(scheduler, "e", 4)
        raise RuntimeError("a sync that failed half-way")
    assert [job.id for job in store.get_all_jobs()] == ["c", "d", "b"]  # as before the batch


def test_a_batch_whose_commit_fails_leaves_the_store_as_it_was(setup):
    scheduler, store, commits, tmp_path = setup
    add(scheduler, "kept", 1)
    impatient = BatchingJobStore(
        engine=create_engine(f"sqlite:///{tmp_path / 'jobs.db'}", connect_args={"timeout": 0.1})
    )
    other_scheduler = BackgroundScheduler(jobstores={"default": impatient}, timezone=UTC)
    other_scheduler.start(paused=True)
    other = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database longer than the busy timeout
    try:
        with pytest.raises(OperationalError, match="database is locked"), impatient.batch():
            add(other_scheduler, "fresh", 2)
            other_scheduler.remove_job("kept")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert written(tmp_path) == ["kept"]
    add(other_scheduler, "later", 3)  # outside a batch again: written at once
    assert written(tmp_path) == ["kept", "later"]
    other_scheduler.shutdown(wait=False)


def test_a_booking_stored_under_the_old_module_path_still_finds_its_function(setup):
    """Bookings stored before the package was laid out in layers name ``ambience.bookings:fire``."""
    scheduler, store, _, tmp_path = setup
    add(scheduler, "old", 1, n=1)
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        (state,) = db.execute("SELECT job_state FROM apscheduler_jobs WHERE id = 'old'").fetchone()
        job = pickle.loads(state)
        job["func"] = "ambience.bookings:fire"
        db.execute("UPDATE apscheduler_jobs SET job_state = ? WHERE id = 'old'", (pickle.dumps(job),))
    assert store.lookup_job("old").func_ref == "ambience.app.scheduler:fire"
