"""Where the programme keeps its tables: SQLite in the workspace (default) or a schema on the PostGIS database.

Both run the same SQL, written with ``?`` placeholders (translated for psycopg), and are upgraded by plain-SQL
migrations ``migrations/<dialect>/NNNN_name.sql`` recorded in a ``schema_migrations`` table, like the store's.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PG_LOCK = 0x70726F67  # "prog": serialises migrations across processes


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Database(Protocol):
    """A place for the programme's tables; ``transaction()`` yields an ``execute(sql, params)`` function."""

    dialect: str

    def transaction(self) -> Any: ...

    def close(self) -> None: ...


def _migrations(dialect: str) -> list[tuple[int, str, str]]:
    folder = resources.files(__package__).joinpath("migrations", dialect)
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found)


def to_datetime(value: Any) -> datetime:
    """A timestamp from either database as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_date(value: Any) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


class SqliteDatabase:
    """``WORKSPACE/programme.sqlite`` (WAL; one connection per thread)."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        with self.transaction() as execute:
            execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied TEXT NOT NULL)")
            done = {r[0] for r in execute("SELECT version FROM schema_migrations").fetchall()}
            for version, name, text in _migrations(self.dialect):
                if version not in done:
                    for statement in _statements(text):
                        execute(statement)
                    execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                            (version, name, datetime.now(UTC).isoformat()))

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield lambda sql, params=(): db.execute(sql, _sqlite_params(params))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _statements(text: str) -> list[str]:
    """The statements of a migration file (no semicolons inside comments or strings in ours)."""
    lines = [line.split("--", 1)[0] for line in text.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _sqlite_params(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(v.isoformat() if isinstance(v, (datetime, date)) else v for v in params)


class PostgresDatabase:
    """The ``programme`` schema on the service's PostgreSQL/PostGIS database."""

    dialect = "postgres"

    def __init__(self, url: str, pool_size: int = 2) -> None:
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True,
                                    kwargs={"options": "-c TimeZone=UTC"})
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK,))
            conn.execute("CREATE SCHEMA IF NOT EXISTS programme")
            conn.execute("CREATE TABLE IF NOT EXISTS programme.schema_migrations (version integer PRIMARY KEY, "
                         "name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())")
            done = {r[0] for r in conn.execute("SELECT version FROM programme.schema_migrations").fetchall()}
            for version, name, text in _migrations(self.dialect):
                if version not in done:
                    conn.execute(text.encode())
                    conn.execute("INSERT INTO programme.schema_migrations (version, name) VALUES (%s, %s)",
                                 (version, name))

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL search_path TO programme, public")
            yield lambda sql, params=(): conn.execute(sql.replace("?", "%s").encode(), tuple(params))

    def close(self) -> None:
        self._pool.close()


def open_database(store: Any) -> Database:
    """The programme's database beside ``store``: SQLite in a GeoPackage workspace, a schema on PostGIS."""
    url = getattr(store, "url", None)
    if isinstance(url, str) and url.startswith(("postgresql:", "postgres:")):
        return PostgresDatabase(url)
    workspace = getattr(store, "workspace", None)
    if workspace is None:
        raise TypeError(f"cannot keep programme tables beside a {type(store).__name__}")
    return SqliteDatabase(Path(workspace) / "programme.sqlite")
