"""What the engine receives: constraint layers with coverage and version, and the CRS check done up front."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from constraints.errors import CRSMismatchError, MissingCRSError, NonMetricCRSError
from layers.kinds import LayerKind, parse_kind


@dataclass(frozen=True)
class ConstraintLayer:
    """One constraint layer as the engine sees it.

    Attributes
    ----------
    id
        The layer id (catalog collection id), used in findings and provenance.
    kind
        What the layer is (``farmland``, ``heritage`` ...); rules pick layers by kind.
    frame
        Features in the working CRS with canonical columns; the index is the stable feature id (fid).
    coverage
        The declared extent (same CRS). ``None`` means the bounding box of the features.
    version
        The catalog version the frame was read from, recorded as provenance.
    valid
        Every geometry is known to be valid (checked when the version was normalised and published), so the
        engine does not check it again; False (the default) means each is checked on first use.
    """

    id: str
    kind: LayerKind
    frame: gpd.GeoDataFrame
    coverage: BaseGeometry | None = None
    version: str | int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    valid: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.kind, LayerKind):
            object.__setattr__(self, "kind", parse_kind(str(self.kind)))

    def coverage_geometry(self) -> BaseGeometry:
        """The declared coverage, or the features' bounding box when none was declared (empty if no features)."""
        if self.coverage is not None:
            return self.coverage
        geoms = self.frame.geometry.values
        if len(geoms) == 0 or bool(shapely.is_missing(geoms).all()):
            return shapely.Polygon()
        xmin, ymin, xmax, ymax = self.frame.total_bounds
        return shapely.box(xmin, ymin, xmax, ymax)


def check_crs(zoning: gpd.GeoDataFrame | None, constraints: Mapping[str, ConstraintLayer],
              zoning_name: str = "zoning") -> CRS:
    """Return the common CRS of all inputs or raise a typed error naming the layers and their CRSs.

    The engine never reprojects: every layer must already be in the (metric, projected) working CRS.
    """
    frames: list[tuple[str, gpd.GeoDataFrame]] = []
    if zoning is not None:
        frames.append((zoning_name, zoning))
    frames += [(name, layer.frame) for name, layer in constraints.items()]
    if not frames:
        raise MissingCRSError("<no layers>")
    for name, frame in frames:
        if frame.crs is None:
            raise MissingCRSError(name)
    ref_name, ref = frames[0]
    ref_crs = CRS.from_user_input(ref.crs)
    mismatched = [(name, _crs_label(f.crs)) for name, f in frames[1:] if not CRS.from_user_input(f.crs).equals(ref_crs)]
    if mismatched:
        raise CRSMismatchError((ref_name, _crs_label(ref_crs)), mismatched)
    if not ref_crs.is_projected or not _is_metre(ref_crs):
        raise NonMetricCRSError(ref_name, _crs_label(ref_crs))
    return ref_crs


def _is_metre(crs: CRS) -> bool:
    units = {(axis.unit_name or "").lower() for axis in crs.axis_info}
    return bool(units) and units <= {"metre", "meter", "m"}


def _crs_label(crs: Any) -> str:
    crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name
