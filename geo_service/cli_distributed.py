"""``geo-service analyse --distributed``: the derived refresh partitioned by municipality on Dask."""

from __future__ import annotations

from constraints.distributed import ClusterOptions, RunReport, refresh_distributed
from constraints.rules import load_rules
from geo_service.cli_common import out
from geo_service.settings import Settings
from layers.store import Store


def cluster_options(workers: int, memory_limit: str, scheduler: str | None,
                    connect_timeout: float = 10.0) -> ClusterOptions:
    """Check the options (one clear line on a bad value) and name the cluster to use."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    from dask.utils import parse_bytes

    try:
        limit = parse_bytes(memory_limit)
    except (ValueError, TypeError):
        raise ValueError(f"--memory-limit {memory_limit!r} is not a size; write it like 4GB or 512MiB") from None
    if limit < 256 * 2**20:
        raise ValueError(f"--memory-limit {memory_limit} is too small for a worker; give at least 256MiB")
    if connect_timeout <= 0:
        raise ValueError(f"--connect-timeout must be more than 0 seconds, got {connect_timeout:g}")
    if scheduler is not None and "://" not in scheduler:
        scheduler = f"tcp://{scheduler}"
    return ClusterOptions(scheduler=scheduler, workers=workers, memory_limit=memory_limit,
                          connect_timeout_s=connect_timeout)


def refresh_on_dask(store: Store, settings: Settings, options: ClusterOptions, *, force: bool) -> RunReport:
    """Recompute the derived collections on the cluster if stale (or forced) and say what was published."""
    report = RunReport()
    published = refresh_distributed(store, load_rules(settings.effective_rules_file()), options, force=force,
                                    report=report)
    if not published:
        out.print("the derived collections are up to date (use --force to recompute)", highlight=False)
        return report
    where = options.scheduler or f"a local cluster of {options.workers} worker processes"
    seconds = " + ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
    out.print(f"analysed {report.zones} zones in {report.partitions} partitions on {where} "
              f"({report.workers} workers): {seconds}", highlight=False)
    for record in published:
        out.print(f"recomputed {record.layer_id}: version {record.version}, {record.feature_count} features",
                  highlight=False)
    return report
