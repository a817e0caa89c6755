"""The shipped sources file and the workspace override: validated, merged by id, honest about verification."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.kinds import LayerKind
from layers.sources import SourceConfigError, find_source, load_sources


def test_shipped_sources_cover_the_rule_datasets_and_say_where_they_were_verified() -> None:
    specs = load_sources()
    by_id = {s.id: s for s in specs}
    kinds = {s.kind for s in specs}
    assert {LayerKind.heritage, LayerKind.farmland, LayerKind.flood, LayerKind.watercourse, LayerKind.municipality,
            LayerKind.zoning} <= kinds
    assert by_id["ra-kulturminner-lokaliteter"].typename == "app:Lokalitet"
    assert by_id["nve-flomsoner"].typename == "FlomAreal"
    for spec in specs:
        assert spec.licence and spec.attribution, spec.id
        if spec.enabled:  # nothing unverified is fetched by `sync --all`
            assert spec.verified is True and spec.verified_from, spec.id
        if spec.verified is False:
            assert not spec.enabled and spec.note, spec.id
        assert spec.region.bbox == (7.4, 59.3, 10.1, 60.6)  # the region default applies to every source
        assert "3303" in spec.region.municipalities


def test_workspace_override_merges_by_id_and_adds_sources(tmp_path: Path) -> None:
    override = tmp_path / "sources.yaml"
    override.write_text(
        "defaults:\n  page_size: 250\n"
        "sources:\n"
        "  - id: nibio-ar5\n    enabled: true\n    url: https://example.test/ar5\n"
        "  - id: kommune-plan\n    title: Kommunens planregister\n    protocol: oapif\n"
        "    url: https://plan.example.test\n    collection: rpomrade\n    kind: zoning\n", encoding="utf-8")
    specs = load_sources(override)
    ar5 = find_source(specs, "nibio-ar5")
    assert ar5.enabled and ar5.url == "https://example.test/ar5" and ar5.typename == "ms:AR5"  # rest kept
    assert ar5.page_size == 250 and ar5.fields == {"artype": "arealtype"}
    added = find_source(specs, "kommune-plan")
    assert added.kind == LayerKind.zoning and added.target == "kommune-plan" and specs[-1] is added


@pytest.mark.parametrize(("text", "message"), [
    ("sources:\n  - id: a\n    title: A\n    protocol: wfs2\n    url: u\n    kind: flood\n",
     r"source 'a': .*needs `typename`"),
    ("sources:\n  - id: Bad Id\n    title: A\n    protocol: oapif\n    url: u\n    collection: c\n    kind: flood\n",
     r"source 'Bad Id'"),
    ("sources:\n  - title: no id\n", r"needs an `id`"),
    ("- just a list\n", r"must be a mapping"),
    ("sources: [\n", r"cannot be read as YAML"),
])
def test_invalid_override_is_an_error_naming_the_entry(tmp_path: Path, text: str, message: str) -> None:
    override = tmp_path / "sources.yaml"
    override.write_text(text, encoding="utf-8")
    with pytest.raises(SourceConfigError, match=message):
        load_sources(override)
