"""Cold start: a fresh interpreter imports w1flow and takes the first step of the exact flow.

Run:  python benchmarks/bench_cold_start.py [--n 500] [--repeat 3]

Each measurement is a new subprocess (so no module, Numba or page cache of this process
helps); printed are the medians of the interpreter start-up alone, ``import w1flow``, the first
step (one LP + one step of CappedEuler, and of Euler), and the subprocess wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import machine, table, write_json

ROOT = Path(__file__).resolve().parent.parent

# POT imports torch (its backend) and geomloss when they are installed, about 1.5 s more.
# The "without torch" row hides them, as on a machine where they are not installed.
BLOCK = r"""
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "geomloss", "jax", "tensorflow", "cupy"):
            raise ImportError(f"{name} hidden by bench_cold_start")
        return None
sys.meta_path.insert(0, _Block())
"""

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import w1flow
t1 = time.perf_counter()
from w1flow.datasets import eight_gaussians, gaussian_blob
x, y = gaussian_blob({n}, seed=0), eight_gaussians({n}, seed=1)
t2 = time.perf_counter()
r = w1flow.simulate(w1flow.W1Flow(y), x, 0.05, 0.05, solver=w1flow.CappedEuler())
t3 = time.perf_counter()
r2 = w1flow.simulate(w1flow.W1Flow(y), x, 0.05, 0.05, solver=w1flow.Euler())
t4 = time.perf_counter()
assert r.success and r2.success
print(json.dumps(dict(imp=t1 - t0, capped=t3 - t2, euler=t4 - t3)))
"""


def run(code):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, out.stdout


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="same as --repeat 1")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    bare = [run("pass")[0] for _ in range(repeat)]
    results, rows = {}, []
    for label, prefix in (("as installed", ""), ("without torch/geomloss", BLOCK)):
        rec = []
        for _ in range(repeat):
            wall, out = run(prefix + CHILD.format(root=str(ROOT), n=args.n))
            rec.append(dict(json.loads(out.strip().splitlines()[-1]), wall=wall))
        med = {k: statistics.median(r[k] for r in rec) for k in rec[0]}
        med["bare"] = statistics.median(bare)
        results[label] = med
        rows.append([label, f"{med['bare']:.3f}", f"{med['imp']:.3f}", f"{med['capped']:.3f}",
                     f"{med['euler']:.3f}", f"{med['wall']:.3f}"])
    print(f"bench_cold_start ({machine()}), n = {args.n}, median of {repeat} fresh processes")
    print(table(["environment", "python start-up s", "import w1flow s", "first CappedEuler step s (incl. LP)",
                 "first Euler step s (incl. LP)", "process wall s"], rows))
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
