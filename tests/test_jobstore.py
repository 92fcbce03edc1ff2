"""The batching job store: a batch is written in one transaction and nothing in it is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine, event

from ambience.jobstore import BatchingJobStore


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


def test_reads_other_than_a_lookup_write_what_is_pending_first(setup):
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
