"""Uncapped exact Euler: incremental re-solves against dense re-solves, side by side (the rule of
``ExactPotential(method="auto")``).

Run:  python benchmarks/bench_defaults.py [--ns 50,100,200,500,1000,2000] [--repeat 1]

The demo problem (blob at (3, 0) -> 8 Gaussians, n = m, uniform weights, d = 2), T = 5, dt = 0.05,
100 steps of uncapped ``Euler``, with ``ExactPotential(method="dense")`` (plan reuse, else a dense
``ot.emd`` from scratch) and ``ExactPotential(method="incremental")`` (plan reuse, else a
certified re-solve from the previous basis), one after the other in one process, best of
``--repeat`` runs each. Printed: wall times, dense LPs, warm solves, the speedup dense / incremental,
and n·m (the rule's variable).
"""

from __future__ import annotations

import argparse

from _common import demo_problem, machine, table, write_json


def run(n, method, repeat):
    from w1flow import Euler, ExactPotential, W1Flow, simulate

    x0, y = demo_problem(n, 0)
    best = None
    for _ in range(repeat):
        # the 0.1 keywords, which map onto method="dense" and method="incremental" (cold dense)
        oracle = ExactPotential(sparse=False, incremental=(method == "incremental"))
        res = simulate(W1Flow(y, potential=oracle), x0, 5.0, 0.05, solver=Euler())
        assert res.success, res.message
        if best is None or res.wall_time < best[0]:
            best = (res.wall_time, oracle.counters["lp_solves"], oracle.counters["warm_solves"], float(res.w1[-1]))
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns", default="50,100,200,500,1000,2000")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--json", default=None, help="write the rows to this JSON file")
    args = p.parse_args(argv)
    rows = []
    run(50, "incremental", 1)  # compile Numba before timing
    for n in map(int, args.ns.split(",")):
        dw, dlps, _, dw1 = run(n, "dense", args.repeat)
        iw, ilps, iwarm, iw1 = run(n, "incremental", args.repeat)
        rows.append(dict(n=n, pairs=n * n, dense_wall=dw, dense_lps=dlps, inc_wall=iw, inc_lps=ilps,
                         inc_warm=iwarm, speedup=dw / iw, dense_w1_final=dw1, inc_w1_final=iw1))
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    keys = ["n", "pairs", "dense_wall", "inc_wall", "speedup", "dense_lps", "inc_lps", "inc_warm"]
    print(machine())
    print(table(keys, [[f"{r[k]:.3g}" if isinstance(r[k], float) else r[k] for k in keys] for r in rows]))
    write_json(args.json, dict(machine=machine(), rows=rows))


if __name__ == "__main__":
    main()
