"""Fixtures of the programme tests: an enquiry register on SQLite and on PostgreSQL (the throwaway cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from programme.access import Actor
from programme.db import PostgresDatabase, SqliteDatabase
from programme.register import EnquiryRegister

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
KONGSBERG = Actor("kari@kongsberg", "editor", frozenset({"3303"}))
NOTODDEN = Actor("nils@notodden", "editor", frozenset({"4005"}))
SALES = Actor("sara@region", "editor", frozenset({"3303", "3334", "3336", "3338", "4005", "4024", "4026"}))
READER = Actor("rolf@kongsberg", "reader", frozenset({"3303"}))


@pytest.fixture(params=["sqlite", "postgres"])
def register(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EnquiryRegister]:
    """An empty register on each database in turn."""
    if request.param == "sqlite":
        db = SqliteDatabase(tmp_path / "programme.sqlite")
    else:
        cluster = request.getfixturevalue("postgis_cluster")  # skips locally / fails in CI without PostGIS
        db = PostgresDatabase(cluster.new_database())
    yield EnquiryRegister(db)
    db.close()


@pytest.fixture
def sqlite_register(tmp_path: Path) -> Iterator[EnquiryRegister]:
    db = SqliteDatabase(tmp_path / "programme.sqlite")
    yield EnquiryRegister(db)
    db.close()
