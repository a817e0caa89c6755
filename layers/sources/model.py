"""National sources as data: the shipped ``default_sources.yaml`` merged with a workspace ``sources.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from layers.errors import LayerError
from layers.ids import check_layer_id
from layers.kinds import LayerKind

DEFAULT_FILE = Path(__file__).with_name("default_sources.yaml")


class SourceConfigError(LayerError):
    """The sources file is not valid; the message names the entry and the field."""


class Region(BaseModel):
    """Where features are wanted: a bbox sent to the server, municipality codes kept afterwards."""

    model_config = ConfigDict(extra="forbid")
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat (EPSG:4326)
    municipalities: list[str] = Field(default_factory=list)


class SourceSpec(BaseModel):
    """One national dataset and how to fetch it."""

    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    protocol: Literal["oapif", "wfs2"]
    url: str
    collection: str | None = None  # oapif
    typename: str | None = None  # wfs2
    output_format: str | None = None  # wfs2: e.g. application/json; default GML 3.2
    srs_name: str = "EPSG:25832"  # wfs2: CRS asked for (GML carries it)
    kind: LayerKind
    layer_id: str | None = None  # published collection id (default: the source id)
    fields: dict[str, str] = Field(default_factory=dict)
    region: Region = Field(default_factory=Region)
    municipality_field: str | None = None
    page_size: int = Field(1000, ge=1, le=100_000)
    volatile_fields: list[str] = Field(default_factory=list)  # left out of the content hash (extract dates)
    licence: str = ""
    attribution: str = ""
    enabled: bool = True
    verified: bool | Literal["partly"] = False
    verified_from: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        if self.protocol == "oapif" and not self.collection:
            raise ValueError("protocol oapif needs `collection`")
        if self.protocol == "wfs2" and not self.typename:
            raise ValueError("protocol wfs2 needs `typename`")
        check_layer_id(self.target)
        return self

    @property
    def target(self) -> str:
        """The collection id the source is published as."""
        return self.layer_id or self.id


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SourceConfigError(f"{path}: cannot be read as YAML ({str(exc).splitlines()[0]}); fix the file") from None
    if not isinstance(data, dict):
        raise SourceConfigError(f"{path}: must be a mapping with `sources:` (and optional `defaults:`)")
    return data


def load_sources(override: Path | None = None) -> list[SourceSpec]:
    """The shipped sources, with ``override`` (a workspace ``sources.yaml``) merged over them by ``id``."""
    base = _read(DEFAULT_FILE)
    defaults: dict[str, Any] = base.get("defaults", {}) or {}
    entries: dict[str, dict[str, Any]] = {e["id"]: e for e in base.get("sources", [])}
    order = list(entries)
    if override is not None:
        extra = _read(override)
        defaults = _merge(defaults, extra.get("defaults", {}) or {})
        for entry in extra.get("sources", []) or []:
            if not isinstance(entry, dict) or "id" not in entry:
                raise SourceConfigError(f"{override}: every entry under `sources:` needs an `id`")
            if entry["id"] in entries:
                entries[entry["id"]] = _merge(entries[entry["id"]], entry)
            else:
                entries[entry["id"]] = entry
                order.append(entry["id"])
    specs = []
    for source_id in order:
        try:
            specs.append(SourceSpec.model_validate(_merge(defaults, entries[source_id])))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            raise SourceConfigError(f"source {source_id!r}: {where}: {first['msg']}; fix "
                                    f"{override or DEFAULT_FILE}") from None
        except LayerError as exc:
            raise SourceConfigError(f"source {source_id!r}: {exc}") from None
    return specs


def find_source(specs: list[SourceSpec], source_id: str) -> SourceSpec:
    """The source named ``source_id`` or an error listing the known ids."""
    for spec in specs:
        if spec.id == source_id:
            return spec
    raise SourceConfigError(f"no source {source_id!r}; known sources: {', '.join(s.id for s in specs)}")
