"""What the benchmark's engine jobs (duckdb_job.py, polars_job.py) share: timing a stage with the
process's peak RSS during it, and the two-sided p-value of a Pearson r (Student's t), which
neither engine has.
"""

from __future__ import annotations

import math
import resource
import sys
import time

def _vm_hwm_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class Stage:
    """Times a stage and records the process's peak RSS during it.

    On Linux, writing "5" to /proc/self/clear_refs resets the high-water mark (VmHWM), so the
    value read at the end belongs to this stage. Where that is not possible the lifetime peak
    from getrusage is reported instead (and flagged)."""

    def __init__(self, name: str, stages: list):
        self.name, self.stages = name, stages

    def __enter__(self):
        self.reset = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.reset = True
        except OSError:
            pass
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        seconds = time.perf_counter() - self.started
        peak = _vm_hwm_bytes() if self.reset else None
        if peak is None:
            scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
        self.stages.append({"name": self.name, "seconds": round(seconds, 4), "peak_rss_bytes": peak, "peak_is_lifetime": not self.reset})
        return False


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_test_p(r: float | None, df: int | None) -> float | None:
    """Two-sided p of r under H0: r = 0, Student's t with df: I_{1−r²}(df/2, 1/2)."""
    if r is None or df is None or df < 1 or math.isnan(r):
        return None
    if abs(r) >= 1.0:
        return 0.0
    return min(1.0, max(0.0, betainc(df / 2.0, 0.5, (1.0 - r) * (1.0 + r))))

