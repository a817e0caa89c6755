"""Fixtures of the national-source tests."""

from tests.replay import replay  # noqa: F401 - the fixture
