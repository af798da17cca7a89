"""Uncapped exact Euler on a quiet and on a busy machine: the passes' choice of threads.

Run:  python benchmarks/bench_busy.py [--ns 500,1000,2000] [--busy 1] [--repeats 1]

The demo problem (blob at (3, 0) -> 8 Gaussians, n = m, d = 2), uncapped ``Euler`` with
``ExactPotential()``, T = 5, dt = 0.05, three ways side by side in one process:

* **all threads**: every certificate pass by cell bounds, and every full pass of at least
  ``PARALLEL_PAIRS`` pairs, on all of Numba's threads (w1flow before 2026-12-06, thirteenth session);
* **chosen** (the default): ``w1flow.lp.cells.PASS_THREADS`` times its passes on one thread and on
  all now and then and keeps the faster;
* **one thread**: ``numba.set_num_threads(1)`` for the whole flow.

With ``--busy K`` it first starts K processes that spin on the CPU (a machine other work keeps
busy), before Numba's threads start, and stops them at the end. Printed: each way's seconds and its time over "all threads".
The flows' W1 histories agree to round-off whatever the threads (a pass's rows are independent).
Then the same three ways for a Morse swarm (``PairwiseInteraction``: one parallel O(N²) loop per
drift evaluation, ``w1flow.interactions.DRIFT_THREADS``), ``--drift-ns``.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import demo_problem, machine, table  # noqa: E402
from bench_incremental import _run  # noqa: E402


class _AllThreads:
    """Stands in for ``PASS_THREADS``: the thread count in force, never one thread."""

    @contextlib.contextmanager
    def __call__(self, pairs):
        from w1flow.threads import _PassRecord

        yield _PassRecord()


@contextlib.contextmanager
def _way(name):
    import numba

    import w1flow.interactions as inter
    import w1flow.lp.cells as cells
    import w1flow.lp.netsimplex as ns
    from w1flow.threads import ThreadChoice

    saved = cells.PASS_THREADS, ns.PASS_THREADS, inter.DRIFT_THREADS
    threads = numba.get_num_threads()
    try:
        if name == "all threads":
            cells.PASS_THREADS = ns.PASS_THREADS = inter.DRIFT_THREADS = _AllThreads()
        elif name == "chosen":  # fresh choices: no earlier probes
            cells.PASS_THREADS = ns.PASS_THREADS = ThreadChoice()
            inter.DRIFT_THREADS = ThreadChoice()
        elif name == "one thread":
            numba.set_num_threads(1)
        yield
    finally:
        cells.PASS_THREADS, ns.PASS_THREADS, inter.DRIFT_THREADS = saved
        numba.set_num_threads(threads)


def _morse_flow(n):
    """A Morse swarm (``PairwiseInteraction``, O(N²) a drift) by RK4, T = 1, dt = 0.01: 400 drifts."""
    import numpy as np

    from w1flow import RK4, MeanFieldODE, SaveAt, simulate
    from w1flow.interactions import PairwiseInteraction, morse_kernel

    x0 = np.random.default_rng(0).standard_normal((n, 2))
    drift = PairwiseInteraction(morse_kernel, params=(1.0, 1.5, 0.8, 0.5))
    return simulate(MeanFieldODE(drift), x0, 1.0, 0.01, solver=RK4(), saveat=SaveAt(w1=None))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ns", default="500,1000,2000", help="particle counts")
    p.add_argument("--busy", type=int, default=0, help="processes that keep cores busy during the runs")
    p.add_argument("--repeats", type=int, default=1, help="runs of each way (the best is printed)")
    p.add_argument("--drift-ns", default="200,1000",
                   help="particle counts of the Morse swarm (PairwiseInteraction, RK4; '' to skip)")
    args = p.parse_args(argv)
    from w1flow import Euler, ExactPotential

    ways = ("all threads", "chosen", "one thread")
    print(f"bench_busy ({machine()}), busy processes: {args.busy}")
    # the busy processes start first: Numba's OpenMP pool, created in the warm-up, then starts on a
    # machine that is already busy (as a run started beside other work does)
    # in their own session, as other work on the machine is (the scheduler shares the cores between
    # sessions first: a busy process in this run's own session competed less, 0.88 s against 9.4 s
    # with all threads at n = 500)
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(args.busy)]
    rows = []
    try:
        time.sleep(0.5 if hogs else 0.0)
        x0, y = demo_problem(600, 0)
        _run(y, x0, Euler(), ExactPotential(), 0.3, 0.05)  # compile before any clock starts
        for n in (int(v) for v in args.ns.split(",") if v):
            x0, y = demo_problem(n, 0)
            best, w1 = {}, {}
            for _ in range(args.repeats):
                for way in ways:
                    with _way(way):
                        res = _run(y, x0, Euler(), ExactPotential(), 5.0, 0.05)
                    best[way] = min(best.get(way, float("inf")), res.wall_time)
                    w1[way] = float(res.w1[-1])
            base = best["all threads"]
            rows.append([n] + [f"{best[w]:.2f} ({best[w] / base:.2f})" for w in ways]
                        + [f"{max(abs(w1[w] - w1['all threads']) for w in ways):.1e}"])
            print(f"  n={n} done", file=sys.stderr)
        drift_rows = []
        _morse_flow(50)  # compile
        for n in (int(v) for v in args.drift_ns.split(",") if v):
            best, xf = {}, {}
            for _ in range(args.repeats):
                for way in ways:
                    with _way(way):
                        res = _morse_flow(n)
                    best[way] = min(best.get(way, float("inf")), res.wall_time)
                    xf[way] = res.x_final
            base = best["all threads"]
            drift_rows.append([n] + [f"{best[w]:.2f} ({best[w] / base:.2f})" for w in ways]
                              + [f"{max(float(abs(xf[w] - xf['all threads']).max()) for w in ways):.1e}"])
    finally:
        for h in hogs:
            h.kill()
    print(table(["n"] + [f"{w} s (/ all threads)" for w in ways] + ["largest final-W1 difference"], rows))
    if drift_rows:
        print("\nMorse swarm, PairwiseInteraction, RK4, T = 1, dt = 0.01 (400 drift evaluations)")
        print(table(["n"] + [f"{w} s (/ all threads)" for w in ways] + ["largest difference of the final particles"],
                    drift_rows))


if __name__ == "__main__":
    main()
