"""Shared helpers of the benchmark scripts (run them as ``python benchmarks/bench_*.py``).

Benchmarks print ratios measured side by side in one run; they are not timed tests.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

# Run from a source checkout without installing: make ``import w1flow`` find the package.
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))


def demo_problem(n, seed=0, m=None, d=2):
    """The demo's clouds: a Gaussian blob at (3, 0) (std 0.5) and 8 Gaussians (radius 2, std 0.05).

    ``d = 3`` lifts both: the blob is centred at (3, 0, 0) with std 0.5 in every coordinate, and
    the 8 Gaussians keep their centres in the plane z = 0 with std 0.05 in z too.
    """
    from w1flow.datasets import eight_gaussians, gaussian_blob

    if d not in (2, 3):
        raise ValueError(f"d must be 2 or 3, got {d!r}")
    rng = np.random.default_rng(seed)
    m = n if m is None else m
    x0 = gaussian_blob(n, center=(3.0, 0.0), std=0.5, seed=rng)
    y = eight_gaussians(m, radius=2.0, std=0.05, seed=rng)
    if d == 3:  # drawn after the 2-D clouds, so their first two coordinates are the 2-D problem's
        x0 = np.c_[x0, 0.5 * rng.standard_normal(n)]
        y = np.c_[y, 0.05 * rng.standard_normal(m)]
    return x0, y


def timed(fn, *args, **kwargs):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def emd_seconds(x, y, repeat=1):
    """Seconds of one ``ot.emd`` solve on a prebuilt cdist cost (best of ``repeat``)."""
    import ot
    from scipy.spatial.distance import cdist

    from w1flow.lp import default_num_itermax

    n, m = x.shape[0], y.shape[0]
    a, b = np.full(n, 1 / n), np.full(m, 1 / m)
    M = cdist(x, y)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        ot.emd(a, b, M, numItermax=default_num_itermax(n, m), check_marginals=False)
        best = min(best, time.perf_counter() - start)
    del M
    return best


def write_json(path, obj):
    """Write ``obj`` as indented JSON when ``path`` is given (the scripts' ``--json`` option)."""
    if path:
        import json

        with open(path, "w") as fh:
            json.dump(obj, fh, indent=2)


def table(headers, rows):
    """A plain-text table (also valid Markdown)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    out = [line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def machine():
    import numba
    import ot
    import scipy

    return (f"python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}, "
            f"POT {ot.__version__}, numba {numba.__version__}, {os.cpu_count()} CPUs")
