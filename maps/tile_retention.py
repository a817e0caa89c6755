"""Old layer versions leave the tile disk tier and the coverage-grid folder.

Both keep one folder per layer version (``<folder>/<layer id>/<version>-<token>/``: cached tiles, the coverage
grid). Without pruning they grow with every publish. ``prune_versions`` removes the folders of versions older
than a layer's current one, keeping the version just before it: another worker may serve it for a moment after
a publish. Newer versions (after a rollback to an older one) and removed layers (they can be restored) stay;
a version served again later only has its tiles and grid made again.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

from maps.tile_cache import version_of_folder

LOG = logging.getLogger(__name__)
KEEP_PREVIOUS = 1  # versions kept below the current one


def prune_versions(folder: Path | None, current: Mapping[str, int]) -> list[Path]:
    """Remove ``folder``'s version folders that are older than their layer's ``current`` version (but the
    ``KEEP_PREVIOUS`` newest of those); the removed folders. Anything else in ``folder`` is left alone."""
    removed: list[Path] = []
    if folder is None or not folder.is_dir():
        return removed
    for layer_dir in sorted(folder.iterdir()):
        version = current.get(layer_dir.name)
        if version is None or not layer_dir.is_dir():
            continue
        older = sorted(((v, path) for path in layer_dir.iterdir() if path.is_dir()
                        and (v := version_of_folder(path.name)) is not None and v < version), reverse=True)
        for _, path in older[KEEP_PREVIOUS:]:
            shutil.rmtree(path, ignore_errors=True)  # another worker may be removing it too
            removed.append(path)
    if removed:
        LOG.info("removed %d folder(s) of old layer versions from %s", len(removed), folder)
    return removed

