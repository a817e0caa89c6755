"""The analysis partitioned by municipality on Dask ``distributed``: a local cluster by default, or a scheduler.

The client plans the partitions (:func:`constraints.plan.plan_partitions`) from the zoning layers, sends each
task a few ids and the layer versions to read, never the layers: every worker opens the store itself (a
GeoPackage workspace on a path all workers share, or PostGIS) and reads its partition by bounding box. The client
combines the per-zone results and publishes ONE version of ``objection-risk`` and ``business-areas`` with
:func:`constraints.publish.publish_derived`, as ``geo-service analyse`` does.

Run it on N machines: ``dask scheduler`` on one, ``dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1
--memory-limit 4GB`` on each, the workspace on a shared path (same path everywhere) or a PostGIS URL, then
``geo-service analyse --distributed --scheduler tcp://HOST:8786``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from constraints.analysis import ZoneAnalysis
from constraints.partition import (
    PartitionResult,
    PartitionTask,
    StoreSpec,
    analyse_partition,
    combine,
    reach_m,
    warm_up,
)
from constraints.plan import MAX_ZONES, plan_partitions, read_outlines
from constraints.publish import Inputs, current_inputs, is_stale, publish_derived
from constraints.rules import RuleSet
from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.store import Store, VersionRecord


class SchedulerUnreachable(ValueError):
    """No Dask scheduler answers at the address given (one line for the CLI)."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot reach the Dask scheduler at {address} ({reason}); start one with "
                         "`dask scheduler` and workers with `dask worker ADDRESS`, or leave out --scheduler to run "
                         "a local cluster")


class DistributedFailed(ValueError):
    """A partition failed on a worker (the message names the partition and the cause)."""


@dataclass(frozen=True)
class ClusterOptions:
    """Where to run: an existing scheduler, or a local cluster of worker processes."""

    scheduler: str | None = None  # tcp://HOST:PORT; None: a LocalCluster
    workers: int = 2
    memory_limit: str = "4GB"  # per worker (local cluster)
    threads_per_worker: int = 1
    connect_timeout_s: float = 10.0


@dataclass
class RunReport:
    """What a distributed run did, for the CLI and the benchmark."""

    partitions: int = 0
    zones: int = 0
    workers: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    slowest: list[tuple[str, float]] = field(default_factory=list)
    far_distances: int = 0
    tasks: list[dict[str, Any]] = field(default_factory=list)  # per partition: key and its stats
    started_at: float = 0.0  # time.time() when the partitions were submitted
    published: list[VersionRecord] = field(default_factory=list)


@contextmanager
def dask_client(options: ClusterOptions) -> Iterator[Any]:
    """A ``distributed.Client`` on the scheduler, or on a LocalCluster of processes that is closed after."""
    from distributed import Client, LocalCluster

    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout=f"{options.connect_timeout_s}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise SchedulerUnreachable(options.scheduler, _first_line(exc)) from None
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    # one engine thread per worker process: the workers are the parallelism (GEO_SERVICE_THREADS for the engine);
    # no statistical profiler sampling every task's stack each 10 ms (the dashboard's profile is not used here)
    with dask.config.set({"distributed.worker.daemon": False, "distributed.worker.profile.enabled": False,
                          "distributed.nanny.pre-spawn-environ.GEO_SERVICE_THREADS": str(
                              options.threads_per_worker)}), \
            LocalCluster(n_workers=options.workers, threads_per_worker=options.threads_per_worker,
                         processes=True, memory_limit=options.memory_limit, dashboard_address=":0",
                         host="127.0.0.1") as cluster, Client(cluster) as client:
        yield client


def analyse_distributed(store: Store, rules: RuleSet, client: Any, *, inputs: Inputs | None = None,
                        keep_findings: bool = False, max_zones: int = MAX_ZONES,
                        on_result: Callable[[PartitionResult], None] | None = None,
                        report: RunReport | None = None) -> ZoneAnalysis:
    """Run the analysis of the store's current layers on the cluster behind ``client``; nothing is published.

    ``keep_findings``: return the analysis as :func:`constraints.analysis.run_analysis` does (every finding); by
    default the workers return what a publish writes (:func:`constraints.publish.publishable_frames`: each zone's
    findings folded into ``objection_risk``, lists as JSON text; ``findings`` empty), converted in parallel and far
    less to move; publish them with :func:`constraints.publish.publish_derived`.
    """
    from distributed import as_completed

    report = report if report is not None else RunReport()
    started = time.perf_counter()
    # the workers import the engine while the client plans (held until the end: a released future is cancelled;
    # another worker may run it when one leaves, so it never waits for a worker that is gone)
    warming = [client.submit(warm_up, workers=[address], allow_other_workers=True, pure=False, priority=1)
               for address in _workers(client)]
    inputs = inputs or current_inputs(store)
    if not inputs.zoning:
        raise LayerNotFound("no zoning layer is published; add one with "
                            "`geo-service layers add PLAN --id arealplan --kind zoning`")
    zoning = [read_outlines(store, r.current) for r in inputs.zoning]
    municipalities = [store.read_frame(r.current) for r in inputs.constraints if r.kind == LayerKind.municipality]
    partitions = plan_partitions(zoning, municipalities, max_zones=max_zones)
    del zoning, municipalities
    report.partitions = len(partitions)
    report.zones = sum(p.n_zones for p in partitions)
    report.workers = len(_workers(client))
    report.seconds["plan"] = time.perf_counter() - started
    spec = StoreSpec.of(store)
    reach = reach_m(rules)
    zoning_versions = tuple(r.current for r in inputs.zoning)
    constraints = tuple(inputs.constraints)
    rules_future = client.scatter(rules, broadcast=True, hash=False)
    report.started_at = time.time()
    tasks = [PartitionTask(p, zoning_versions, constraints, reach, keep_findings) for p in partitions]
    futures = [client.submit(analyse_partition, spec, task, rules_future, key=f"partition-{i}-{task.partition.key}",
                             pure=False, priority=-i) for i, task in enumerate(tasks)]
    results: list[PartitionResult] = []
    for future in as_completed(futures):
        try:
            result = future.result()
        except Exception as exc:
            for other in futures:
                other.cancel()
            raise DistributedFailed(f"partition {future.key}: {type(exc).__name__}: {_first_line(exc)}") from exc
        future.release()
        results.append(result)
        report.far_distances += int(result.stats.get("far_distances", 0))
        report.tasks.append({"key": result.key, **result.stats})
        if on_result is not None:
            on_result(result)
    del warming
    report.seconds["tasks"] = time.perf_counter() - started - report.seconds["plan"]
    report.slowest = sorted(((r.key, r.stats.get("total_s", 0.0)) for r in results), key=lambda kv: -kv[1])[:5]
    combined_at = time.perf_counter()
    analysis = combine(results, rules)
    report.seconds["combine"] = time.perf_counter() - combined_at
    return analysis


def refresh_distributed(store: Store, rules: RuleSet, options: ClusterOptions, *, force: bool = False,
                        report: RunReport | None = None) -> list[VersionRecord]:
    """``refresh_derived`` on a cluster: analyse partitioned, publish one version of each derived collection.

    Holds the store's derived-layers lock like ``refresh_derived``; returns the versions published (none when
    nothing changed and ``force`` is off).
    """
    report = report if report is not None else RunReport()
    if options.scheduler:  # a scheduler that does not answer is an error even when nothing is stale
        with dask_client(options) as client:
            return _refresh(store, rules, client, force, report)
    with store.exclusive("derived-layers"):
        inputs = current_inputs(store)
        if not inputs.zoning or not (force or is_stale(store, rules, inputs)):
            return []
    with dask_client(options) as client:
        return _refresh(store, rules, client, force, report)


def _refresh(store: Store, rules: RuleSet, client: Any, force: bool, report: RunReport) -> list[VersionRecord]:
    with store.exclusive("derived-layers"):
        inputs = current_inputs(store)
        if not inputs.zoning or not (force or is_stale(store, rules, inputs)):
            return []
        analysis = analyse_distributed(store, rules, client, inputs=inputs, report=report)
        started = time.perf_counter()
        engine = {**analysis.provenance, "mode": "distributed", "full_reason": "asked for (--distributed)",
                  "recomputed_zones": len(analysis.objection_risk), "zones": len(analysis.objection_risk),
                  "partitions": report.partitions}
        report.published = publish_derived(store, rules, inputs, analysis.objection_risk, analysis.business_areas,
                                           engine)
        report.seconds["publish"] = time.perf_counter() - started
        return report.published


def _workers(client: Any) -> list[str]:
    """The addresses of the cluster's workers."""
    return list(client.scheduler_info(n_workers=-1).get("workers", {})) if hasattr(client, "scheduler_info") else []


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
