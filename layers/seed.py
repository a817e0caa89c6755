"""Publish the synthetic demo layers into a store (``geo-service demo`` and first start)."""

from __future__ import annotations

from layers.kinds import LayerKind
from layers.progress import NoProgress, Progress
from layers.store import LayerMeta, Store, VersionRecord


def publish_demo(store: Store, seed: int = 2005, progress: Progress | None = None) -> list[VersionRecord]:
    """Build the deterministic demo layers and publish each as a new version."""
    from layers.demo import build_demo_layers  # large generator; only needed here

    progress = progress or NoProgress()
    published = []
    for layer in build_demo_layers(seed):
        meta = LayerMeta(kind=LayerKind(layer.kind), title=layer.title, description=layer.description,
                         attribution=layer.attribution,
                         provenance={"source": f"geo-service demo (seed {seed})", "synthetic": True})
        published.append(store.publish(layer.id, layer.frame, meta, progress=progress))
    return published


def is_empty(store: Store) -> bool:
    """True when the store has no published layer."""
    return not store.list_layers()
