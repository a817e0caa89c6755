"""Site search: hard filters, weighted soft criteria, a 0–100 score with its parts, and a one-line explanation.

Scoring (documented in the README, hand-checked in the tests): each criterion scores every site that passed the
filters from 0 to 1 relative to those sites —

* ``higher`` (higher is better): (v − min) / (max − min)
* ``lower`` (lower is better): (max − v) / (max − min)
* ``ideal`` (closest to a value): 1 − |v − ideal| / max |v − ideal|

where min, max and the largest gap are taken over the filtered sites; when all values are equal every site scores
1, and a site without a value scores 0. A criterion's points are weight × score (weights are percentages that sum
to 100), the total is the sum of points (0–100). Ties are ordered by site id, so pages are stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sites.errors import SearchCriteriaError

MAX_LIMIT = 1000
WEIGHT_TOLERANCE = 0.01
HUBS = ("main_road", "rail_station", "airport", "port", "town_centre")


class Filter(BaseModel):
    """A hard filter on one attribute: a range (``min``/``max``, inclusive) or a set of allowed values (``in``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    min: float | None = None
    max: float | None = None
    in_: list[str | float] | None = Field(None, alias="in")

    @model_validator(mode="after")
    def _something(self) -> Filter:
        if self.min is None and self.max is None and self.in_ is None:
            raise ValueError("give min, max or in")
        if self.in_ is not None and not self.in_:
            raise ValueError("'in' needs at least one value")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is greater than max {self.max:g}")
        return self


class Criterion(BaseModel):
    """A soft criterion: an attribute, its weight in percent and which values are better."""

    model_config = ConfigDict(extra="forbid")

    attribute: str
    weight: float = Field(gt=0, le=100)
    direction: Literal["higher", "lower", "ideal"]
    ideal: float | None = None

    @model_validator(mode="after")
    def _ideal(self) -> Criterion:
        if self.direction == "ideal" and self.ideal is None:
            raise ValueError("direction 'ideal' needs an 'ideal' value")
        if self.direction != "ideal" and self.ideal is not None:
            raise ValueError(f"'ideal' only goes with direction 'ideal', not {self.direction!r}")
        return self


class SearchRequest(BaseModel):
    """The JSON body of ``POST /sites/search`` (and what the query-string form is parsed into)."""

    model_config = ConfigDict(extra="forbid")

    filters: dict[str, Filter] = Field(default_factory=dict)
    has_fibre: bool | None = None
    within_minutes: dict[Literal["main_road", "rail_station", "airport", "port", "town_centre"],
                         float] = Field(default_factory=dict)
    criteria: list[Criterion] = Field(default_factory=list)
    limit: int = Field(10, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0)

    @field_validator("criteria")
    @classmethod
    def _weights(cls, criteria: list[Criterion]) -> list[Criterion]:
        total = sum(c.weight for c in criteria)
        if criteria and abs(total - 100.0) > WEIGHT_TOLERANCE:
            raise ValueError(f"criterion weights must sum to 100 (%); they sum to {total:g}")
        names = [c.attribute for c in criteria]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"each attribute may be scored once; repeated: {', '.join(twice)}")
        return criteria


def parse_request(body: Any) -> SearchRequest:
    """Validate a request body; a ``SearchCriteriaError`` names the offending criterion or filter."""
    try:
        return SearchRequest.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _location(err.get("loc", ()))
        raise SearchCriteriaError(f"{where or 'body'}: {err.get('msg')}", where or "body") from None


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("in_",):
            out += ".in"
        else:
            out += f".{part}" if out else str(part)
    return out


@lru_cache(maxsize=1)
def attribute_labels() -> dict[str, dict[str, Any]]:
    """Labels (nb, en), unit and decimals of the known attributes (``attributes.yaml``)."""
    return yaml.safe_load(files("sites").joinpath("attributes.yaml").read_text(encoding="utf-8"))


def _label(name: str, lang: str) -> str:
    return str(attribute_labels().get(name, {}).get(lang, name))


def format_value(name: str, value: float, lang: str = "en") -> str:
    """A value as written in a sentence: its decimals, a no-break space between thousands, decimal comma in
    bokmål, and the unit."""
    meta = attribute_labels().get(name, {})
    decimals = int(meta.get("decimals", 1))
    text = f"{value:,.{decimals}f}".replace(",", "\u00a0")
    if lang == "nb":
        text = text.replace(".", ",")
    unit = meta.get("unit", "")
    return f"{text} {unit}".strip()


@dataclass(frozen=True)
class SiteTable:
    """The current ``sites`` version as columns, ready for many searches (built once per version)."""

    version: int
    ids: NDArray[np.object_]
    numeric: dict[str, NDArray[np.float64]]
    text: dict[str, NDArray[np.object_]]
    order: NDArray[np.int64]  # row order by site id (the tie-break)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, version: int) -> SiteTable:
        """Split the register into float columns (numbers, booleans) and text columns."""
        numeric: dict[str, NDArray[np.float64]] = {}
        text: dict[str, NDArray[np.object_]] = {}
        for col in frame.columns:
            if col == "geometry":
                continue
            series = frame[col]
            if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
                numeric[col] = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            else:
                text[col] = series.astype(object).where(series.notna(), None).to_numpy()
        ids = frame["site_id"].astype(str).to_numpy(dtype=object)
        return cls(version, ids, numeric, text, np.argsort(ids, kind="stable"))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class CriterionScore:
    """One criterion's result for one site."""

    attribute: str
    value: float | None
    score: float  # 0..1
    points: float  # weight × score


@dataclass(frozen=True)
class RankedSite:
    """A site in the answer: its row, total score, parts and explanation."""

    row: int
    site_id: str
    score: float
    parts: list[CriterionScore]
    explanation: dict[str, str]


@dataclass(frozen=True)
class SearchResult:
    """A page of ranked sites and how many matched the filters."""

    number_matched: int
    sites: list[RankedSite]


def _check_attributes(table: SiteTable, request: SearchRequest) -> None:
    known = sorted(set(table.numeric) | set(table.text))
    for name, flt in request.filters.items():
        if name not in known:
            raise SearchCriteriaError(f"filters.{name}: unknown attribute {name!r}; searchable attributes: "
                                      f"{', '.join(known)}", f"filters.{name}")
        if (flt.min is not None or flt.max is not None) and name not in table.numeric:
            raise SearchCriteriaError(f"filters.{name}: {name!r} is text; filter it with 'in', not min/max",
                                      f"filters.{name}")
    for i, crit in enumerate(request.criteria):
        if crit.attribute not in table.numeric:
            hint = "it is text, not a number" if crit.attribute in table.text else "unknown attribute"
            raise SearchCriteriaError(f"criteria[{i}].attribute: cannot score {crit.attribute!r} ({hint}); numeric "
                                      f"attributes: {', '.join(sorted(table.numeric))}", f"criteria[{i}].attribute")


def _mask(table: SiteTable, request: SearchRequest) -> NDArray[np.bool_]:
    keep = np.ones(len(table), dtype=bool)
    for name, flt in request.filters.items():
        if name in table.numeric:
            values = table.numeric[name]
            with np.errstate(invalid="ignore"):
                if flt.min is not None:
                    keep &= values >= flt.min
                if flt.max is not None:
                    keep &= values <= flt.max
                if flt.in_ is not None:
                    allowed = [float(v) for v in flt.in_ if _is_number(v)]
                    keep &= np.isin(values, allowed)
        else:
            allowed_text = {str(v) for v in (flt.in_ or [])}
            keep &= np.array([v is not None and str(v) in allowed_text for v in table.text[name]], dtype=bool)
    if request.has_fibre is not None:
        fibre = table.numeric.get("fibre", np.zeros(len(table)))
        keep &= (fibre == 1.0) if request.has_fibre else (fibre != 1.0)
    for hub, minutes in request.within_minutes.items():
        values = table.numeric.get(f"{hub}_min", np.full(len(table), np.nan))
        with np.errstate(invalid="ignore"):
            keep &= values <= minutes
    return keep


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def criterion_scores(values: NDArray[np.float64], direction: str, ideal: float | None) -> NDArray[np.float64]:
    """0..1 scores of ``values`` (the filtered sites) for one criterion; missing values score 0."""
    present = np.isfinite(values)
    out = np.zeros(len(values))
    if not present.any():
        return out
    v = values[present]
    if direction == "ideal":
        gap = np.abs(v - float(ideal))  # type: ignore[arg-type]
        largest = gap.max()
        out[present] = 1.0 - gap / largest if largest > 0 else 1.0
        return out
    lo, hi = v.min(), v.max()
    if hi == lo:
        out[present] = 1.0
    elif direction == "higher":
        out[present] = (v - lo) / (hi - lo)
    else:
        out[present] = (hi - v) / (hi - lo)
    return out


def search(table: SiteTable, request: SearchRequest) -> SearchResult:
    """Filter, score and rank; returns the requested page."""
    _check_attributes(table, request)
    rows = table.order[_mask(table, request)[table.order]]  # site-id order
    total = np.zeros(len(rows))
    parts = []
    for crit in request.criteria:
        values = table.numeric[crit.attribute][rows]
        score = criterion_scores(values, crit.direction, crit.ideal)
        points = crit.weight * score
        total += points
        parts.append((crit, values, score, points))
    total = np.round(total, 6)
    ranked = np.argsort(-total, kind="stable")  # stable: ties stay in site-id order
    page = ranked[request.offset:request.offset + request.limit]
    out = []
    for k in page:
        site_parts = [CriterionScore(c.attribute, None if not np.isfinite(v[k]) else float(v[k]), float(s[k]),
                                     float(p[k])) for c, v, s, p in parts]
        out.append(RankedSite(int(rows[k]), str(table.ids[rows[k]]), float(total[k]), site_parts,
                              explain(float(total[k]), request.criteria, site_parts)))
    return SearchResult(len(rows), out)


def explain(total: float, criteria: list[Criterion], parts: list[CriterionScore]) -> dict[str, str]:
    """One line per language: the score, the strongest criterion and (with several) the weakest."""
    if not parts:
        return {"nb": "Oppfyller alle filtrene (ingen vekting valgt).",
                "en": "Meets every filter (no weighting chosen)."}

    def fact(part: CriterionScore, lang: str) -> str:
        value = ("mangler" if lang == "nb" else "missing") if part.value is None else format_value(
            part.attribute, part.value, lang)
        return f"{_label(part.attribute, lang)} ({value})"

    best = max(parts, key=lambda p: p.score)
    worst = min(parts, key=lambda p: p.score)
    nb = f"Poeng {total:.0f} av 100: sterkest på {fact(best, 'nb')}"
    en = f"Score {total:.0f} of 100: strongest on {fact(best, 'en')}"
    if len(parts) > 1 and worst is not best and worst.score < best.score:
        nb += f", svakest på {fact(worst, 'nb')}"
        en += f", weakest on {fact(worst, 'en')}"
    return {"nb": nb + ".", "en": en + "."}


# --- the query-string form -------------------------------------------------------------------------------


def request_from_query(params: list[tuple[str, str]]) -> SearchRequest:
    """Parse the shareable GET form (see README, "Site portfolio and search").

    ``min.ATTR=V``, ``max.ATTR=V``, ``in.ATTR=A,B``, ``fibre=true``, ``within.HUB=MINUTES``,
    ``score=ATTR:DIRECTION:WEIGHT[:IDEAL]`` (repeatable), ``limit``, ``offset``.
    """
    body: dict[str, Any] = {"filters": {}, "within_minutes": {}, "criteria": []}
    for key, value in params:
        if key.startswith(("min.", "max.", "in.")):
            op, name = key.split(".", 1)
            entry = body["filters"].setdefault(name, {})
            entry[op] = [v for v in value.split(",") if v != ""] if op == "in" else value
        elif key.startswith("within."):
            body["within_minutes"][key.split(".", 1)[1]] = value
        elif key == "fibre":
            body["has_fibre"] = value
        elif key == "score":
            bits = value.split(":")
            if len(bits) not in (3, 4):
                i = len(body["criteria"])
                raise SearchCriteriaError(f"criteria[{i}]: write score=ATTRIBUTE:DIRECTION:WEIGHT[:IDEAL], "
                                          f"e.g. score=population_45min:higher:40; got {value!r}", f"criteria[{i}]")
            crit: dict[str, Any] = {"attribute": bits[0], "direction": bits[1], "weight": bits[2]}
            if len(bits) == 4:
                crit["ideal"] = bits[3]
            body["criteria"].append(crit)
        elif key in ("limit", "offset"):
            body[key] = value
        elif key in ("f", "lang"):
            continue
        else:
            raise SearchCriteriaError(f"{key}: unknown search parameter; use min.ATTR, max.ATTR, in.ATTR, fibre, "
                                      "within.HUB, score, limit or offset", key)
    return parse_request(body)


def request_to_query(request: SearchRequest) -> list[tuple[str, str]]:
    """The query-string form of a request (for shareable links)."""
    out: list[tuple[str, str]] = []
    for name, flt in request.filters.items():
        if flt.min is not None:
            out.append((f"min.{name}", f"{flt.min:g}"))
        if flt.max is not None:
            out.append((f"max.{name}", f"{flt.max:g}"))
        if flt.in_ is not None:
            out.append((f"in.{name}", ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in flt.in_)))
    if request.has_fibre is not None:
        out.append(("fibre", str(request.has_fibre).lower()))
    for hub, minutes in request.within_minutes.items():
        out.append((f"within.{hub}", f"{minutes:g}"))
    for c in request.criteria:
        out.append(("score", f"{c.attribute}:{c.direction}:{c.weight:g}" + (f":{c.ideal:g}" if c.ideal is not None
                                                                            else "")))
    out += [("limit", str(request.limit)), ("offset", str(request.offset))]
    return out
