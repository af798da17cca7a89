"""Exact capped W1 flow in 2-D up to n = 10^4: end-to-end time over the time of one ot.emd.

Run:  python benchmarks/bench_scaling.py [--max-n 10000] [--quick]

For each n (n = m, blob at (3, 0) -> 8 Gaussians): the time of one ``ot.emd`` solve on a
prebuilt ``cdist`` cost, then ``simulate(..., solver=CappedEuler())`` from t = 0 to the longest
ray (dt = 0.05, W1 recorded at every step) end to end: validation, cost matrix, the one LP,
sparse plan extraction, all steps and the W1 history. Goal: ratio <= 2. Also printed: the LP
count, the final W1 (exactly 0 when every particle has landed), the time of one optimality
certificate (chunked O(n^2)) and the peak memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import sys

import numpy as np

from _common import demo_problem, emd_seconds, machine, table, timed, write_json


def one(n, dt=0.05, repeat=1, seed=0):
    from w1flow import CappedEuler, ExactPotential, W1Flow, simulate

    class Remember(ExactPotential):
        """The exact oracle, keeping its last potential (for the certificate timing below)."""

        def __call__(self, *args, **kwargs):
            self.last = super().__call__(*args, **kwargs)
            return self.last

    x0, y = demo_problem(n, seed)
    emd = emd_seconds(x0, y, repeat=repeat)
    best, res = np.inf, None
    for _ in range(repeat):
        oracle = Remember()
        t, r = timed(simulate, W1Flow(y), x0, 6.0, dt, solver=CappedEuler(), potential=oracle)
        if t < best:
            best, res = t, r
    assert res.success and res.n_lp_solves == 1 and res.w1[-1] == 0.0, res
    cert_s, cert = _certify_at(oracle.last, 2.0)
    return dict(n=n, emd=emd, flow=best, ratio=best / emd, steps=res.n_steps, lps=res.n_lp_solves,
                w1_0=float(res.w1[0]), w1_final=float(res.w1[-1]), lp_seconds=res.timings["field"],
                cert_seconds=cert_s, cert_ok=cert.ok, cert_violation=cert.max_violation,
                peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2)


def _certify_at(pot, t):
    """Seconds and result of one certificate of the capped flow at time t (what
    ``CappedEuler(certify=True)`` costs per save point), reusing the run's LP: the initial plan
    at the positions reached along the rays, duals lowered by the distance moved."""
    _, direction, length = pot.rays()
    s = np.minimum(t, length)
    moved = pot.moved(pot.x + s[:, None] * direction, pot.u - s)
    return timed(moved.certify)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ns", default="1000,2000,4000,10000", help="particle counts")
    p.add_argument("--max-n", type=int, default=10_000, help="skip larger n")
    p.add_argument("--repeat", type=int, default=2, help="best of this many runs for n <= 4000")
    p.add_argument("--quick", action="store_true", help="CI size: n <= 1000")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    max_n = min(args.max_n, 1000) if args.quick else args.max_n
    ns = [int(v) for v in args.ns.split(",") if v and int(v) <= max_n] or [max_n]
    print(f"bench_scaling ({machine()})")
    rows, out = [], []
    for n in ns:
        r = one(n, repeat=args.repeat if n <= 4000 else 1)
        out.append(r)
        rows.append([n, f"{r['emd']:.2f}", f"{r['flow']:.2f}", f"{r['ratio']:.2f}", r["steps"], r["lps"],
                     f"{r['w1_0']:.4f} -> {r['w1_final']:.1g}", f"{r['cert_seconds']:.3f}",
                     f"{r['cert_violation']:.1e}", f"{r['peak_rss_gb']:.2f}"])
        print(f"  n={n} done", file=sys.stderr, flush=True)
    print(table(["n", "one ot.emd s", "capped flow s", "flow / emd", "steps", "LPs", "W1",
                 "certificate s", "max dual viol.", "peak RSS GB"], rows))
    write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
