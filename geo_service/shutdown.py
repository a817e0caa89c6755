"""A SIGTERM ends the process within a deadline, whatever it is waiting for (a database gone, a stuck thread).

uvicorn stops accepting, gives open requests ``shutdown_seconds`` and runs the lifespan shutdown, whose
steps are bounded too. If anything still holds the process — a worker thread in a database call that never
returns — the watchdog armed by the first SIGTERM ends it at ``shutdown_deadline_seconds`` with exit code 1
and one log line: an orchestrator never has to escalate to SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("geo_service.shutdown")


def arm_watchdog_on_sigterm(deadline_s: float) -> bool:
    """Chain a watchdog in front of the current SIGTERM/SIGINT handlers (uvicorn's); False off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False  # e.g. a TestClient's lifespan: no signals to handle
    armed = threading.Event()

    def expire() -> None:
        log.error("shutdown took longer than %.0f s; exiting now", deadline_s)
        logging.shutdown()
        os._exit(1)

    def chain(previous: Callable[[int, FrameType | None], Any] | int | None) -> Callable[[int, FrameType | None], None]:
        def handler(signum: int, frame: FrameType | None) -> None:
            if not armed.is_set():
                armed.set()
                timer = threading.Timer(deadline_s, expire)
                timer.daemon = True
                timer.start()
            if callable(previous):
                previous(signum, frame)
            elif signum == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                os._exit(0)  # no handler to hand over to: what SIG_DFL would do, minus the core
        return handler

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, chain(signal.getsignal(signum)))
    return True


def run_bounded(step: Callable[[], object], timeout_s: float, name: str) -> None:
    """Run one shutdown step in a daemon thread and wait at most ``timeout_s`` for it (then move on)."""
    thread = threading.Thread(target=step, name=f"shutdown-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        log.warning("shutdown step %s did not finish in %.0f s; leaving it behind", name, timeout_s)
