"""Markers of running publishes in the GeoPackage workspace: a flocked file per version being written.

A publish holds its marker until it ends; the lock dies with the process (even on ``kill -9``), so a clean-up
can tell a running publish from a leftover by trying the lock (``is_held``).
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

MARKER = ".writing"


def hold_marker(folder: Path, name: str) -> Any:
    """Create and flock the marker of a running publish (the lock dies with the process, even on kill -9)."""
    for _ in range(3):  # a concurrent cleanup may remove the (empty) folder between mkdir and open
        folder.mkdir(parents=True, exist_ok=True)
        try:
            handle = open(folder / name, "a+b")  # noqa: SIM115 - held until the publish ends
        except FileNotFoundError:
            continue
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle
    raise FileNotFoundError(folder / name)


def release_marker(handle: Any) -> None:
    Path(handle.name).unlink(missing_ok=True)
    handle.close()


def is_held(marker: Path) -> bool:
    try:
        with open(marker, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def remove_if_empty(folder: Path) -> bool:
    try:
        folder.rmdir()
    except OSError:  # not empty (or gone)
        return False
    return True
