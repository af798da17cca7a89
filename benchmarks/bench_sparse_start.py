"""What the sparse LP's start is worth: the fine simplex from four starts, side by side in one run.

Run:  python benchmarks/bench_sparse_start.py [--n 30000] [--instance demo] [--json FILE]

The cold sparse solve (``w1flow.lp.sparse.solve_sparse``) starts the network simplex from a tree:
a feasible plan's support completed under the c-transform of data duals ``v``
(``basis_from_plan``). Here the same fine problem (the instance in k-d order, as the solver sees
it) is re-solved by ``warm_solve`` from

* the coarse-to-fine plan (north-west corners, "NW") or the optimal plan, with
* the coarse level's data duals copied to each leaf's points ("leaf", the start before the
  seventh session), their extension by the c-transform of the coarse particle duals
  ("extension", :func:`~w1flow.lp.sparse.coarse_start`'s), or the optimal duals;

and, to show how the pivots fall with the duals' error, from the NW plan with
``v_opt + t (v_ext - v_opt)`` for a few t. Printed: pivots, rounds, seconds, and the duals' mean
distance to the optimal ones (up to a constant). All solves are certified.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _common import machine, table, write_json


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=30000, help="points a side")
    p.add_argument("--instance", default="demo", help="an instance of bench_auto.instance (demo, late, gaussians)")
    p.add_argument("--mix", default="0.5,0.25,0.1", help="the t of the mixed duals ('' to skip)")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args(argv)
    from bench_auto import instance
    from w1flow.lp.netsimplex import basis_from_plan, warm_solve
    from w1flow.lp.sparse import (COLD_ADD_PER_ROW, COLD_COMPLETION_PER_ROW, COLD_MAX_ARCS_PER_NODE, coarse_start,
                                  kd_order)

    print(machine())
    x0, a0, y0, b0 = instance(args.instance, args.n)
    px, py, groups = kd_order(x0, y0)
    x, y, a, b = np.ascontiguousarray(x0[px]), np.ascontiguousarray(y0[py]), a0[px], b0[py]
    t = time.perf_counter()
    start = coarse_start(x, a, y, b, groups=groups)
    print(f"coarse start ({start.info['coarse_shape'][0]} leaves a side, {start.info['levels']} levels): "
          f"{time.perf_counter() - t:.2f} s", file=sys.stderr)
    v_leaf = np.empty(y.shape[0])
    for h, g in enumerate(start.groups[1]):
        v_leaf[g] = start.coarse.v[h]

    def solve(rows, cols, v):
        basis = basis_from_plan(x, a, y, b, rows, cols, None, v, per_row=COLD_COMPLETION_PER_ROW)
        t0 = time.perf_counter()
        r = warm_solve(basis, x, max_pivots=10**9, add_per_row=COLD_ADD_PER_ROW,
                       max_arcs_per_node=COLD_MAX_ARCS_PER_NODE)
        if not r.ok:
            raise RuntimeError(r.message)
        return r, time.perf_counter() - t0

    opt, _ = solve(start.rows, start.cols, start.v)  # the optimum (the solver's own start)

    def err(v):
        dv = v - opt.v
        return float(np.abs(dv - np.median(dv)).mean())

    starts = [("NW", "leaf", start.rows, start.cols, v_leaf),
              ("NW", "extension", start.rows, start.cols, start.v),
              ("optimal", "leaf", opt.rows, opt.cols, v_leaf),
              ("optimal", "extension", opt.rows, opt.cols, start.v),
              ("NW", "optimal", start.rows, start.cols, opt.v),
              ("optimal", "optimal", opt.rows, opt.cols, opt.v)]
    starts += [("NW", f"opt + {t} (ext - opt)", start.rows, start.cols, opt.v + float(t) * (start.v - opt.v))
               for t in args.mix.split(",") if t]
    rows, out = [], []
    for plan, duals, r_, c_, v in starts:
        r, sec = solve(r_, c_, v)
        rows.append([plan, duals, f"{err(v):.2e}", r.stats.pivots, r.stats.rounds, f"{sec:.2f}"])
        out.append(dict(plan=plan, duals=duals, dual_error=err(v), pivots=r.stats.pivots, rounds=r.stats.rounds,
                        seconds=sec, w1=float(np.dot(r.mass, np.linalg.norm(x[r.rows] - y[r.cols], axis=1)))))
        print(f"  {plan} + {duals} done", file=sys.stderr)
    print(f"\nThe fine simplex from four starts, {args.instance}, n = m = {args.n}, d = {x.shape[1]}")
    print(table(["plan", "data duals", "mean |v - v_opt| (cost units)", "pivots", "rounds", "warm solve s"], rows))
    if args.json:
        write_json(args.json, dict(instance=args.instance, n=args.n, rows=out))


if __name__ == "__main__":
    main()
