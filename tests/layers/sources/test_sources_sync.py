"""Syncing national sources against a replay server on 127.0.0.1 (never the internet).

The WFS answers are the real Riksantikvaren GetFeature response in shared/data (Drammen, 10 app:Lokalitet),
split into pages the way the service pages (startIndex/count). The OGC API – Features answers are synthetic
flood polygons in the shape the standard documents (FeatureCollection, numberMatched, `next` links).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.sources import Retry, SourceSpec, SyncFailed, sync_source

REPO = Path(__file__).resolve().parents[3]
_CANDIDATES = [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]
DATA = next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0])
RA_GML = DATA / "kulturminner-riksantikvaren-wfs-sample-drammen" / "wfs_kulturminner_Lokalitet_drammen_sample.gml"


# -- recorded WFS answers ---------------------------------------------------------------------------------------
def _split_gml() -> tuple[str, list[str], str]:
    text = RA_GML.read_text(encoding="utf-8")
    first = text.index("  <wfs:member>")
    end = text.rindex("</wfs:FeatureCollection>")
    members = ["  <wfs:member>" + m for m in text[first:end].split("  <wfs:member>")[1:]]
    return text[:first], members, text[end:]


def wfs_page(start: int, count: int, stamp: str = "2026-06-11T09:10:48Z",
             edit: tuple[str, str] | None = None) -> bytes:
    """The page a WFS 2.0 server returns for startIndex/count (numberReturned stays "0", as deegree writes)."""
    head, members, tail = _split_gml()
    head = re.sub(r'timeStamp="[^"]+"', f'timeStamp="{stamp}"', head)
    body = head + "".join(members[start:start + count]) + tail
    if edit:
        body = body.replace(*edit)
    return body.encode("utf-8")


EXCEPTION_REPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="2.0.0">
  <ows:Exception exceptionCode="InvalidParameterValue" locator="typeNames">
    <ows:ExceptionText>Unknown feature type app:Lokalitett</ows:ExceptionText>
  </ows:Exception>
</ows:ExceptionReport>"""


def ra_spec(url: str, **extra: object) -> SourceSpec:
    values: dict[str, object] = {
        "id": "ra-lokaliteter", "title": "Kulturminner – lokaliteter", "protocol": "wfs2", "url": f"{url}/wfs",
        "typename": "app:Lokalitet", "kind": LayerKind.heritage, "page_size": 4,
        "fields": {"kommune": "kommunenummer", "kulturminneId": "kulturminne_id"},
        "municipality_field": "kommunenummer", "region": {"bbox": [10.0, 59.6, 10.4, 59.9], "municipalities": ["3301"]},
        "volatile_fields": ["datauttaksdato", "gml_id"], "attribution": "Riksantikvaren (NLOD)"}
    values.update(extra)
    return SourceSpec.model_validate(values)


def wfs_handler(pages: list[int], **page_args: object):
    def handle(path: str, query: dict[str, str], headers: dict[str, str]):
        assert path == "/wfs" and query["request"] == "GetFeature" and query["typeNames"] == "app:Lokalitet"
        pages.append(int(query["startIndex"]))
        return 200, {"Content-Type": "application/gml+xml; version=3.2"}, wfs_page(int(query["startIndex"]),
                                                                                  int(query["count"]), **page_args)
    return handle


@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    return GeoPackageStore(tmp_path / "ws")


@pytest.fixture
def client():
    with httpx.Client() as c:
        yield c


def quick(sleeps: list[float] | None = None) -> Retry:
    return Retry(attempts=3, backoff_s=0.01, timeout_s=5, sleep=(sleeps.append if sleeps is not None else lambda s: None))


pytestmark = pytest.mark.skipif(not RA_GML.is_file(), reason=f"{RA_GML} is missing")


def test_wfs_paging_of_the_real_riksantikvaren_response(replay, store, client, tmp_path) -> None:
    pages: list[int] = []
    replay.handler = wfs_handler(pages)
    result = sync_source(store, ra_spec(replay.url), tmp_path / "staging", client, quick())
    assert (result.status, result.version, result.features, result.pages) == ("published", 1, 10, 3)
    assert pages == [0, 4, 8]  # startIndex/count paging, stopped by the short last page
    query = replay.requests[0][1]
    assert query["count"] == "4" and query["srsName"] == "EPSG:25832"
    assert query["bbox"] == "59.6,10,59.9,10.4,urn:ogc:def:crs:EPSG::4326"  # lat/lon for the EPSG URN
    record = store.get_layer("ra-lokaliteter").current
    frame = store.read_frame(record)
    assert len(frame) == 10 and frame.crs.to_epsg() == 25832
    assert "Strømsgodset kirkested" in set(frame["navn"])
    assert set(frame["kommunenummer"].astype(str)) == {"3301"}  # field mapping kommune -> kommunenummer
    assert sorted(frame["kulturminne_id"])[:3] == ["124799-1", "124806-1", "176637-1"]
    assert set(frame["vernetype"]) == {"FJE", "LIST", "STAT", "UAV", "VED"}
    national = record.provenance["national_source"]
    assert national["feature_count"] == 10 and national["pages"] == 3 and national["url"] == f"{replay.url}/wfs"
    assert national["source_timestamp"] == "2026-06-11T09:10:48Z"
    assert national["source_date"].startswith("2026-06-09")
    assert not (tmp_path / "staging" / "ra-lokaliteter").exists()  # staging cleared after publishing


def test_unchanged_second_sync_publishes_nothing_and_a_change_does(replay, store, client, tmp_path) -> None:
    replay.handler = wfs_handler([])
    sync_source(store, ra_spec(replay.url), tmp_path / "staging", client, quick())
    # a new extract: new timeStamp and new datauttaksdato, same content
    replay.handler = wfs_handler([], stamp="2026-06-12T06:00:00Z", edit=("2026-06-09", "2026-06-10"))
    again = sync_source(store, ra_spec(replay.url), tmp_path / "staging", client, quick())
    assert (again.status, again.version) == ("unchanged", 1)
    assert [v.version for v in store.versions("ra-lokaliteter")] == [1]
    replay.handler = wfs_handler([], edit=("Bangegården", "Bangegården (restaurert)"))
    changed = sync_source(store, ra_spec(replay.url), tmp_path / "staging", client, quick())
    assert (changed.status, changed.version) == ("published", 2)


def test_conditional_request_304(replay, store, client, tmp_path) -> None:
    def handle(path, query, headers):
        if headers.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"ETag": '"v1"', "Last-Modified": "Tue, 09 Jun 2026 23:29:16 GMT"}, wfs_page(
            int(query["startIndex"]), int(query["count"]))
    replay.handler = handle
    first = sync_source(store, ra_spec(replay.url, page_size=100), tmp_path / "staging", client, quick())
    assert first.status == "published"
    assert store.get_layer("ra-lokaliteter").current.provenance["national_source"]["etag"] == '"v1"'
    replay.requests.clear()
    second = sync_source(store, ra_spec(replay.url, page_size=100), tmp_path / "staging", client, quick())
    assert second.status == "not-modified" and len(replay.requests) == 1
    assert replay.requests[0][2]["If-Modified-Since"] == "Tue, 09 Jun 2026 23:29:16 GMT"
    assert [v.version for v in store.versions("ra-lokaliteter")] == [1]


def test_exception_report_is_an_error_naming_the_server_text(replay, store, client, tmp_path) -> None:
    replay.handler = lambda p, q, h: (400, {"Content-Type": "text/xml"}, EXCEPTION_REPORT)
    with pytest.raises(SyncFailed, match=r"HTTP 400 \(OGC exception: Unknown feature type app:Lokalitett\)"):
        sync_source(store, ra_spec(replay.url), tmp_path / "staging", client, quick())
    replay.handler = lambda p, q, h: (200, {"Content-Type": "text/xml"}, EXCEPTION_REPORT)  # some servers say 200
    with pytest.raises(SyncFailed, match="exception report.*Unknown feature type"):
        sync_source(store, ra_spec(replay.url), tmp_path / "staging", client, quick())
    assert store.list_layers() == []


def test_truncated_bodies_publish_nothing(replay, store, client, tmp_path) -> None:
    full = wfs_page(0, 4)
    # the connection closes before Content-Length bytes arrive: retried, then given up
    replay.handler = lambda p, q, h: (200, {"X-Declared-Length": str(len(full))}, full[: len(full) // 2])
    sleeps: list[float] = []
    with pytest.raises(SyncFailed, match=r"failed after 3 attempts \(RemoteProtocolError"):
        sync_source(store, ra_spec(replay.url), tmp_path / "staging", client, quick(sleeps))
    assert sleeps == [0.01, 0.02]  # exponential backoff
    # a proxy that cut the body but sent a matching length: caught by the XML check
    replay.handler = lambda p, q, h: (200, {}, full[: len(full) // 2])
    with pytest.raises(SyncFailed, match="not complete XML"):
        sync_source(store, ra_spec(replay.url), tmp_path / "staging", client, quick())
    assert store.list_layers() == []


def test_region_without_features_publishes_nothing(replay, store, client, tmp_path) -> None:
    replay.handler = wfs_handler([])
    spec = ra_spec(replay.url, region={"bbox": None, "municipalities": ["3303"]})  # Kongsberg: none in Drammen data
    with pytest.raises(SyncFailed, match="no features in the region"):
        sync_source(store, spec, tmp_path / "staging", client, quick())
    assert store.list_layers() == []


# -- OGC API – Features ----------------------------------------------------------------------------------------
def flood_features(n: int) -> list[dict]:
    """Synthetic 20-/200-year flood polygons near Kongsberg (CRS84)."""
    out = []
    for i in range(n):
        x, y = 9.60 + i * 0.01, 59.66
        ring = [[x, y], [x + 0.005, y], [x + 0.005, y + 0.003], [x, y + 0.003], [x, y]]
        out.append({"type": "Feature", "id": f"flom.{i}", "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {"gjentaksintervall": 200 if i % 2 else 20, "elvenavn": f"Lågen {i}"}})
    return out


def oapif_handler(features: list[dict], fail: dict[int, int]):
    """Pages by offset; ``fail`` maps an offset to how many times it answers 500 first."""
    def handle(path, query, headers):
        assert path == "/ogc/collections/flomsoner/items"
        limit, offset = int(query["limit"]), int(query.get("offset", 0))
        if fail.get(offset, 0) > 0:
            fail[offset] -= 1
            return 500, {}, b"Internal Server Error"
        page = features[offset: offset + limit]
        links = [{"rel": "self", "href": f"items?limit={limit}&offset={offset}&f=json"}]
        if offset + limit < len(features):
            links.append({"rel": "next", "type": "application/geo+json",
                          "href": f"/ogc/collections/flomsoner/items?limit={limit}&offset={offset + limit}&f=json"})
        body = {"type": "FeatureCollection", "numberMatched": len(features), "numberReturned": len(page),
                "timeStamp": "2026-11-01T00:00:00Z", "features": page, "links": links}
        return 200, {"Content-Type": "application/geo+json"}, json.dumps(body).encode()
    return handle


def flood_spec(url: str) -> SourceSpec:
    return SourceSpec.model_validate({
        "id": "nve-flom", "title": "Flomsoner", "protocol": "oapif", "url": f"{url}/ogc", "collection": "flomsoner",
        "kind": "flood", "page_size": 2, "fields": {"elvenavn": "vassdrag"},
        "region": {"bbox": [9.5, 59.6, 9.8, 59.7]}})


def test_oapif_paging_error_midway_then_resume(replay, store, client, tmp_path) -> None:
    features = flood_features(5)
    failures = {2: 10}  # the second page fails every time during the first sync
    replay.handler = oapif_handler(features, failures)
    sleeps: list[float] = []
    with pytest.raises(SyncFailed, match=r"offset=2.*failed after 3 attempts \(HTTP 500\).*next sync continues"):
        sync_source(store, flood_spec(replay.url), tmp_path / "staging", client, quick(sleeps))
    assert store.list_layers() == [] and sleeps == [0.01, 0.02]
    assert (tmp_path / "staging" / "nve-flom" / "page-00000.json").exists()  # kept for the next sync
    first_query = replay.requests[0][1]
    assert first_query["bbox"] == "9.5,59.6,9.8,59.7" and first_query["limit"] == "2"

    failures[2] = 0  # the service is back
    replay.requests.clear()
    result = sync_source(store, flood_spec(replay.url), tmp_path / "staging", client, quick())
    assert (result.status, result.features, result.pages, result.resumed_pages) == ("published", 5, 3, 1)
    assert [q.get("offset") for _, q, _ in replay.requests] == ["2", "4"]  # page 1 was not fetched again
    frame = store.read_frame(store.get_layer("nve-flom").current)
    assert sorted(frame["gjentaksintervall"].tolist()) == [20, 20, 20, 200, 200]  # canonical flood field
    assert sorted(frame["vassdrag"]) == [f"Lågen {i}" for i in range(5)]  # elvenavn -> vassdrag mapping
    assert frame.crs.to_epsg() == 25832 and frame.area.min() > 0
