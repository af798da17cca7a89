"""Exact W1 as a metric between two large clouds: ``w1flow.metrics.w1`` at n = m up to 10^5 (d = 2).

Run:  python benchmarks/bench_metric.py [--ns 10000,30000] [--instances late,demo,gaussians] [--dense-max 10000]

Instances (uniform weights, n = m, seed 0; defined in ``bench_auto.instance``):

* ``late``: data + noise 0.01 -> the data (8 Gaussians, radius 2, std 0.05): a flow near its end,
  an almost local plan;
* ``demo``: the demo's start, a blob at (3, 0) (std 0.5) -> 8 Gaussians (many near ties);
* ``gaussians``: N(0, I) against N(0.3, 1.21 I), two overlapping clouds (a generator against its
  data, far below the 2,000-sample noise floor).

Each solve runs in its own process, so its peak memory (VmHWM) is its own; a 300-point solve
loads the compiled kernels before the clock starts. ``metrics.w1`` runs with
its defaults (``method="auto"``: past the dense memory budget it is the certified sparse LP); up
to ``--dense-max`` the dense ``ot.emd2`` on a ``cdist`` cost runs too, for the ratio and the value.
Printed: seconds, peak memory, the LP's rounds (= certificate passes) and its phases, and the
relative difference to the dense value where there is one. [G3]'s goal: <= 60 s at 10^5.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import machine, table, write_json

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + "/benchmarks")
import numpy as np
from bench_auto import instance  # the instances' one definition

x, _, y, _ = instance({kind!r}, {n})
out = {{}}
if {which!r} == "dense":
    import ot
    from scipy.spatial.distance import cdist
    from w1flow.lp import default_num_itermax
    ot.emd2(np.full(300, 1 / 300), np.full(300, 1 / 300), cdist(x[:300], y[:300]))
    t = time.perf_counter()
    M = cdist(x, y)
    a = np.full({n}, 1 / {n})
    val, log = ot.emd2(a, a, M, numItermax=default_num_itermax({n}, {n}), log=True)
    out.update(seconds=time.perf_counter() - t, w1=float(val), ok=log["result_code"] == 1)
else:
    from w1flow.lp import solve
    from w1flow import metrics
    # load (or, in a fresh checkout, compile) the kernels before the clock starts: 4100 points a side
    # take every path of the sparse LP at 10⁵ in d = 2 (pricing and the c-transform by cells)
    metrics.w1(x[:4100], y[:4100], method="sparse")
    metrics.w1(x[:300], y[:300], method="dense")
    t = time.perf_counter()
    val = metrics.w1(x, y)
    out.update(seconds=time.perf_counter() - t, w1=float(val), ok=True)
    # the same LP once more through w1flow.lp.solve, for its statistics (not timed)
    if {detail}:
        a = np.full({n}, 1 / {n})
        r = solve(x, a, y, a)
        s = getattr(r, "stats", None)
        if s is not None:
            out.update(method="sparse", passes=s.passes, simplex=s.simplex_seconds, pass_seconds=s.pass_seconds,
                       basis=r.info["basis_seconds"], pivots=s.pivots, arcs=s.arcs)
        else:
            out.update(method="dense")
out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(json.dumps(out))
"""


def run(kind, n, which, detail=False):
    code = CHILD.format(root=str(ROOT), kind=kind, n=n, which=which, detail=detail)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{kind} n={n} {which} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ns", default="10000,30000", help="cloud sizes (n = m)")
    p.add_argument("--instances", default="late,demo,gaussians")
    p.add_argument("--dense-max", type=int, default=10_000, help="also run the dense ot.emd2 up to this n")
    p.add_argument("--detail", action="store_true", help="solve once more for the sparse LP's phases (not timed)")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    print(f"bench_metric ({machine()})")
    rows, out = [], []
    for kind in args.instances.split(","):
        for n in [int(v) for v in args.ns.split(",")]:
            r = run(kind, n, "w1flow", args.detail)
            d = run(kind, n, "dense") if n <= args.dense_max else None
            out.append({"instance": kind, "n": n, "w1flow": r, "dense": d})
            phases = (f"{r['basis']:.1f} + {r['simplex']:.1f} + {r['pass_seconds']:.1f}" if "passes" in r else "")
            rows.append([kind, n, f"{r['seconds']:.1f}", f"{r['peak_gb']:.2f}", r.get("method", ""),
                         r.get("passes", ""), phases,
                         f"{d['seconds']:.1f}" if d else "", f"{d['peak_gb']:.2f}" if d else "",
                         f"{r['seconds'] / d['seconds']:.2f}" if d else "",
                         f"{abs(r['w1'] - d['w1']) / d['w1']:.1e}" if d else "", f"{r['w1']:.6f}"])
            print(f"  {kind} n={n} done", file=sys.stderr, flush=True)
    print(table(["instance", "n", "metrics.w1 s", "peak GB", "LP", "passes", "start + simplex + passes s",
                 "dense s", "dense GB", "ratio", "rel. diff", "W1"], rows))
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
