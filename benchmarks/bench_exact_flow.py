"""Exact uncapped Euler: re-solve the LP every step vs carry the optimal plan over.

Run:  python benchmarks/bench_exact_flow.py [--quick] [--ns 500,1000,2000,4000] [--steps 20]

Two regimes, both on the demo problem (blob at (3, 0) -> 8 Gaussians, n = m, uniform weights):

A. transport phase: ``--steps`` steps with dt small enough that no particle reaches its target
   (dt = min(0.05, 0.99 · shortest ray / steps)). The reference solves one LP per step; plan
   reuse solves one LP for the run. Printed: per-step time of each (plan reuse: run time minus
   its one LP, divided by the steps) and their ratio, and the end-to-end ratio.
B. whole flow with dt = 0.05 to the longest ray + 0.5 (overshoot and chattering near the data),
   n <= --full-max-n: LP counts and times.

W1 histories of the two are asserted equal (to 1e-12 · (1 + max|x|) · sqrt(n)) for n <= 1000.
Also measured: POT's warm start (``potentials_init``) for a re-solve after an overshoot.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import demo_problem, machine, table, timed, write_json


def _tol(x, y):
    return 1e-12 * (1 + max(np.abs(x).max(), np.abs(y).max())) * np.sqrt(max(len(x), len(y)))


def transport_phase(n, steps, seed=0, check=True):
    from w1flow import Euler, ExactPotential, W1Flow, simulate

    x0, y = demo_problem(n, seed)
    pot = ExactPotential()(x0, np.full(n, 1 / n), y, np.full(n, 1 / n))
    rays = np.linalg.norm(x0[pot.plan_rows] - y[pot.plan_cols], axis=1)
    dt = min(0.05, 0.99 * rays.min() / steps)
    t1 = steps * dt
    problem = W1Flow(y)
    ref = simulate(problem, x0, t1, dt, solver=Euler(reuse_plan=False))
    fast = simulate(problem, x0, t1, dt, solver=Euler())
    assert ref.success and fast.success and ref.n_steps == fast.n_steps == steps
    equal = None
    if check:
        equal = bool(np.max(np.abs(ref.w1 - fast.w1)) <= _tol(x0, y))
        assert equal, f"W1 histories differ at n={n}: {np.max(np.abs(ref.w1 - fast.w1))}"
    ref_step = ref.wall_time / steps
    fast_step = (fast.wall_time - fast.timings["field"]) / steps
    return dict(n=n, dt=dt, steps=steps, ref_lps=ref.n_lp_solves, fast_lps=fast.n_lp_solves,
                ref_wall=ref.wall_time, fast_wall=fast.wall_time, ref_step=ref_step, fast_step=fast_step,
                step_ratio=ref_step / fast_step, end_to_end_ratio=ref.wall_time / fast.wall_time,
                max_w1_diff=float(np.max(np.abs(ref.w1 - fast.w1))), equal=equal)


def whole_flow(n, dt=0.05, seed=0):
    from w1flow import CappedEuler, Euler, ExactPotential, W1Flow, simulate

    x0, y = demo_problem(n, seed)
    pot = ExactPotential()(x0, np.full(n, 1 / n), y, np.full(n, 1 / n))
    t1 = float(np.linalg.norm(x0[pot.plan_rows] - y[pot.plan_cols], axis=1).max()) + 0.5
    problem = W1Flow(y)
    ref = simulate(problem, x0, t1, dt, solver=Euler(reuse_plan=False))
    fast = simulate(problem, x0, t1, dt, solver=Euler())
    capped = simulate(problem, x0, t1, dt, solver=CappedEuler())
    diff = float(np.max(np.abs(ref.w1 - fast.w1)))
    equal = diff <= _tol(x0, y)
    if n <= 1000:
        assert equal, f"W1 histories differ at n={n}: {diff}"
    return dict(n=n, dt=dt, steps=ref.n_steps, ref_lps=ref.n_lp_solves, fast_lps=fast.n_lp_solves,
                ref_wall=ref.wall_time, fast_wall=fast.wall_time, capped_wall=capped.wall_time,
                capped_lps=capped.n_lp_solves, ratio=ref.wall_time / fast.wall_time,
                w1_final=float(fast.w1[-1]), capped_w1_final=float(capped.w1[-1]), max_w1_diff=diff,
                equal=bool(equal))


def warm_start(n, seed=0, repeat=3):
    """Re-solve after one Euler step in the chattering phase: cold vs potentials_init=(u', v)."""
    from w1flow import Euler, SaveAt, W1Flow, simulate
    from w1flow.lp import solve_w1_lp

    x0, y = demo_problem(n, seed)
    a = np.full(n, 1 / n)
    x = simulate(W1Flow(y), x0, 1.5, 0.05, solver=Euler(), saveat=SaveAt(w1=None)).x_final
    lp = solve_w1_lp(x, a, y, a)
    from w1flow.potentials.exact import plan_velocity

    V = plan_velocity(x, a, y, lp.rows, lp.cols, lp.mass)
    x1 = x + 0.05 * V
    u1 = lp.u - 0.05 * np.linalg.norm(V, axis=1)
    cold = min(timed(solve_w1_lp, x1, a, y, a)[0] for _ in range(repeat))
    warm = min(timed(solve_w1_lp, x1, a, y, a, potentials_init=(u1, lp.v))[0] for _ in range(repeat))
    same = abs(solve_w1_lp(x1, a, y, a).cost - solve_w1_lp(x1, a, y, a, potentials_init=(u1, lp.v)).cost)
    # in a flow: Euler (plan reuse) from t = 0 to 2 with dt = 0.05, cold vs warm oracle, alternating
    from w1flow import ExactPotential

    runs = {False: [], True: []}
    for _ in range(2):
        for warm_flag in (False, True):
            runs[warm_flag].append(simulate(W1Flow(y), x0, 2.0, 0.05, solver=Euler(),
                                            potential=ExactPotential(warm_start=warm_flag)))
    flow_cold = min(r.wall_time for r in runs[False])
    flow_warm = min(r.wall_time for r in runs[True])
    flow_diff = float(np.max(np.abs(runs[False][0].w1 - runs[True][0].w1)))
    return dict(n=n, cold=cold, warm=warm, speedup=cold / warm, cost_diff=same, flow_cold=flow_cold,
                flow_warm=flow_warm, flow_speedup=flow_cold / flow_warm, flow_lps=runs[True][0].n_lp_solves,
                flow_w1_diff=flow_diff)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ns", default="500,1000,2000,4000", help="particle counts of regime A")
    p.add_argument("--steps", type=int, default=20, help="steps of regime A")
    p.add_argument("--full-max-n", type=int, default=1000, help="largest n of regime B (whole flow)")
    p.add_argument("--warm-ns", default="1000,2000", help="n of the warm-start measurement ('' to skip)")
    p.add_argument("--quick", action="store_true", help="CI size: n in {500, 1000}, 10 steps")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    ns = [int(v) for v in args.ns.split(",") if v]
    steps, full_max, warm_ns = args.steps, args.full_max_n, [int(v) for v in args.warm_ns.split(",") if v]
    if args.quick:
        ns, steps, full_max, warm_ns = [n for n in ns if n <= 1000] or [500], 10, 500, [1000]
    print(f"bench_exact_flow ({machine()})")
    out = {"transport": [], "whole": [], "warm": []}

    print(f"\nA. transport phase, {steps} steps before the first arrival (one LP per step vs one LP)")
    rows = []
    for n in ns:
        r = transport_phase(n, steps, check=n <= 1000)
        out["transport"].append(r)
        rows.append([n, f"{r['dt']:.2e}", f"{r['ref_lps']} / {r['fast_lps']}", f"{r['ref_step'] * 1e3:.1f}",
                     f"{r['fast_step'] * 1e3:.3f}", f"{r['step_ratio']:.0f}x", f"{r['end_to_end_ratio']:.1f}x",
                     {True: "equal", False: "DIFFER", None: "not checked"}[r["equal"]]])
        print(f"  n={n} done", file=sys.stderr)
    print(table(["n", "dt", "LPs ref / reuse", "ms/step re-solve", "ms/step reuse", "per-step ratio",
                 "end-to-end ratio", "W1 history"], rows))

    full_ns = [n for n in ns if n <= full_max]
    if full_ns:
        print("\nB. whole flow, dt = 0.05 to the longest ray + 0.5 (overshoot, chattering)")
        rows = []
        for n in full_ns:
            r = whole_flow(n)
            out["whole"].append(r)
            rows.append([n, r["steps"], f"{r['ref_lps']} / {r['fast_lps']}", f"{r['ref_wall']:.2f}",
                         f"{r['fast_wall']:.2f}", f"{r['ratio']:.1f}x", f"{r['w1_final']:.4f}",
                         "equal" if r["equal"] else "DIFFER",
                         f"{r['capped_lps']} LP, {r['capped_wall']:.2f} s, W1 {r['capped_w1_final']:.1g}"])
        print(table(["n", "steps", "LPs ref / reuse", "s re-solve", "s reuse", "ratio", "final W1",
                     "W1 history", "CappedEuler"], rows))

    if warm_ns:
        print("\nWarm start of a re-solve after an overshoot (potentials_init = carried duals), best of 3")
        rows = []
        for n in warm_ns:
            r = warm_start(n)
            out["warm"].append(r)
            rows.append([n, f"{r['cold']:.3f}", f"{r['warm']:.3f}", f"{r['speedup']:.2f}x", f"{r['cost_diff']:.1e}",
                         f"{r['flow_cold']:.2f} / {r['flow_warm']:.2f}", f"{r['flow_speedup']:.2f}x", r["flow_lps"],
                         f"{r['flow_w1_diff']:.1e}"])
        print(table(["n", "one re-solve cold s", "warm s", "speedup", "|cost diff|",
                     "flow t<=2 cold / warm s", "flow speedup", "flow LPs", "max W1 diff"], rows))
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
