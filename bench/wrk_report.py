"""Read wrk's ``--latency`` report (shared by the benchmark scripts; not a test)."""

from __future__ import annotations


def ms(text: str) -> float:
    """wrk's duration text ("812.00us", "1.20ms", "2.01s") in milliseconds."""
    for unit, factor in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def parse_wrk(out: str) -> dict[str, float]:
    """Requests/s, request count, p50/p99 latency (ms) and non-2xx responses from a wrk report."""
    result = {"rps": 0.0, "requests": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": 0.0}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif "requests in" in line:
            result["requests"] = float(parts[0])
        elif len(parts) == 2 and parts[0] in ("50%", "99%"):
            result[f"p{parts[0][:-1]}"] = ms(parts[1])
        elif line.strip().startswith("Non-2xx"):
            result["errors"] = float(parts[-1])
    return result
