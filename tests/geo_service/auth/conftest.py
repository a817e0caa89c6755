"""An app signed into by a local test identity provider (tests/idp.py) and by API keys in its store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings
from tests.idp import AUDIENCE, TestIdentityProvider


@pytest.fixture(scope="module")
def idp() -> Iterator[TestIdentityProvider]:
    with TestIdentityProvider() as provider:
        yield provider


def make_client(workspace: Path, idp: TestIdentityProvider, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(workspace=workspace, seed_demo=False, analysis_refresh_seconds=0,
                                          oidc_issuer=idp.issuer, oidc_audience=AUDIENCE, **settings)))


@pytest.fixture
def app_client(workspace: Path, idp: TestIdentityProvider) -> Iterator[TestClient]:
    with make_client(workspace, idp) as c:
        yield c
