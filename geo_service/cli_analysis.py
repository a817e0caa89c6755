"""``geo-service analyse`` and ``geo-service rules check``: the constraint analysis from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from constraints.explain import explain_rule
from constraints.publish import BUSINESS_AREAS, failure_reason, refresh_derived
from constraints.refresh_record import record_current_failure
from constraints.reserve import land_reserve, land_reserve_csv, land_reserve_json
from constraints.rules import describe_rules, load_rules
from geo_service.cli_common import WorkspaceOpt, err, out, settings_for, user_errors
from geo_service.cli_refresh import report_engine, wait_turn
from geo_service.settings import Settings
from geo_service.stores import open_store
from layers.store import Store
from sites.config import load_sites_config
from sites.publish import refresh_sites

rules_app = typer.Typer(help="Check and show the objection rules.", no_args_is_help=True)

RulesOpt = Annotated[Path | None, typer.Option("--rules", help="rule-set override (YAML/TOML); "
                                                                 "default WORKSPACE/rules.yaml if present")]


def refresh_after_publish(store: Store, settings: Settings, *, wait: bool) -> None:
    """After a command published input layers: refresh the derived collections in a background process, or
    (``wait``) here, saying what was recomputed."""
    from geo_service.cli_refresh import start_refresh

    if not wait:
        start_refresh(store, settings)
    elif refresh_and_report(store, settings):
        report_engine(store)


def refresh_and_report(store: Store, settings: Settings, *, force: bool = False, strict: bool = False) -> bool:
    """Recompute the derived collections if stale and say what was published; True when they are current.

    A failure never undoes what the command did before (a publish stays published): without ``strict`` it is
    one warning line (the previous derived versions keep serving, marked behind); with ``strict`` (``analyse``,
    where the analysis is what was asked for) it is the one-line error and exit 2.
    """
    rules = None
    try:
        rules = load_rules(settings.effective_rules_file())
        published = refresh_derived(store, rules, force=force)
    except Exception as exc:  # noqa: BLE001 - any failure of the analysis: the last good results keep serving
        reason = failure_reason(exc)
        if rules is not None:  # so a server (another process) says why the results are behind
            record_current_failure(store, rules, reason)
        if strict:
            raise AnalysisFailed(reason) from None
        err.print(Text("warning: ", style="bold yellow") + Text(
            f"the analysis is behind: {reason}. The previous objection-risk and business-areas versions keep "
            "serving; run `geo-service analyse` after fixing the cause."), highlight=False, soft_wrap=True)
        return False
    try:  # ``force`` is for the analysis; the register follows when what it reads changed (by content)
        published += refresh_sites(store, load_sites_config(settings.effective_sites_config()))
    except Exception as exc:  # noqa: BLE001 - the site register is behind; the previous version keeps serving
        reason = failure_reason(exc)
        if strict:
            raise AnalysisFailed(f"the site register: {reason}") from None
        err.print(Text("warning: ", style="bold yellow") + Text(
            f"the site register is behind: {reason}. The previous sites version keeps serving; run "
            "`geo-service analyse` after fixing the cause."), highlight=False, soft_wrap=True)
        return False
    for record in published:
        out.print(f"recomputed {record.layer_id}: version {record.version}, {record.feature_count} features",
                  highlight=False)
    return True


class AnalysisFailed(ValueError):
    """``geo-service analyse`` could not compute the derived collections (printed as one line, exit 2)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the analysis failed: {reason}. The previous derived versions keep serving.")


def analyse(
    workspace: WorkspaceOpt = None,
    rules: RulesOpt = None,
    force: Annotated[bool, typer.Option("--force", help="recompute the analysis even when nothing changed (the "
                                                        "site register follows when its inputs' content changed)")]
    = False,
    csv: Annotated[Path | None, typer.Option("--csv", help="write the land-reserve table as CSV")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the land-reserve accounting as JSON")]
    = None,
    distributed: Annotated[bool, typer.Option("--distributed", help="partition by municipality and run on Dask "
                                              "(a local cluster unless --scheduler)")] = False,
    workers: Annotated[int, typer.Option("--workers", help="worker processes of the local cluster")] = 2,
    memory_limit: Annotated[str, typer.Option("--memory-limit", help="memory per local worker")] = "4GB",
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="address of a running Dask scheduler, "
                                                  "e.g. tcp://10.0.0.5:8786 (implies --distributed)")] = None,
    connect_timeout: Annotated[float, typer.Option("--connect-timeout", help="seconds to wait for the "
                                                   "scheduler")] = 10.0,
    queued: Annotated[bool, typer.Option("--queued", hidden=True, help="the background refresh after a publish: "
                                                                       "one at a time, exit if one is waiting")]
    = False,
) -> None:
    """Run the constraint analysis; publish objection-risk and business-areas; print the land reserve.

    Only the zones an input change can affect are recomputed (when provably exact); ``--force`` recomputes all.
    """
    with user_errors():
        settings = settings_for(workspace, **({"rules_file": rules} if rules else {}))
        store = open_store(settings)
        if queued:
            if not wait_turn(store):
                out.print("another refresh is queued; it will include this publish", highlight=False)
            elif refresh_and_report(store, settings):
                report_engine(store)
            out.print("background refresh finished", highlight=False)
            return
        if distributed or scheduler:
            from geo_service.cli_distributed import cluster_options, refresh_on_dask

            refresh_on_dask(store, settings, cluster_options(workers, memory_limit, scheduler, connect_timeout),
                            force=force)
            force = False  # done on the cluster; the site register below follows the new business areas
        refresh_and_report(store, settings, force=force, strict=True)
        record = store.get_layer(BUSINESS_AREAS).current
        table = land_reserve(store.read_frame(record))
    if csv is not None:
        csv.write_text(land_reserve_csv(table), encoding="utf-8")
    if json_file is not None:
        payload = land_reserve_json(table, {"business_areas_version": record.version, **record.provenance})
        json_file.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    view = Table("kommune", "pre-approved daa", "reserve daa", "conflict daa", "net available daa",
                 "dyrka jord in reserves daa", title=f"Land reserve (business-areas v{record.version})")
    for row in table.itertuples():
        view.add_row(f"{row.kommunenummer} {row.kommunenavn or ''}", f"{row.pre_approved_daa:.1f}",
                     f"{row.reserve_daa:.1f}", f"{row.conflict_daa:.1f}", f"{row.net_available_daa:.1f}",
                     f"{row.farmland_in_reserves_daa:.1f}")
    out.print(view)


@rules_app.command("check")
def rules_check(file: Annotated[Path, typer.Argument(help="rule-set file (YAML or TOML) to validate")]) -> None:
    """Validate a rule file merged over the defaults and print the effective rules."""
    with user_errors():
        rules = load_rules(file)
    out.print(describe_rules(rules), highlight=False, soft_wrap=True)
    out.print(f"rule set {rules.hash()[:12]} is valid ({len(rules.active_rules)} active rules)", highlight=False)


@rules_app.command("explain")
def rules_explain(
    rule_id: Annotated[str, typer.Argument(help="rule id, e.g. watercourse-belt")],
    workspace: WorkspaceOpt = None,
    rules: RulesOpt = None,
    lang: Annotated[str, typer.Option("--lang", help="nb or en")] = "en",
) -> None:
    """Print a rule, its legal basis, sources and its effective values per municipality."""
    with user_errors():
        if lang not in ("nb", "en"):
            raise ValueError(f"--lang must be nb or en, got {lang!r}")
        settings = settings_for(workspace, **({"rules_file": rules} if rules else {}))
        text = explain_rule(load_rules(settings.effective_rules_file()), rule_id, lang=lang)
    out.print(text, highlight=False, soft_wrap=True, markup=False)
