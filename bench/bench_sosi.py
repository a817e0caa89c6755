"""Benchmark the SOSI reader on a generated (synthetic) SOSI Plan file of about 200 MB.

    python bench/bench_sosi.py [--mb 200] [--keep /tmp/bench.sos]

The file holds RpArealformålOmråde FLATEs built from ..REF to RpGrense KURVEs (30 points each, UTF-8,
ENHET 0.01). Reported: MB/s for pass 1 (scan), the full read of the FLATE layer (both passes, rings
assembled from curves) and the KURVE layer, peak RSS, and the ratio to the floor of reading and
decoding the file once (the same run, the same machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from layers.sosi import read, scan

HEADER = """.HODE
..TEGNSETT UTF-8
..TRANSPAR
...KOORDSYS 22
...ORIGO-NØ 0 0
...ENHET 0.01
..SOSI-VERSJON 4.5
..SOSI-NIVÅ 4
"""


def generate(path: Path, megabytes: int) -> int:
    """Write a synthetic file of about ``megabytes``; returns the number of FLATEs."""
    target = megabytes * 2**20
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER)
        written = len(HEADER)
        while written < target:
            n += 1
            e0, n0 = 50_000_000 + (n % 1000) * 10_000, 660_000_000 + (n // 1000) * 10_000
            parts = []
            # four curves, each one side of a 90 x 90 m square, 30 points per side
            corners = [(n0, e0), (n0, e0 + 9000), (n0 + 9000, e0 + 9000), (n0 + 9000, e0), (n0, e0)]
            for k in range(4):
                (na, ea), (nb, eb) = corners[k], corners[k + 1]
                pts = "\n".join(f"{na + (nb - na) * i // 29} {ea + (eb - ea) * i // 29}" for i in range(30))
                parts.append(f".KURVE {4 * n + k}:\n..OBJTYPE RpGrense\n..KVALITET\n...MÅLEMETODE 82\n"
                             f"...NØYAKTIGHET 200\n..NØ\n{pts}\n")
            refs = " ".join(f":{4 * n + k}" for k in range(4))
            parts.append(f".FLATE {1_000_000_000 + n}:\n..OBJTYPE RpArealformålOmråde\n..RPAREALFORMÅL 1300\n"
                         f"..EIERFORM 3\n..FELTNAVN \"BN{n}\"\n..NASJONALAREALPLANID\n...KOMM 3006\n"
                         f"...PLANID \"2020{n % 1000:03d}\"\n..REF {refs}\n..NØ\n{n0 + 4500} {e0 + 4500}\n")
            block = "".join(parts)
            fh.write(block)
            written += len(block.encode())
        fh.write(".SLUTT\n")
    return n


def floor_seconds(path: Path) -> float:
    """Read and decode the file once in 8 MB pieces: what any reader must pay."""
    started = time.perf_counter()
    with path.open("rb") as fh:
        while block := fh.read(8 * 2**20):
            block.decode("utf-8", "ignore")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkdtemp()) / "bench.sos"
    if not path.exists():
        flates = generate(path, args.mb)
        print(f"generated {path} with {flates} FLATEs (synthetic)")
    size_mb = path.stat().st_size / 2**20
    print(f"file: {size_mb:.0f} MB; load: {os.getloadavg()[0]:.2f}")
    floor = floor_seconds(path)
    timings: dict[str, tuple[float, float]] = {}

    def timed(name: str, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        timings[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return result

    info = timed("scan (pass 1)", lambda: scan(path))
    areas = len(timed("read FLATE layer", lambda: read(path, "RpArealformålOmråde", info=info)[0]))
    curves = len(timed("read KURVE layer", lambda: read(path, "RpGrense", info=info)[0]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'floor (read + decode)':<24} wall {floor:6.2f} s {size_mb / floor:7.1f} MB/s")
    for name, (wall, cpu) in timings.items():
        print(f"{name:<24} wall {wall:6.2f} s {size_mb / wall:7.1f} MB/s | cpu {cpu:6.2f} s {size_mb / cpu:7.1f} MB/s"
              f" | x{wall / floor:.0f} floor")
    wall = timings["scan (pass 1)"][0] + timings["read FLATE layer"][0]
    cpu = timings["scan (pass 1)"][1] + timings["read FLATE layer"][1]
    print(f"FLATE layer ({areas} features, {curves} curves), scan + read: {size_mb / wall:.1f} MB/s wall, "
          f"{size_mb / cpu:.1f} MB/s cpu; peak RSS {peak:.0f} MB; load after: {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
