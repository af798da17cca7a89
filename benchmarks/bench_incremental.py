"""Uncapped exact Euler with the incremental (warm-started, certified) LP, side by side.

Run:  python benchmarks/bench_incremental.py [--quick] [--ns 500,2000,4000] [--dense-max-n 2000]

The issue [G2] run: the demo problem (blob at (3, 0) -> 8 Gaussians, n = m, uniform weights),
T = 5, dt = 0.05, 100 steps, three ways in one process, one after the other:

* ``CappedEuler`` with the dense oracle (one LP for the whole flow);
* uncapped ``Euler`` with ``ExactPotential(incremental=True)``: the plan is carried when an O(n)
  check proves it optimal, else re-solved from the previous basis and certified over all pairs;
* uncapped ``Euler`` with the dense oracle (plan reuse, else a dense ``ot.emd`` from scratch) for
  n <= ``--dense-max-n``.

Printed: wall times, LP counts, warm solves, pivots, fallbacks, and the ratio of the
incremental flow's time to the capped flow's (goal <= 10 at n = 2000).

**Trajectory check** (n <= ``--spread-max-n``): exact flows are not unique near ties, so the
incremental flow may follow another optimal plan than POT's. Its W1 history is compared with
the spread of the dense reference's own histories under perturbations of x0 of size 1e-14
(``--perturbations`` of them): printed are the largest spread among the dense histories, the
largest distance of the incremental history from the unperturbed dense one, and the fraction of
steps at which the incremental W1 lies inside the dense envelope (min..max over the perturbed runs).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import demo_problem, machine, table, write_json


def _run(y, x0, solver, oracle, t1, dt):
    from w1flow import W1Flow, simulate

    res = simulate(W1Flow(y, potential=oracle), x0, t1, dt, solver=solver)
    assert res.success, res.message
    return res


def flows(n, t1=5.0, dt=0.05, dense=True, seed=0):
    from w1flow import CappedEuler, Euler, ExactPotential

    x0, y = demo_problem(n, seed)
    capped = _run(y, x0, CappedEuler(), ExactPotential(), t1, dt)
    inc_oracle = ExactPotential(incremental=True)
    inc = _run(y, x0, Euler(), inc_oracle, t1, dt)
    out = dict(n=n, steps=inc.n_steps, capped_wall=capped.wall_time, capped_lps=capped.n_lp_solves,
               inc_wall=inc.wall_time, inc_dense_lps=inc_oracle.counters["lp_solves"],
               inc_warm=inc_oracle.counters["warm_solves"], inc_pivots=inc_oracle.counters["pivots"],
               inc_fallbacks=inc_oracle.counters["fallbacks"], ratio_capped=inc.wall_time / capped.wall_time,
               inc_w1_final=float(inc.w1[-1]), capped_w1_final=float(capped.w1[-1]))
    if dense:
        ref = _run(y, x0, Euler(), ExactPotential(), t1, dt)
        out.update(dense_wall=ref.wall_time, dense_lps=ref.n_lp_solves, dense_w1_final=float(ref.w1[-1]),
                   speedup_vs_dense=ref.wall_time / inc.wall_time)
    return out, (x0, y, inc.w1)


def spread(x0, y, w1_inc, perturbations, t1=5.0, dt=0.05, seed=1):
    """The incremental W1 history against the dense histories from x0 + 1e-14 noise."""
    from w1flow import Euler, ExactPotential

    rng = np.random.default_rng(seed)
    hist = [_run(y, x0, Euler(), ExactPotential(), t1, dt).w1]
    for _ in range(perturbations):
        hist.append(_run(y, x0 + 1e-14 * rng.standard_normal(x0.shape), Euler(), ExactPotential(), t1, dt).w1)
    H = np.array(hist)
    lo, hi = H.min(axis=0), H.max(axis=0)
    inside = (w1_inc >= lo - 1e-12) & (w1_inc <= hi + 1e-12)
    first = int(np.argmax(H.max(axis=0) - H.min(axis=0) > 1e-9)) if np.any(hi - lo > 1e-9) else None
    return dict(dense_spread=float(np.max(hi - lo)), inc_vs_dense=float(np.max(np.abs(w1_inc - H[0]))),
                inc_outside_envelope=float(np.max(np.maximum(lo - w1_inc, w1_inc - hi).clip(0))),
                inside_fraction=float(inside.mean()), spread_first_step=first,
                final_dense=[float(h[-1]) for h in H], final_inc=float(w1_inc[-1]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ns", default="500,2000,4000", help="particle counts")
    p.add_argument("--dense-max-n", type=int, default=2000, help="largest n of the dense re-solve reference")
    p.add_argument("--spread-max-n", type=int, default=500, help="largest n of the trajectory check")
    p.add_argument("--perturbations", type=int, default=4, help="perturbed dense runs of the trajectory check")
    p.add_argument("--quick", action="store_true", help="CI size: n = 500, two perturbations")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    ns = [int(v) for v in args.ns.split(",") if v]
    if args.quick:
        ns, args.perturbations = [500], 2
    print(f"bench_incremental ({machine()})")
    print("\nUncapped exact Euler, demo problem, T = 5, dt = 0.05 (100 steps)")
    out = {"flows": [], "spread": []}
    rows = []
    for n in ns:
        r, (x0, y, w1_inc) = flows(n, dense=n <= args.dense_max_n)
        out["flows"].append(r)
        dense = (f"{r['dense_wall']:.2f} s, {r['dense_lps']} LPs ({r['speedup_vs_dense']:.1f}x slower)"
                 if "dense_wall" in r else "not run")
        rows.append([n, f"{r['capped_wall']:.2f}", f"{r['inc_wall']:.2f}", f"{r['ratio_capped']:.1f}x",
                     f"{r['inc_dense_lps']} + {r['inc_warm']} warm", f"{r['inc_pivots'] / max(r['inc_warm'], 1):.0f}",
                     r["inc_fallbacks"], dense])
        print(f"  n={n} done", file=sys.stderr)
        if n <= args.spread_max_n and args.perturbations > 0:
            out["spread"].append(dict(n=n, **spread(x0, y, w1_inc, args.perturbations)))
    print(table(["n", "capped s", "incremental s", "incremental / capped", "LPs (dense + warm)",
                 "pivots per warm solve", "fallbacks", "dense re-solve"], rows))
    if out["spread"]:
        print(f"\nW1 history of the incremental flow vs the dense flow from x0 + 1e-14 noise "
              f"({args.perturbations} perturbed runs)")
        print(table(["n", "dense spread (max over t)", "|incremental - dense|", "outside the envelope by",
                     "steps inside", "spread from step"],
                    [[s["n"], f"{s['dense_spread']:.2e}", f"{s['inc_vs_dense']:.2e}",
                      f"{s['inc_outside_envelope']:.2e}", f"{s['inside_fraction']:.0%}", s["spread_first_step"]]
                     for s in out["spread"]]))
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
