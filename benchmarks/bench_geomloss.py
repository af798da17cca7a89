"""w1flow's exact flow vs the geomloss Sinkhorn (p = 1) particle flow, side by side.

Run:  python benchmarks/bench_geomloss.py [--quick] [--settings tutorial,best]

Problem: n = 500 particles from a Gaussian blob at (3, 0) (std 0.5) to 500 samples of 8
Gaussians (radius 2, std 0.05), T = 5, dt = 0.05 (100 steps). For each method: the time to reach
an exact W1 <= 0.05 (exact W1 by the LP, measured outside the timed flow) and the final exact W1.

geomloss: ``SamplesLoss("sinkhorn", p=1, blur, scaling)``; particles move with ``−n ∇_x L``
(the unit-speed plan velocity as blur → 0), the update of geomloss's gradient-flow tutorial.
Skipped with a message when torch or geomloss is missing (``pip install torch geomloss``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import demo_problem, machine, table, write_json

SETTINGS = {"tutorial": dict(blur=0.01, scaling=0.5), "best": dict(blur=0.001, scaling=0.95)}
TARGET = 0.05


def geomloss_flow(x0, y, T, dt, blur, scaling):
    import torch
    from geomloss import SamplesLoss

    from w1flow import metrics

    loss = SamplesLoss("sinkhorn", p=1, blur=blur, scaling=scaling)
    n = x0.shape[0]
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.float64)
    flow_seconds, reached, w1 = 0.0, None, metrics.w1(x0, y)
    for k in range(int(round(T / dt))):
        start = time.perf_counter()
        L = loss(x, yt)
        (g,) = torch.autograd.grad(L, [x])
        with torch.no_grad():
            x -= dt * n * g
        flow_seconds += time.perf_counter() - start
        w1 = metrics.w1(x.detach().numpy(), y)  # exact W1, not timed
        if reached is None and w1 <= TARGET:
            reached = flow_seconds
    return dict(time_to_target=reached, total=flow_seconds, w1_final=w1)


def w1flow_flow(x0, y, T, dt, solver):
    from w1flow import W1Flow, metrics, simulate

    stamps = []
    start = time.perf_counter()
    res = simulate(W1Flow(y), x0, T, dt, solver=solver, callback=lambda t, x, a: stamps.append(time.perf_counter()))
    total = time.perf_counter() - start
    hit = np.flatnonzero(res.w1 <= TARGET)
    reached = None if hit.size == 0 else (0.0 if hit[0] == 0 else stamps[hit[0] - 1] - start)
    return dict(time_to_target=reached, total=total, w1_final=metrics.w1(res.x_final, y),
                lps=res.n_lp_solves)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--T", type=float, default=5.0)
    p.add_argument("--dt", type=float, default=0.05)
    p.add_argument("--settings", default="tutorial,best", help="geomloss settings: tutorial, best")
    p.add_argument("--quick", action="store_true", help="geomloss tutorial setting only")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    settings = ["tutorial"] if args.quick else [s for s in args.settings.split(",") if s]
    from w1flow import CappedEuler, Euler

    x0, y = demo_problem(args.n)
    print(f"bench_geomloss ({machine()}), n = {args.n}, T = {args.T}, dt = {args.dt}, target W1 <= {TARGET}")
    results, rows = {}, []
    fmt = lambda v: "never" if v is None else f"{v:.2f}"  # noqa: E731
    for name, solver in (("w1flow CappedEuler (exact)", CappedEuler()), ("w1flow Euler (exact, uncapped)", Euler())):
        r = w1flow_flow(x0, y, args.T, args.dt, solver)
        results[name] = r
        rows.append([name, fmt(r["time_to_target"]), f"{r['total']:.2f}", f"{r['w1_final']:.3g}", r["lps"]])
    try:
        import geomloss  # noqa: F401
        import torch

        torch.set_default_dtype(torch.float64)
    except ImportError as exc:
        print(f"geomloss comparison skipped: {exc} (pip install torch geomloss to run it)")
    else:
        for s in settings:
            kw = SETTINGS[s]
            name = f"geomloss sinkhorn p=1 {s} (blur {kw['blur']}, scaling {kw['scaling']})"
            r = geomloss_flow(x0, y, args.T, args.dt, **kw)
            results[name] = r
            rows.append([name, fmt(r["time_to_target"]), f"{r['total']:.2f}", f"{r['w1_final']:.3g}", "-"])
    print(table(["method", f"s to W1 <= {TARGET}", "s total", "final exact W1", "LPs"], rows))
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
