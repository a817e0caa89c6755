"""Current layer versions of the PostGIS catalog kept in memory, told of changes by PostgreSQL LISTEN/NOTIFY.

A trigger on ``geo_catalog.layers`` (migration ``0003_version_notify``) sends a notification on channel
``CHANNEL`` in every transaction that changes the table; PostgreSQL delivers it when that transaction commits
(a publish, a rollback, a removal or a restore, by any process). One listener thread per process keeps a
connection that LISTENs and re-reads ``{layer id: current version}`` on every notification, and at least
every ``RECHECK_SECONDS`` when nothing arrives.

Bound: a map is used only while the query that produced it *started* at most ``MAX_AGE_SECONDS`` ago, and
only if it started after this process's own last catalog write (``VersionWatch.changed``). So an answer never
misses a commit older than ``MAX_AGE_SECONDS`` (1 s), whatever happens to the listener, and a process always
sees its own writes at once; with the listener up, other processes' commits are seen after the notification
and one query (milliseconds). When the map is too old (listener dropped, reconnecting, or starved of CPU)
``get`` returns None and the store reads the versions from the database, as it did on every request before.

``VersionGate`` is that read on the event loop: concurrent requests share one query.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import AsyncConnection

from layers.migrations import CATALOG_SCHEMA

LOG = logging.getLogger(__name__)
CHANNEL = "geo_catalog_versions"
MAX_AGE_SECONDS = 1.0  # the most a version map may lag behind a commit (see module docstring)
RECHECK_SECONDS = 0.4  # re-read at least this often without notifications (keeps the map under its age)
_POLL_SECONDS = 0.1  # how long one wait for notifications blocks (how soon the thread sees ``close``)
VERSIONS_SQL = f"SELECT id, current_version FROM {CATALOG_SCHEMA}.layers WHERE removed IS NULL"


class VersionWatch:
    """``{layer id: current version}`` of one database, kept fresh by a listener thread (started on first use)."""

    def __init__(self, url: str, clock: Callable[[], float] = time.monotonic, max_age: float = MAX_AGE_SECONDS,
                 recheck: float = RECHECK_SECONDS) -> None:
        self.url = url
        self.clock = clock
        self.max_age = max_age
        self.recheck = recheck
        self._state: tuple[float, dict[str, int]] | None = None  # (when its query started, versions)
        self._written = float("-inf")  # when this process last changed the catalog (``changed``)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stop = threading.Event()
        self._start_lock = threading.Lock()

    def get(self) -> dict[str, int] | None:
        """The versions, or None when the map is missing or too old to be trusted (then ask the database)."""
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            self._start()
            return None
        state = self._state
        if state is None:
            return None
        started, versions = state
        if started <= self._written or self.clock() - started > self.max_age:
            return None
        return versions

    def changed(self) -> None:
        """This process has just committed a catalog change: maps read before now are not used any more."""
        self._written = self.clock()

    def close(self) -> None:
        """Stop the listener (its connection closes within ``_POLL_SECONDS``)."""
        self._stop.set()
        self._state = None

    def _start(self) -> None:
        with self._start_lock:
            if self._stop.is_set():
                return
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid, self._state = os.getpid(), None  # after a fork, the parent's map and thread are not ours
            self._thread = threading.Thread(target=self._run, name="pg-version-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        pause = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, application_name="geo-service versions",
                                     connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")  # before the first read: no commit falls in between
                    pause = 0.1
                    self._listen(conn)
            except psycopg.Error as exc:
                self._state = None
                LOG.warning("version listener lost its connection (%s); reconnecting in %.1f s", exc, pause)
            if self._stop.wait(pause):
                break
            pause = min(pause * 2, 5.0)
        self._state = None

    def _listen(self, conn: psycopg.Connection) -> None:
        while not self._stop.is_set():
            started = self.clock()
            versions = dict(conn.execute(VERSIONS_SQL).fetchall())
            self._state = (started, versions)
            while not self._stop.is_set() and self.clock() - started < self.recheck:
                if any(True for _ in conn.notifies(timeout=_POLL_SECONDS, stop_after=1)):
                    break  # something committed: read again now


class VersionGate:
    """Current layer versions for many concurrent requests from few queries, on one event loop.

    A caller that arrives while no query is running starts one; a caller that arrives while a query is
    running waits for the *next* one, started as soon as the running one ends. So every answer comes from
    a query that began after its caller asked (a publish committed before the request is always seen),
    and under load one round trip answers every request that arrived during the previous one.
    """

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.loop = loop
        self._conn: AsyncConnection | None = None
        self._running = False
        self._next: asyncio.Future[dict[str, int]] | None = None

    async def get(self) -> dict[str, int]:
        if self._running:
            if self._next is None:
                self._next = self.loop.create_future()
            future = self._next
        else:
            future = self.loop.create_future()
            self._start(future)
        return await asyncio.shield(future)

    def _start(self, future: asyncio.Future[dict[str, int]]) -> None:
        self._running = True
        self.loop.create_task(self._query(future))

    async def _query(self, future: asyncio.Future[dict[str, int]]) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await AsyncConnection.connect(self.url, autocommit=True, options="-c TimeZone=UTC",
                                                           application_name="geo-service")
            cursor = await self._conn.execute(VERSIONS_SQL)
            result = dict(await cursor.fetchall())
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            if self._conn is not None and self._conn.broken:
                self._conn = None
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)
        finally:
            self._running = False
            waiting, self._next = self._next, None
            if waiting is not None:
                self._start(waiting)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            conn.pgconn.finish()  # synchronous: the loop may be gone already
