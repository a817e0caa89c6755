"""Bounded work per worker: at most N site checks run at once, a few wait, the rest get 503 + Retry-After.

A site check is CPU work in a thread; without a gate, a handful of large sites would take every thread of
the pool and every core, and nobody else would get an answer. With it, a busy service answers the excess
at once (``SiteCheckBusy`` → 503 with ``Retry-After``) and everything else keeps being served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from constraints.site import SiteLimits
from geo_service.settings import Settings

T = TypeVar("T")


class SiteCheckBusy(Exception):
    """Every site-check slot is taken and the queue is full (or the wait ran out)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"the service is busy with other site checks; try again in {retry_after} s "
                         "/ tjenesten er opptatt, prøv igjen om litt")


class WorkGate:
    """``concurrency`` slots and a queue of ``queue`` waiters, each waiting at most ``wait_s`` seconds."""

    def __init__(self, concurrency: int, queue: int, wait_s: float) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.wait_s = wait_s
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0

    @property
    def retry_after(self) -> int:
        """Seconds a refused client should wait (at least 1)."""
        return max(1, round(self.wait_s))

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` in the thread pool when a slot is free; ``SiteCheckBusy`` if none frees in time."""
        if self._slots.locked() and self._waiting >= self.queue:
            raise SiteCheckBusy(self.retry_after)
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.wait_s)
        except TimeoutError:
            raise SiteCheckBusy(self.retry_after) from None
        finally:
            self._waiting -= 1
        try:
            return await run_in_threadpool(work)
        finally:
            self._slots.release()


def site_gate(settings: Settings) -> WorkGate:
    """The site-check gate the settings ask for (one per worker process, made in the lifespan)."""
    return WorkGate(settings.site_check_concurrency, settings.site_check_queue, settings.site_check_wait_seconds)


def site_limits(settings: Settings) -> SiteLimits:
    """The size limits of one site from the settings."""
    return SiteLimits(max_vertices=settings.site_max_vertices, max_parts=settings.site_max_parts,
                      max_holes=settings.site_max_holes, max_area_m2=settings.site_max_area_km2 * 1e6)
