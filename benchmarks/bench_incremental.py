"""Uncapped exact Euler with the incremental LP, and the sparse LP at large n, side by side.

Run:  python benchmarks/bench_incremental.py [--quick] [--ns 500,2000,4000] [--dense-max-n 4000]
                                             [--capped-dense-max-n 0]
                                             [--sparse-ns 2000,10000,30000] [--dense-lp-max-n 10000]
                                             [--capped-ns 30000,100000] [--capped-dims 2,3]

The issue [G2] run: the demo problem (blob at (3, 0) -> 8 Gaussians, n = m, uniform weights),
T = 5, dt = 0.05, 100 steps, three ways in one process, one after the other:

* ``CappedEuler`` with the default oracle ``ExactPotential()`` (one LP for the whole flow: dense
  below 2000 points a side, the sparse one from there on);
* uncapped ``Euler`` with ``ExactPotential(method="incremental")``: the first LP from scratch by
  the default rule (dense or sparse, keeping its basis), then the plan is carried when an O(n)
  check proves it optimal, else re-solved from the previous basis and certified over all pairs.
  (Until 2026-12-05, seventh session, this ran ``ExactPotential(incremental=True)``, whose first LP
  is always the dense one: 32 s of the 99 s at n = 10⁴.) At n >= 200 this is also what the default
  ``ExactPotential()`` does;
* uncapped ``Euler`` with ``ExactPotential(method="dense")`` (plan reuse, else a dense ``ot.emd``
  from scratch) for n <= ``--dense-max-n``;
* for n <= ``--capped-dense-max-n``, the capped flow again with ``ExactPotential(method="dense")``
  (POT's dense LP: the capped flow's cost when [G3]'s ratio goal was set).

Printed: wall times, LP counts, warm solves, pivots, fallbacks, and the ratio of the
incremental flow's time to the capped flow's (goal <= 10 at n = 2000).

**Trajectory check** (n <= ``--spread-max-n``): exact flows are not unique near ties, so the
incremental flow may follow another optimal plan than POT's. Its W1 history is compared with
the spread of the dense reference's own histories under perturbations of x0 of size 1e-14
(``--perturbations`` of them): printed are the largest spread among the dense histories, the
largest distance of the incremental history from the unperturbed dense one, and the fraction of
steps at which the incremental W1 lies inside the dense envelope (min..max over the perturbed runs),
against the fraction (k - 1)/(k + 1) expected of one more member of the same family, and the
sup-norm distances between whole histories, incremental-to-dense against dense-to-dense.

**Sparse LP** (``--sparse-ns``): one exact LP on the demo problem at t = 0 (the capped flow's only
LP), ``ExactPotential(sparse=True)`` against dense ``ot.emd`` (n <= ``--dense-lp-max-n``), each
in its own process so that its peak memory (``VmHWM``; ``ru_maxrss`` would carry the parent's
high-water mark across fork and exec) is its own. Printed: seconds, peak
RSS of the process and of the solve alone (peak minus the RSS after the imports), the certificate (max dual violation), rounds, arcs, passes, pivots, and the relative
difference of the two W1 values.

**Capped flow at large n** (``--capped-ns``, ``--capped-dims``): the whole
``simulate(W1Flow(y, potential=ExactPotential(sparse=True)), x0, 5, 0.05, solver=CappedEuler())``
on the demo problem in d = 2 and its lift to d = 3 (``_common.demo_problem``), each run in its own
process. The dense LP would need 8·n² bytes per matrix (n = 3·10⁴: 7.2 GB each, about 37 GB in all).
Printed: the run's wall time and the LP's share (starting basis, simplex, passes), the status, the
peak RSS of the process, the certificate, rounds, arcs, passes and pivots.
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


def flows(n, t1=5.0, dt=0.05, dense=True, seed=0, capped_dense=False):
    from w1flow import CappedEuler, Euler, ExactPotential

    # load (or compile) the Numba kernels of both paths before any clock starts: in a fresh checkout
    # the first sparse solve compiles inside the capped flow's time (n = 10^4: 4.81 s against 2.26 s);
    # 4100 points a side take the paths by k-d cells too (pricing, c-transform); the uncapped warm-up
    # needs n·m >= CELL_MIN_PAIRS[2] = 2.5·10^5 for the warm solves' cell pricing (300 a side did
    # not: a fresh cache then compiled inside the n = 2000 flow, 11.1 s against 2.75 s)
    xs, ys = demo_problem(4100, seed)
    _run(ys, xs, CappedEuler(), ExactPotential(method="sparse"), 0.2, dt)
    xs, ys = demo_problem(600, seed)
    _run(ys, xs, Euler(), ExactPotential(method="incremental"), 0.2, dt)
    x0, y = demo_problem(n, seed)
    capped = _run(y, x0, CappedEuler(), ExactPotential(), t1, dt)
    inc_oracle = ExactPotential(method="incremental")
    inc = _run(y, x0, Euler(), inc_oracle, t1, dt)
    out = dict(n=n, steps=inc.n_steps, capped_wall=capped.wall_time, capped_lps=capped.n_lp_solves,
               inc_wall=inc.wall_time, inc_dense_lps=inc_oracle.counters["lp_solves"],
               inc_sparse_lps=inc_oracle.counters["sparse_solves"],
               inc_warm=inc_oracle.counters["warm_solves"], inc_pivots=inc_oracle.counters["pivots"],
               inc_fallbacks=inc_oracle.counters["fallbacks"], ratio_capped=inc.wall_time / capped.wall_time,
               inc_w1_final=float(inc.w1[-1]), capped_w1_final=float(capped.w1[-1]))
    if capped_dense:  # the capped flow with POT's dense LP: its cost when [G3]'s ratio goal was set
        cd = _run(y, x0, CappedEuler(), ExactPotential(method="dense"), t1, dt)
        out.update(capped_dense_wall=cd.wall_time, ratio_capped_dense=inc.wall_time / cd.wall_time)
    if dense:
        ref = _run(y, x0, Euler(), ExactPotential(method="dense"), t1, dt)
        out.update(dense_wall=ref.wall_time, dense_lps=ref.n_lp_solves, dense_w1_final=float(ref.w1[-1]),
                   speedup_vs_dense=ref.wall_time / inc.wall_time)
    return out, (x0, y, inc.w1)


def spread(x0, y, w1_inc, perturbations, t1=5.0, dt=0.05, seed=1):
    """The incremental W1 history against the dense histories from x0 + 1e-14 noise.

    Besides the envelope (min..max of the dense histories at each step) this compares distances
    between whole histories: the sup-norm distance of the incremental history from each dense
    one against the sup-norm distances of the dense histories among themselves. If the
    incremental flow is just one more member of the family the perturbations sample, the former
    lie within the range of the latter, and it lies inside the envelope of k dense histories at
    a fraction (k - 1)/(k + 1) of the steps where they spread (a new exchangeable sample falls
    between the min and max of k others with that probability).
    """
    from w1flow import Euler, ExactPotential

    rng = np.random.default_rng(seed)
    hist = [_run(y, x0, Euler(), ExactPotential(method="dense"), t1, dt).w1]
    for _ in range(perturbations):
        hist.append(_run(y, x0 + 1e-14 * rng.standard_normal(x0.shape), Euler(), ExactPotential(method="dense"), t1,
                         dt).w1)
    H = np.array(hist)
    lo, hi = H.min(axis=0), H.max(axis=0)
    inside = (w1_inc >= lo - 1e-12) & (w1_inc <= hi + 1e-12)
    spread_steps = hi - lo > 1e-9
    first = int(np.argmax(spread_steps)) if spread_steps.any() else None
    k = H.shape[0]
    pair = [float(np.max(np.abs(H[i] - H[j]))) for i in range(k) for j in range(i + 1, k)]
    to_dense = [float(np.max(np.abs(w1_inc - h))) for h in H]
    return dict(dense_spread=float(np.max(hi - lo)), inc_vs_dense=float(np.max(np.abs(w1_inc - H[0]))),
                inc_outside_envelope=float(np.max(np.maximum(lo - w1_inc, w1_inc - hi).clip(0) * ~inside)),
                inside_fraction=float(inside.mean()),
                inside_fraction_spread=float(inside[spread_steps].mean()) if spread_steps.any() else 1.0,
                inside_expected=(k - 1) / (k + 1), spread_first_step=first,
                dense_pair_sup=[min(pair), float(np.median(pair)), max(pair)] if pair else None,
                inc_to_dense_sup=[min(to_dense), float(np.median(to_dense)), max(to_dense)],
                final_dense=[float(h[-1]) for h in H], final_inc=float(w1_inc[-1]))


_SPARSE_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {bench!r})
import numpy as np
from _common import demo_problem
n, method = {n}, {method!r}
x, y = demo_problem(n, 0)
a = np.full(n, 1 / n)
from w1flow import ExactPotential
if method == "warmup":  # compile the kernels (Numba caches them on disk) outside the timed runs
    ExactPotential(sparse=True)(x, a, y, a)  # n = 4100: the paths by k-d cells too
    print(json.dumps({{}}))
    raise SystemExit
pot = ExactPotential(sparse=(method == "sparse"), max_memory=None)
def rss_now(key="VmRSS"):  # resident set size now (VmHWM: its peak since exec), GB (Linux; 0 elsewhere)
    try:
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith(key)) / 1e6
    except OSError:
        return 0.0
before = rss_now()
start = time.perf_counter()
p = pot(x, a, y, a)
sec = time.perf_counter() - start
out = dict(n=n, method=method, seconds=sec, w1=p.w1, status=p.status,
           rss_gb=rss_now("VmHWM"), before_gb=before)
out["solve_gb"] = out["rss_gb"] - before  # the solve's own peak, above the imports
if method == "sparse":
    out.update(pot.last_sparse_stats)
print(json.dumps(out))
"""


_CAPPED_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {bench!r})
import numpy as np
from _common import demo_problem
from w1flow import CappedEuler, ExactPotential, W1Flow, simulate
def peak_gb():  # peak resident set size since exec, GB (Linux; ru_maxrss elsewhere)
    try:
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM")) / 1e6
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
n, d = {n}, {d}
x0, y = demo_problem(n, 0, d=d)
oracle = ExactPotential(sparse=True)
start = time.perf_counter()
res = simulate(W1Flow(y, potential=oracle), x0, 5.0, 0.05, solver=CappedEuler())
sec = time.perf_counter() - start
st = oracle.last_sparse_stats
out = dict(n=n, d=d, seconds=sec, status=res.status, message=res.message, lps=res.n_lp_solves,
           w1_start=float(res.w1[0]), w1_end=float(res.w1[-1]),
           lp_seconds=st["basis_seconds"] + st["simplex_seconds"] + st["pass_seconds"],
           rss_gb=peak_gb())
out.update(st)
print(json.dumps(out))
"""


def _child(code, what):
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON."""
    import json
    import subprocess

    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({what}): {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def capped_flow(n, d):
    """The whole capped flow with the sparse LP in a child process: time, peak memory, LP work."""
    from pathlib import Path

    return _child(_CAPPED_CHILD.format(bench=str(Path(__file__).resolve().parent), n=n, d=d), f"capped n={n}, d={d}")


def sparse_lp(n, method):
    """One LP in a child process: its time and its own peak memory."""
    from pathlib import Path

    return _child(_SPARSE_CHILD.format(bench=str(Path(__file__).resolve().parent), n=n, method=method),
                  f"sparse LP n={n}, {method}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ns", default="500,2000,4000", help="particle counts")
    p.add_argument("--dense-max-n", type=int, default=4000, help="largest n of the dense re-solve reference")
    p.add_argument("--spread-max-n", type=int, default=500, help="largest n of the trajectory check")
    p.add_argument("--capped-dense-max-n", type=int, default=0,
                   help="largest n at which the capped flow also runs with the dense LP (method='dense')")
    p.add_argument("--perturbations", type=int, default=4, help="perturbed dense runs of the trajectory check")
    p.add_argument("--sparse-ns", default="2000,10000,30000", help="n of the sparse-LP comparison ('' to skip)")
    p.add_argument("--dense-lp-max-n", type=int, default=10000, help="largest n of the dense LP in that comparison")
    p.add_argument("--capped-ns", default="30000,100000", help="n of the large capped flows ('' to skip)")
    p.add_argument("--capped-dims", default="2,3", help="dimensions of the large capped flows")
    p.add_argument("--quick", action="store_true",
                   help="CI size: n = 500, two perturbations, sparse LP and capped flow (d = 2) at n = 2000")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    ns = [int(v) for v in args.ns.split(",") if v]
    sparse_ns = [int(v) for v in args.sparse_ns.split(",") if v]
    capped_ns = [int(v) for v in args.capped_ns.split(",") if v]
    capped_dims = [int(v) for v in args.capped_dims.split(",") if v]
    if args.quick:
        ns, args.perturbations, sparse_ns, capped_ns, capped_dims = [500], 2, [2000], [2000], [2]
    print(f"bench_incremental ({machine()})")
    if ns:
        print("\nUncapped exact Euler, demo problem, T = 5, dt = 0.05 (100 steps)")
    out = {"flows": [], "spread": []}
    rows = []
    for n in ns:
        r, (x0, y, w1_inc) = flows(n, dense=n <= args.dense_max_n, capped_dense=n <= args.capped_dense_max_n)
        out["flows"].append(r)
        dense = (f"{r['dense_wall']:.2f} s, {r['dense_lps']} LPs ({r['speedup_vs_dense']:.1f}x slower)"
                 if "dense_wall" in r else "not run")
        rows.append([n, f"{r['capped_wall']:.2f}", f"{r['inc_wall']:.2f}", f"{r['ratio_capped']:.1f}x",
                     f"{r['inc_dense_lps']} + {r['inc_sparse_lps']} + {r['inc_warm']} warm", f"{r['inc_pivots'] / max(r['inc_warm'], 1):.0f}",
                     r["inc_fallbacks"], dense,
                     f"{r['capped_dense_wall']:.2f} ({r['ratio_capped_dense']:.1f}x)" if "capped_dense_wall" in r else "not run"])
        print(f"  n={n} done", file=sys.stderr)
        if n <= args.spread_max_n and args.perturbations > 0:
            out["spread"].append(dict(n=n, **spread(x0, y, w1_inc, args.perturbations)))
    if ns:
        print(table(["n", "capped s", "incremental s", "incremental / capped", "LPs (dense + sparse + warm)",
                     "pivots per warm solve", "fallbacks", "dense re-solve",
                     "capped, dense LP s (incremental / it)"], rows))
    if out["spread"]:
        print(f"\nW1 history of the incremental flow vs the dense flow from x0 + 1e-14 noise "
              f"({args.perturbations} perturbed runs)")
        print(table(["n", "dense spread (max over t)", "|incremental - dense|", "outside the envelope by",
                     "steps inside", "inside where spread (exchangeable: expected)", "spread from step",
                     "sup dist. dense-dense (min/med/max)", "sup dist. incremental-dense (min/med/max)"],
                    [[s["n"], f"{s['dense_spread']:.2e}", f"{s['inc_vs_dense']:.2e}",
                      f"{s['inc_outside_envelope']:.2e}", f"{s['inside_fraction']:.0%}",
                      f"{s['inside_fraction_spread']:.0%} ({s['inside_expected']:.0%})", s["spread_first_step"],
                      "/".join(f"{v:.1e}" for v in s["dense_pair_sup"]) if s["dense_pair_sup"] else "-",
                      "/".join(f"{v:.1e}" for v in s["inc_to_dense_sup"])]
                     for s in out["spread"]]))
    if sparse_ns or capped_ns:
        sparse_lp(4100, "warmup")
    if sparse_ns:
        print("\nOne exact LP at t = 0 (the capped flow's), sparse vs dense, each in its own process")
        out["sparse"] = []
        rows = []
        for n in sparse_ns:
            s = sparse_lp(n, "sparse")
            d = sparse_lp(n, "dense") if n <= args.dense_lp_max_n else None
            out["sparse"].append({"sparse": s, "dense": d})
            rows.append([n, f"{s['seconds']:.2f}", f"{s['rss_gb']:.2f} ({s['solve_gb']:.2f})", s["status"], f"{s['max_violation']:.1e}",
                         s["rounds"], s["arcs"], s["passes"], s["pivots"], f"{s['coarse_shape'][0]}",
                         f"{d['seconds']:.2f}" if d else "not run",
                         f"{d['rss_gb']:.2f} ({d['solve_gb']:.2f})" if d else "-",
                         f"{s['seconds'] / d['seconds']:.2f}x" if d else "-",
                         f"{(s['w1'] - d['w1']) / d['w1']:.1e}" if d else "-"])
            print(f"  sparse n={n} done", file=sys.stderr)
        print(table(["n", "sparse s", "sparse GB (solve)", "status", "max violation", "rounds", "arcs", "passes", "pivots",
                     "coarse side", "dense s", "dense GB (solve)", "sparse / dense", "W1 rel. diff"], rows))
    if capped_ns:
        print("\nThe certified exact capped flow with the sparse LP, T = 5, dt = 0.05 (100 steps), each in its own process")
        out["capped"] = []
        rows = []
        for n in capped_ns:
            for d in capped_dims:
                c = capped_flow(n, d)
                out["capped"].append(c)
                rows.append([n, d, f"{c['seconds']:.1f}", f"{c['lp_seconds']:.1f} = {c['basis_seconds']:.1f} + "
                             f"{c['simplex_seconds']:.1f} + {c['pass_seconds']:.1f}", f"{c['rss_gb']:.2f}", c["status"],
                             c["lps"], f"{c['max_violation']:.1e}", c["rounds"], c["arcs"], c["passes"], c["pivots"],
                             f"{c['w1_start']:.4f} -> {c['w1_end']:.4f}"])
                print(f"  capped n={n} d={d} done", file=sys.stderr)
        print(table(["n", "d", "run s", "LP s = basis + simplex + passes", "peak GB", "status", "LPs", "max violation",
                     "rounds", "arcs", "passes", "pivots", "W1"], rows))
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
