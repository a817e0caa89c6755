"""What changed between two versions of a collection (features added, removed, changed; risk changes and why)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from constraints.publish import OBJECTION_RISK
from constraints.risk_changes import risk_changes
from geo_service.dependencies import LayerDep, StoreDep
from geo_service.links import with_query
from layers.diff import diff_versions
from layers.errors import InvalidQuery, VersionNotFound
from maps.changes import changes_json, page
from maps.i18n import parse_lang

router = APIRouter(tags=["Collections"])


@router.get("/collections/{collectionId}/changes", summary="What changed between two versions")
def collection_changes(
    request: Request,
    layer: LayerDep,
    store: StoreDep,
    from_: Annotated[int | None, Query(alias="from", ge=1, le=1_000_000, description="older version (default: "
                                                                                   "the one before `to`)")] = None,
    to: Annotated[int | None, Query(ge=1, le=1_000_000, description="newer version (default: current)")] = None,
    f: Annotated[str | None, Query(description="json or html (default: html when the browser asks for it)")] = None,
    lang: Annotated[str | None, Query(description="nb (default) or en")] = None,
) -> Response:
    """Features added, removed and changed (by feature identity); for ``objection-risk`` also the zones whose
    risk changed and the rules that moved it."""
    versions = {v.version: v for v in store.versions(layer.id)}
    b = to or layer.current.version
    a = from_ if from_ is not None else max((v for v in versions if v < b), default=b)
    for name, v in (("from", a), ("to", b)):
        if v not in versions:
            raise VersionNotFound(f"{layer.id} has no version {v} ({name}); versions: "
                                  f"{', '.join(map(str, sorted(versions)))}")
    if a > b:
        raise InvalidQuery("from", f"from={a} is newer than to={b}; give the older version first")
    old, new = store.read_frame(versions[a]), store.read_frame(versions[b])
    diff = diff_versions(old, new, ignore=("findings",) if layer.id == OBJECTION_RISK else ())
    risk = risk_changes(old, new) if layer.id == OBJECTION_RISK else None
    if f == "html" or (f is None and "text/html" in request.headers.get("accept", "")):
        language = parse_lang(lang)
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(page(layer.title, a, b, diff, risk, language, static_url=f"{root}/static",
                                 lang_switch_url=with_query(request, lang="nb" if language == "en" else "en")))
    return JSONResponse(changes_json(layer.id, a, b, diff, risk))
