"""APScheduler's SQLAlchemy job store, with batches written in one transaction.

Each ``add_job`` of the stock store is its own transaction: pickling, an SQLAlchemy statement and
a commit, ~0.3 ms a job — 10,000 bookings from a calendar import took 3.2–4.8 s (bench P5).
Inside :meth:`BatchingJobStore.batch` new, changed and removed jobs are kept and written together at
the end (one DELETE of the ids, one multi-row INSERT, one commit); outside a batch it is the stock
store. So a batch lands whole or not at all: a store that cannot be written (a full disk, a lock held
too long) fails the one commit and leaves the store as it was, and so does an exception inside the
batch. Reads inside a batch see what is pending, without writing it.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.util import datetime_to_utc_timestamp

RENAMED = {"ambience.bookings:fire": "ambience.app.scheduler:fire"}
"""Job functions stored by an older ambience under another module path, and where they live now."""


class BatchingJobStore(SQLAlchemyJobStore):
    def _reconstitute_job(self, job_state: bytes) -> Any:
        """A job stored before the package was laid out in layers still finds its function."""
        state = pickle.loads(job_state)
        if state.get("func") in RENAMED:
            state["func"] = RENAMED[state["func"]]
            job_state = pickle.dumps(state, self.pickle_protocol)
        return super()._reconstitute_job(job_state)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Any] | None = None
        self._removed: set[str] = set()
        """Stored jobs removed inside the batch."""
        self._depth = 0

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Jobs added, changed or removed inside are written at the end, in one transaction.

        Within a batch adding a job whose id is stored replaces it (the scheduler is always asked
        with ``replace_existing``). An exception inside the outermost batch, or from its commit,
        leaves the store as it was before the batch.
        """
        if self._depth == 0:
            self._pending, self._removed = {}, set()
        self._depth += 1
        ok = False
        try:
            yield
            ok = True
        finally:
            self._depth -= 1
            if self._depth == 0:
                try:
                    if ok:
                        self.flush()
                finally:
                    self._pending, self._removed = None, set()

    def flush(self) -> None:
        """Write what the batch holds, in one transaction; on an error nothing is written and it raises."""
        pending = self._pending
        if not pending and not self._removed:
            return
        pending = pending or {}
        rows = [
            {
                "id": job.id,
                "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
                "job_state": pickle.dumps(job.__getstate__(), self.pickle_protocol),
            }
            for job in pending.values()
        ]
        ids = list(pending) + sorted(self._removed)
        with self.engine.begin() as connection:
            for i in range(0, len(ids), 500):  # SQLite allows some hundreds of bound parameters per IN
                connection.execute(self.jobs_t.delete().where(self.jobs_t.c.id.in_(ids[i : i + 500])))
            if rows:
                connection.execute(self.jobs_t.insert(), rows)
        pending.clear()
        self._removed.clear()

    def _stored(self, job_id: str) -> bool:
        return job_id not in self._removed and super().lookup_job(job_id) is not None

    def _merged(self, stored: list[Any], due: Any = None) -> list[Any]:
        """``stored`` as the batch would leave it (``due``: only the pending jobs due by then)."""
        if self._pending is None:
            return stored
        hidden = self._removed | set(self._pending)
        jobs = [job for job in stored if job.id not in hidden]
        for job in self._pending.values():
            if due is None or (job.next_run_time is not None and job.next_run_time <= due):
                jobs.append(job)
        jobs.sort(key=lambda job: (job.next_run_time is None, datetime_to_utc_timestamp(job.next_run_time) or 0))
        return jobs

    # ---- the store's interface -----------------------------------------------------------------

    def add_job(self, job: Any) -> None:
        if self._pending is None:
            super().add_job(job)
        else:
            self._pending[job.id] = job

    def update_job(self, job: Any) -> None:
        if self._pending is None:
            super().update_job(job)
        elif job.id in self._pending or self._stored(job.id):
            self._pending[job.id] = job
        else:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        if self._pending is None:
            super().remove_job(job_id)
            return
        if self._pending.pop(job_id, None) is None and not self._stored(job_id):
            raise JobLookupError(job_id)
        self._removed.add(job_id)  # a stored job of that id goes too (deleting none is harmless)

    def lookup_job(self, job_id: str) -> Any:
        if self._pending is not None:
            if job_id in self._pending:
                return self._pending[job_id]
            if job_id in self._removed:
                return None
        return super().lookup_job(job_id)

    def get_due_jobs(self, now: Any) -> list[Any]:
        return self._merged(super().get_due_jobs(now), due=now)

    def get_next_run_time(self) -> Any:
        if self._pending is None:
            return super().get_next_run_time()
        times = [job.next_run_time for job in self.get_all_jobs() if job.next_run_time is not None]
        return min(times, default=None)

    def get_all_jobs(self) -> list[Any]:
        return self._merged(super().get_all_jobs())

    def remove_all_jobs(self) -> None:
        if self._pending is not None:
            self._pending.clear()
        super().remove_all_jobs()
