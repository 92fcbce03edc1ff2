"""A private PostgreSQL for tests: Debian's server binaries, a cluster in a temporary folder, a free port.

``Postgres`` runs ``initdb`` into its own folder (trust authentication, loopback only, ``fsync`` off:
the data is thrown away) and starts ``postgres`` on a free port; :meth:`Postgres.database` creates an
empty database and returns its SQLAlchemy URL (``postgresql+psycopg://…``), so every test gets its own.

PostgreSQL refuses to run as root: run as root, the cluster belongs to the user ``nobody`` and the server
is started as that user (``setpriv``), as Debian's own ``pg_ctlcluster`` starts it as ``postgres``.
``stop()`` / ``kill()`` and a later ``start()`` reuse the port and the data, so a test can take the
server away and bring it back.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ambience.testing.mosquitto import HOST, free_port

USER = "ambience"


def find_bin(name: str) -> str | None:
    """``name`` (initdb, postgres) from Debian's newest ``/usr/lib/postgresql/<version>/bin``, else PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    return shutil.which(name)


def available() -> bool:
    return find_bin("initdb") is not None and find_bin("postgres") is not None


class Postgres:
    def __init__(self) -> None:
        initdb, server = find_bin("initdb"), find_bin("postgres")
        if initdb is None or server is None:
            raise RuntimeError("PostgreSQL's server is not installed: sudo apt-get install postgresql")
        self.server = server
        self.folder = Path(tempfile.mkdtemp(prefix="ambience-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._count = 0
        self._as: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.folder, nobody.pw_uid, nobody.pw_gid)
            self._as = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        subprocess.run(
            [*self._as, initdb, "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.folder,
        )
        self.start()

    @property
    def url(self) -> str:
        """The server's own ``postgres`` database."""
        return self.url_of("postgres")

    def url_of(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@{HOST}:{self.port}/{database}"

    def start(self, timeout: float = 30.0) -> None:
        options = [
            "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={self.folder}",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ]  # fmt: skip
        log = open(self.folder / "postgres.log", "ab")  # noqa: SIM115 - the server keeps it
        self.process = subprocess.Popen(
            [*self._as, self.server, "-D", str(self.data), "-p", str(self.port), *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
        )
        log.close()
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(f"host={HOST} port={self.port} user={USER} dbname=postgres", connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not start: {self.log()[-2000:]}") from None
                time.sleep(0.05)

    def database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        self._count += 1
        name = f"t{self._count}"
        with psycopg.connect(f"host={HOST} port={self.port} user={USER} dbname=postgres", autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {name}")
            db.execute(f"CREATE DATABASE {name}")
        return self.url_of(name)

    def log(self) -> str:
        try:
            return (self.folder / "postgres.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """A fast shutdown (SIGINT): connections are closed, the data kept."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def dump(url: str) -> str:
    """Every row of every table of the database at ``url``, as text (a test greps it for what must not be there)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        lines = []
        with engine.connect() as db:
            for table in meta.sorted_tables:
                for row in db.execute(sa.select(table)):
                    lines.append(f"{table.name} {tuple(row)!r}")
        return "\n".join(lines)
    finally:
        engine.dispose()


def store_dumps(folder: Path) -> list[str]:
    """What the store holds: each SQLite file in ``folder`` dumped, and the suite's PostgreSQL store if any."""
    import sqlite3

    from ambience.testing.env import STORE_URL

    dumps = []
    for path in sorted(folder.glob("*.db")):
        with sqlite3.connect(path) as db:
            dumps.append("\n".join(db.iterdump()))
    if os.environ.get(STORE_URL):
        dumps.append(dump(os.environ[STORE_URL]))
    return dumps
