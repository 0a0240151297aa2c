"""A throwaway PostgreSQL server for the tests: initdb in a temporary directory, TCP on
127.0.0.1 only (no Unix socket), a free port, stopped and removed at the end.

initdb and postgres refuse to run as root, so under root (CI containers) both run as the
`postgres` user (runuser) on a directory owned by it. The binaries are found on PATH or in
Debian's /usr/lib/postgresql/<version>/bin; `.ci/run` installs them when absent.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NO_BINARIES = (
    "no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; "
    "install Debian's postgresql (.ci/run does) to run the PostgreSQL tests"
)


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl, newest Debian version first, else PATH."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version, reverse=True)
    return Path(versions[0]).parent if versions else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    port: int
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL (each test gets its own)."""
        import psycopg  # the test extra installs it; imported late so collection never needs it

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self.url(name)


@contextmanager
def running_server(bindir: Path) -> Iterator[PgServer]:
    """Start the server, yield it, stop it (fast shutdown) and remove its directory."""
    as_postgres: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        as_postgres = ["runuser", "-u", "postgres", "--"]
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    pg_ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        _run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--locale=C", "--no-sync"])
        # TCP on loopback only; fsync off: a test server's data need not survive a crash.
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        _run([*pg_ctl, "-o", options, "-l", str(base / "server.log"), "-w", "-t", "60", "start"])
        try:
            yield PgServer(port=port)
        finally:
            _run([*pg_ctl, "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} …: exit {done.returncode}: {done.stderr.strip() or done.stdout}")
