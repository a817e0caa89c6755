"""Schema migrations of the PostGIS store: plain SQL files ``NNNN_name.sql`` applied in order.

``migrate(conn)`` applies the files not yet recorded in ``geo_catalog.schema_migrations``, all in one
transaction under an advisory lock, so several service processes starting at once upgrade the database
exactly once. A database migrated by a newer release (a version this code does not know) is refused
rather than used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from layers.errors import LayerError

if TYPE_CHECKING:
    import psycopg

CATALOG_SCHEMA = "geo_catalog"
_LOCK = 0x67656F73  # "geos": the advisory lock key that serialises migrations
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaTooNew(LayerError):
    """The database was migrated by a newer release of the service than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with this release, in version order."""
    found = []
    for entry in resources.files(__name__).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def applied(conn: psycopg.Connection) -> list[int]:
    """Versions recorded as applied (empty for a database never migrated)."""
    exists = conn.execute("SELECT to_regclass(%s)", (f"{CATALOG_SCHEMA}.schema_migrations",)).fetchone()
    if exists is None or exists[0] is None:
        return []
    return [r[0] for r in conn.execute(f"SELECT version FROM {CATALOG_SCHEMA}.schema_migrations ORDER BY version")]


def migrate(conn: psycopg.Connection) -> list[int]:
    """Bring the schema up to date; returns the versions applied now (empty when it already was)."""
    migrations = available()
    known = {m.version for m in migrations}
    if set(applied(conn)) >= known:  # the common case: no transaction, no lock
        _refuse_newer(conn, known)
        return []
    done: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG_SCHEMA}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {CATALOG_SCHEMA}.schema_migrations ("
                     "version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())")
        already = set(applied(conn))
        for migration in migrations:
            if migration.version in already:
                continue
            conn.execute(migration.sql.encode())  # several statements, no parameters
            conn.execute(f"INSERT INTO {CATALOG_SCHEMA}.schema_migrations (version, name) VALUES (%s, %s)",
                         (migration.version, migration.name))
            done.append(migration.version)
    _refuse_newer(conn, known)
    return done


def _refuse_newer(conn: psycopg.Connection, known: set[int]) -> None:
    newer = sorted(set(applied(conn)) - known)
    if newer:
        raise SchemaTooNew(f"the database schema is at migration {newer[-1]}, newer than this release knows "
                           f"({max(known)}); upgrade geo-service before pointing it at this database")
