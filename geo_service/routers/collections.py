"""Collections: the catalog as OGC API – Features collections (Part 2 CRS lists, Part 3 queryables)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from constraints.publish import DERIVED_IDS
from geo_service.dependencies import LayerDep, StoreDep
from geo_service.links import GEOJSON, JSON, base_url, link
from layers.crs import CRS84_URI, EPSG_URI, WORKING_EPSG, bounds_to_crs84, supported_crs_uris
from layers.store import LayerRecord

router = APIRouter(tags=["Collections"])

_JSON_SCHEMA_TYPE = {"int": "integer", "float": "number", "bool": "boolean", "str": "string",
                     "datetime": "string", "date": "string"}


def source_name(source: str) -> str:
    """The file name of a layer's source, never the server's folders (older versions stored full paths)."""
    return re.split(r"[\\/]", source.rstrip("/\\"))[-1] if source else ""


def collection_document(layer: LayerRecord, base: str) -> dict[str, Any]:
    """The collection description: extent in CRS84, kind, version, count, CRS list, provenance, links."""
    current = layer.current
    href = f"{base}/collections/{layer.id}"
    source = source_name(str(current.provenance.get("source", "")))
    description = layer.description
    if source:
        description += f" Kilde/source: {source}."
    if layer.attribution:
        description += f" Attribution: {layer.attribution}"
    return {
        "id": layer.id,
        "title": layer.title,
        "description": description.strip(),
        "attribution": layer.attribution,
        "itemType": "feature",
        "kind": layer.kind.value,
        "version": current.version,
        "versionCreated": current.created.isoformat(),
        "featureCount": current.feature_count,
        "geometryType": current.geometry_type,
        "extent": {"spatial": {"bbox": [bounds_to_crs84(current.bbox)], "crs": CRS84_URI}},
        "crs": supported_crs_uris(),
        "storageCrs": EPSG_URI.format(code=WORKING_EPSG),
        "links": [
            link(href, "self", JSON, layer.title),
            link(f"{href}/items", "items", GEOJSON, "features"),
            link(f"{href}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                 "application/schema+json", "queryable properties"),
            link(f"{href}/tiles/WebMercatorQuad/tilejson.json", "describedby", JSON,
                 "TileJSON of the vector tiles (WebMercatorQuad)"),
            {**link(f"{href}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}", "item", "application/vnd.mapbox-vector-tile",
                    "vector tiles (MVT), z/x/y"), "templated": True},
        ],
    }


@router.get("/collections", summary="All collections")
def collections(request: Request, store: StoreDep) -> dict:
    """Every published layer with its current version."""
    base = base_url(request)
    return {
        "links": [link(f"{base}/collections", "self", JSON, "collections")],
        "collections": [collection_document(layer, base) for layer in store.list_layers()],
    }


@router.get("/collections/{collectionId}", summary="One collection")
def collection(request: Request, layer: LayerDep) -> dict:
    """One layer's description; 404 if unknown. Derived collections say whether they are current or behind."""
    document = collection_document(layer, base_url(request))
    if layer.id in DERIVED_IDS:
        document["analysis"] = request.app.state.analysis.status().to_dict()
    return document


@router.get("/collections/{collectionId}/queryables", summary="Queryable properties")
def queryables(request: Request, layer: LayerDep) -> dict:
    """Properties usable in CQL2 filters, ``sortby`` and equality filters on ``/items``, as JSON Schema with
    their types (and the geometry, for the spatial functions)."""
    properties: dict[str, Any] = {"geometry": {"title": "geometry", "format": _geometry_format(layer),
                                               "x-ogc-role": "primary-geometry"}}
    for name, kind in layer.current.fields.items():
        properties[name] = {"type": _JSON_SCHEMA_TYPE.get(kind, "string"), "title": name,
                            **({"format": "date-time"} if kind == "datetime" else {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url(request)}/collections/{layer.id}/queryables",
        "type": "object",
        "title": layer.title,
        "properties": properties,
        "additionalProperties": False,
    }


def _geometry_format(layer: LayerRecord) -> str:
    """``geometry-polygon``, ``geometry-multipolygon``, … (Part 3), ``geometry-any`` when mixed."""
    name = layer.current.geometry_type
    known = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}
    return f"geometry-{name.lower()}" if name in known else "geometry-any"
