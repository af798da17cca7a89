"""Sweep throughput: serial against the local process pool, and Dask LocalCluster against the pool.

Run:  python benchmarks/bench_sweep.py [--cells 10] [--n 400] [--workers 2] [--quick] [--json out.json]

One sweep of ``--cells`` cells (the exact W1 flow with forward Euler, n particles, seeds 0, 1, …;
each cell takes about a second or more on one core) runs three times into fresh stores, each in
a fresh interpreter as ``w1flow sweep`` would run it (imports, process or cluster start-up and
Numba loading included): serial (``workers=1``), the local pool (``workers=N``), and a Dask
``LocalCluster`` of N single-threaded workers (``local_cluster=N``). Printed: the wall time of
each, the cells per minute, the mean seconds of a cell inside its worker, and the ratios
pool/serial and Dask/pool, measured side by side in one run, and first how much CPU N busy-loop
processes actually get (on a shared machine, less than N cores). Dask is skipped when it is not
installed (``pip install "w1flow[dist]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, table, write_json

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from w1flow.sweep import read_store, run_sweep
report = run_sweep(json.loads({config!r}), store={store!r}, summary=False, **json.loads({executor!r}))
seconds = time.perf_counter() - t0
recs = read_store({store!r}).values()
assert len(recs) == {cells} and all(r["status"] == "success" for r in recs), [r["status"] for r in recs]
print(json.dumps(dict(seconds=seconds, cell_seconds=[r["cell_seconds"] for r in recs])))
"""


def _burn(_=None):
    """Seconds of a fixed pure-Python loop (one core's worth of work, no numpy)."""
    start = time.perf_counter()
    x = 0
    for i in range(10_000_000):
        x += i
    return time.perf_counter() - start


def free_cores(workers):
    """How many of ``workers`` processes' worth of CPU this machine gives right now: ``workers``
    times the seconds of the loop alone over its seconds with ``workers`` copies at once (other
    processes on the same cores lower it)."""
    from concurrent.futures import ProcessPoolExecutor

    alone = min(_burn() for _ in range(2))
    with ProcessPoolExecutor(workers) as pool:
        together = max(pool.map(_burn, range(workers)))
    return workers * alone / together


def sweep_config(cells, n, t1):
    return {
        "data": {"dataset": "eight_gaussians", "n": n, "seed": 1},
        "particles": {"dataset": "gaussian_blob", "n": n, "seed": 0, "center": [3.0, 0.0]},
        "solver": {"kind": "euler"},
        "run": {"t1": t1, "dt": 0.05, "save_every": 10},
        "sweep": {"particles.seed": list(range(cells))},
    }


def run_variant(config, executor, cells, folder):
    store = str(Path(folder) / "store")
    code = CHILD.format(root=str(ROOT), config=json.dumps(config), store=store, executor=json.dumps(executor),
                        cells=cells)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{executor} failed:\n{out.stderr}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return dict(wall=wall, seconds=got["seconds"], cell_mean=sum(got["cell_seconds"]) / cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--n", type=int, default=400, help="particles per cloud (sets the cell duration)")
    parser.add_argument("--t1", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="4 cells of n = 200 (a smoke run, cells < 1 s)")
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()
    if args.quick:
        args.cells, args.n = 4, 200
    config = sweep_config(args.cells, args.n, args.t1)
    variants = [("serial", {"workers": 1}), (f"pool, {args.workers} workers", {"workers": args.workers})]
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("dask/distributed not installed: the Dask row is skipped (pip install \"w1flow[dist]\")")
    else:
        variants.append((f"Dask LocalCluster({args.workers})", {"local_cluster": args.workers}))
    load_before = os.getloadavg()[0]
    capacity = free_cores(args.workers)
    results = {}
    for name, executor in variants:
        with tempfile.TemporaryDirectory() as folder:
            results[name] = run_variant(config, executor, args.cells, folder)
    serial, pool = results["serial"], results[variants[1][0]]
    rows = []
    for name, r in results.items():
        rows.append([name, f"{r['seconds']:.2f}", f"{60 * args.cells / r['seconds']:.1f}", f"{r['cell_mean']:.2f}",
                     f"{serial['seconds'] / r['seconds']:.2f}x", f"{pool['seconds'] / r['seconds']:.2f}x"])
    print(f"sweep of {args.cells} cells (exact W1 flow, Euler, n = {args.n}, t1 = {args.t1}, dt = 0.05); "
          f"{machine()}")
    print("wall time from interpreter start (imports, workers or cluster start-up included); 1-min load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after; {args.workers} busy-loop processes got "
          f"{capacity:.2f} cores' worth of CPU before the runs (other processes on these cores lower it)\n")
    print(table(["executor", "wall s", "cells/min", "s per cell (in worker)", "speed-up vs serial",
                 "speed-up vs pool"], rows))
    write_json(args.json, dict(free_cores=capacity, load_before=load_before, load_after=os.getloadavg()[0], cells=args.cells, n=args.n, t1=args.t1, workers=args.workers, results=results))


if __name__ == "__main__":
    main()
