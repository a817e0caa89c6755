"""Headless Chromium for page tests: Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser).

``require_browser()`` skips locally and fails in CI (``CI=true``) when Chromium or Playwright is missing;
``OutsideRequests`` records every request a page makes to anything but the loopback server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

CHROMIUM = Path(os.environ.get("GEO_SERVICE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def require_browser() -> None:
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason is None and not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does it)"
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests need Chromium in CI: {reason}")
        pytest.skip(reason)


@contextmanager
def launched() -> Iterator[Any]:
    """Debian's Chromium, headless, for as long as the block runs (skips or fails first when missing)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class PageWatch:
    """Console errors, failed requests and requests leaving the machine, for one Playwright page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOOPBACK:
            self.outside.append(request.url)

    def assert_clean(self) -> None:
        assert self.outside == [], f"requests left the machine: {self.outside[:5]}"
        assert self.errors == [], f"console errors: {self.errors[:5]}"
        assert self.failed == [], f"failed requests: {self.failed[:5]}"
