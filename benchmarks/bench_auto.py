"""One cold exact W1 LP: dense (POT's network simplex on n x m matrices) against w1flow's certified
sparse LP, side by side by size (the rule of ``method="auto"``, ``w1flow.lp.choose_method``).

Run:  python benchmarks/bench_auto.py [--ns 500,1000,2000,4000,10000] [--instances ...] [--repeat 2] [--seed 0]

Instances (``--seed``, default 0; the size rule was chosen on seed 0, and seed 1 reports it): ``demo`` (blob -> 8 Gaussians, d = 2) and ``demo3`` (its lift to d = 3);
``late`` (8 Gaussians + noise 0.01 -> 8 Gaussians); ``gaussians`` (N(0, I) against N(0.3, 1.21 I),
d = 2) and ``gaussians5`` (the same in d = 5); ``weighted`` (two Gaussian clouds in d = 3, random
weights, m = 3n/4). Each size runs both methods in one process, alternating which goes first,
best of ``--repeat`` (one run from n = 10^4); the compiled kernels are loaded by a small solve
first. Printed: seconds of each, the ratio sparse / dense, n·m, and the relative difference of
the two values (both certified optimal).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import demo_problem, machine, table, write_json

INSTANCES = ("demo", "demo3", "late", "gaussians", "gaussians5", "weighted")


def instance(kind, n, seed=0):
    """``(x, a, y, b)`` of an instance (validated weights)."""
    from w1flow.datasets import eight_gaussians

    rng = np.random.default_rng(seed)
    m = n
    a = b = None
    if kind in ("demo", "demo3"):
        x, y = demo_problem(n, seed, d=2 if kind == "demo" else 3)
    elif kind == "late":
        y = eight_gaussians(n, radius=2.0, std=0.05, seed=rng)
        x = y[rng.permutation(n)] + 0.01 * rng.standard_normal((n, 2))
    elif kind in ("gaussians", "gaussians5"):
        d = 2 if kind == "gaussians" else 5
        x, y = rng.standard_normal((n, d)), 0.3 + 1.1 * rng.standard_normal((n, d))
    elif kind == "weighted":
        m = 3 * n // 4
        x, y = rng.normal(size=(n, 3)) + 1.0, rng.normal(size=(m, 3))
        a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    else:
        raise ValueError(f"instance must be one of {INSTANCES}, got {kind!r}")
    a = np.full(n, 1 / n) if a is None else a / a.sum()
    b = np.full(m, 1 / m) if b is None else b / b.sum()
    return x, a, y, b


def solve_seconds(x, a, y, b, method):
    from w1flow.lp import solve

    start = time.perf_counter()
    r = solve(x, a, y, b, method=method, max_memory=None)
    seconds = time.perf_counter() - start
    assert r.status == "optimal", r.message
    return seconds, float(r.cost)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns", default="500,1000,2000,4000,10000")
    p.add_argument("--instances", default=",".join(INSTANCES))
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json", default=None, help="write the rows to this JSON file")
    p.add_argument("--seed", type=int, default=0, help="the instances' seed")
    args = p.parse_args(argv)
    print(f"bench_auto ({machine()})")
    x, a, y, b = instance("weighted", 300)
    for method in ("dense", "sparse"):  # load the compiled kernels
        solve_seconds(x, a, y, b, method)
    rows, out = [], []
    for kind in args.instances.split(","):
        for n in [int(v) for v in args.ns.split(",")]:
            x, a, y, b = instance(kind, n, seed=args.seed)
            best = {"dense": np.inf, "sparse": np.inf}
            values = {}
            for rep in range(args.repeat if n < 10_000 else 1):
                for method in (("dense", "sparse") if rep % 2 == 0 else ("sparse", "dense")):
                    s, values[method] = solve_seconds(x, a, y, b, method)
                    best[method] = min(best[method], s)
            ratio = best["sparse"] / best["dense"]
            diff = abs(values["sparse"] - values["dense"]) / values["dense"]
            out.append({"instance": kind, "seed": args.seed, "n": n, "m": y.shape[0], "d": x.shape[1], **best, "ratio": ratio,
                        "rel_diff": diff})
            rows.append([kind, x.shape[1], n, y.shape[0], f"{n * y.shape[0]:.1e}", f"{best['dense']:.3f}",
                         f"{best['sparse']:.3f}", f"{ratio:.2f}", f"{diff:.1e}"])
            print(table(["instance", "d", "n", "m", "n·m", "dense s", "sparse s", "sparse / dense", "rel. diff"],
                        rows[-1:]).splitlines()[-1], flush=True)
    print(table(["instance", "d", "n", "m", "n·m", "dense s", "sparse s", "sparse / dense", "rel. diff"], rows))
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
