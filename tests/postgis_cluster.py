"""A throwaway PostgreSQL + PostGIS cluster for the tests: ``initdb`` in a temp folder, a free loopback port.

The server runs as an unprivileged user (PostgreSQL refuses to run as root): the current user when it is
not root, else ``postgres`` (created by Debian's ``postgresql-15`` package) through ``runuser``. Durability
is switched off (``fsync=off`` …): the cluster lives for one test session. ``GEO_SERVICE_TEST_DATABASE_URL``
points the tests at an existing server instead (a superuser URL, e.g. a ``postgis/postgis`` container).

``why_unavailable()`` says, in one line, what is missing; the fixtures skip with it locally and fail with
it when ``CI=true`` (CI must run the PostGIS tests, not skip them).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

BIN_CANDIDATES = [Path(f"/usr/lib/postgresql/{v}/bin") for v in (17, 16, 15, 14)]
TEMPLATE = "geo_template"
ENV_URL = "GEO_SERVICE_TEST_DATABASE_URL"


def server_bin() -> Path | None:
    """The folder holding ``initdb``/``pg_ctl`` (a Debian layout first, then ``PATH``)."""
    for folder in BIN_CANDIDATES:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _sharedir(bindir: Path) -> Path | None:
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            return Path(out.stdout.strip())
    guess = Path("/usr/share/postgresql") / bindir.parent.name
    return guess if guess.is_dir() else None


def why_unavailable() -> str | None:
    """None when a throwaway PostGIS cluster can be started here, else the reason (one line)."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return "psycopg 3 with psycopg_pool is not installed (pip install -e '.[postgis]')"
    if os.environ.get(ENV_URL):
        return None
    bindir = server_bin()
    if bindir is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql-15-postgis-3"
    share = _sharedir(bindir)
    if share is None or not (share / "extension" / "postgis.control").is_file():
        return f"PostGIS is not installed for the PostgreSQL in {bindir}; apt-get install postgresql-15-postgis-3"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the throwaway server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser(1) is missing"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One PostgreSQL server with a template database that has PostGIS; ``new_database()`` clones it.

    ``settings`` are server settings (``shared_buffers="512MB"``) on top of the no-durability defaults.
    """

    def __init__(self, **settings: str) -> None:
        self.settings = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
                         "max_connections": "200", "shared_buffers": "128MB", **settings}
        self.folder: Path | None = None
        self.admin_url = ""
        self._pg_ctl: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Cluster:
        external = os.environ.get(ENV_URL)
        if external:
            self.admin_url = external
        else:
            self._start_local()
        self._make_template()
        return self

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", "postgres", "--", *argv]

    def _start_local(self) -> None:
        bindir = server_bin()
        assert bindir is not None
        self.folder = Path(tempfile.mkdtemp(prefix="geo-pgtest-"))
        data, socket_dir = self.folder / "data", self.folder / "socket"
        socket_dir.mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in (self.folder, socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        port = free_port()
        run = {"capture_output": True, "text": True}
        subprocess.run(self._as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                                             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]), check=True, **run)
        options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 " + " ".join(
            f"-c {k}={v}" for k, v in self.settings.items())
        self._pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log")]
        try:
            subprocess.run(self._as_server_user([*self._pg_ctl, "-o", options, "-w", "-t", "60", "start"]), check=True, **run)
        except subprocess.CalledProcessError as exc:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"throwaway PostgreSQL did not start: {exc.stderr}\n{log}") from exc
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _make_template(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(self.url(TEMPLATE), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def stop(self) -> None:
        if self._pg_ctl:
            subprocess.run(self._as_server_user([*self._pg_ctl, "-m", "immediate", "stop"]),
                           capture_output=True, check=False)
            self._pg_ctl = []
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # -- databases -------------------------------------------------------------------------------
    def url(self, database: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh database with PostGIS (and nothing else); returns its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        for attempt in range(20):  # the template must have no other session while it is copied
            try:
                with psycopg.connect(self.admin_url, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
                break
            except psycopg.errors.ObjectInUse:
                time.sleep(0.05 * (attempt + 1))
        return self.url(name)
