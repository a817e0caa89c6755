"""A SOSI Plan zoning file (synthetic, written here) through ``geo-service layers add`` and the analysis:
its formål, status, plan type and municipality are recognised and drive objection risk and business areas."""

from __future__ import annotations

import json
from pathlib import Path

from layers.gpkg_store import GeoPackageStore
from tests.geo_service.test_cli import error_line, run


def _square(n0: int, e0: int, size: int) -> str:
    corners = [(n0, e0), (n0, e0 + size), (n0 + size, e0 + size), (n0 + size, e0), (n0, e0)]
    return "".join(f"{n * 100} {e * 100}\n" for n, e in corners)  # ENHET 0.01: centimetres, north first


def _area(ident: int, ref: int, name: str) -> str:
    return (f".FLATE {ident}:\n..OBJTYPE KpArealformålOmråde\n..KPAREALFORMÅL 1300\n..AREALBRUKSSTATUS 2\n"
            f"..FELTNAVN \"{name}\"\n..NASJONALAREALPLANID\n...KOMM 3006\n...PLANID \"2020001\"\n"
            f"..PLANSTATUS 3\n..PLANTYPE 20\n..REF :{ref}\n..NØ\n661510000 53710000\n")


def write_plan(path: Path) -> Path:
    """Two 200 m x 200 m future business areas (KP 1300, framtidig) in Kongsberg, EUREF89 UTM 32, ISO8859-10."""
    text = (".HODE\n..TEGNSETT ISO8859-10\n..TRANSPAR\n...KOORDSYS 22\n...ORIGO-NØ 0 0\n...ENHET 0.01\n"
            "..SOSI-VERSJON 4.5\n..OBJEKTKATALOG SOSI-Plan 4.5\n"
            ".KURVE 1:\n..OBJTYPE KpArealformålGrense\n..NØ\n" + _square(6615000, 537000, 200)
            + ".KURVE 2:\n..OBJTYPE KpArealformålGrense\n..NØ\n" + _square(6615000, 537400, 200)
            + _area(10, 1, "Næring nord") + _area(11, 2, "Næring sør") + ".SLUTT\n")
    path.write_bytes(text.encode("iso8859-10"))
    return path


def write_farmland(path: Path) -> Path:
    """One 100 m x 100 m fully cultivated AR5 polygon (arealtype 21) inside the first area (synthetic)."""
    ring = [[537050, 6615050], [537150, 6615050], [537150, 6615150], [537050, 6615150], [537050, 6615050]]
    path.write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25832"}},
        "features": [{"type": "Feature", "properties": {"arealtype": 21},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}}]}), encoding="utf-8")
    return path


def test_sosi_plan_zoning_through_layers_add_and_the_analysis(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "kommuneplan.sos")
    farmland = write_farmland(tmp_path / "ar5.geojson")
    ws = tmp_path / "ws"
    line = error_line(run("layers", "add", plan, "--id", "kp", "--kind", "zoning", "-w", ws, cwd=tmp_path))
    assert "--layer NAME from: KpArealformålGrense (2), KpArealformålOmråde (2)" in line
    added = run("layers", "add", plan, "--id", "kp", "--kind", "zoning", "--layer", "KpArealformålOmråde",
                "-w", ws, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "(layer 'KpArealformålOmråde', SOSI)" in added.stdout
    assert "arealformal <- KPAREALFORMÅL" in added.stdout and "kommunenummer <- NASJONALAREALPLANID.KOMM" in added.stdout
    assert run("layers", "add", farmland, "--id", "ar5", "--kind", "farmland", "-w", ws, "--wait",
               cwd=tmp_path).returncode == 0

    store = GeoPackageStore(ws)
    zoning = store.read_frame(store.get_layer("kp").current).sort_values("FELTNAVN")
    assert zoning["FELTNAVN"].tolist() == ["Næring nord", "Næring sør"]  # ISO8859-10 decoded
    assert zoning["arealformal"].tolist() == [1300, 1300] and zoning["kommunenummer"].tolist() == ["3006"] * 2
    assert zoning.area.round(1).tolist() == [40_000.0, 40_000.0]

    risk = store.read_frame(store.get_layer("objection-risk").current).sort_values("zone_id")
    assert risk["plantype"].tolist() == ["kommuneplan", "kommuneplan"]  # PLANTYPE 20 is kommuneplanens arealdel
    assert risk["objection_risk"].tolist() == ["RED", "NOT_MAPPED"]
    business = store.read_frame(store.get_layer("business-areas").current).sort_values("zone_id")
    assert business["status"].tolist() == ["conflict", "reserve"]
    assert business["net_available_daa"].round(1).tolist() == [30.0, 40.0]
    assert business["farmland_daa"].round(1).tolist() == [10.0, 0.0]


def test_sosi_plan_through_the_upload_staging(tmp_path: Path) -> None:
    """The upload path (staging for review) reads SOSI like `layers add`; the report names the SOSI layer."""
    import io

    from layers.checks import CheckContext, Region
    from layers.kinds import LayerKind
    from layers.staging import Staging, UploadRequest

    plan = write_plan(tmp_path / "kommuneplan.sos")
    staging = Staging(tmp_path / "staging")
    staged = staging.stage("kommuneplan.sos", io.BytesIO(plan.read_bytes()),
                           UploadRequest("kp", LayerKind.zoning, layer="KpArealformålOmråde"),
                           CheckContext(Region((415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0))), "kari")
    assert staged.source_name == "kommuneplan.sos"
    assert staged.report["normalised"]["features_out"] == 2
    assert staged.report["normalised"]["field_map"]["arealformal"] == "KPAREALFORMÅL"
