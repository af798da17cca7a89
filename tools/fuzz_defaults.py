"""Fuzz the exact paths at their defaults against POT on ``cdist`` costs (an independent reference).

Usage::

    python tools/fuzz_defaults.py lp [--seed 1] [--seconds 300]      # lp.solve / metrics.w1
    python tools/fuzz_defaults.py flows [--seed 1] [--seconds 300]   # whole flows' final W1
    python tools/fuzz_defaults.py potentials [--seed 1] [--seconds 300]  # the potential object
    python tools/fuzz_defaults.py large [--seed 1] [--seconds 300]  # sparse sizes, d 1-10, warm
    python tools/fuzz_defaults.py metrics [--seed 1] [--seconds 300]  # w2, sliced_w1, coords

``lp``: random problems around the size rules (n, m in 450…1300: the dense LP, the sparse LP from
10⁶ pairs, cell pricing from 2.5·10⁵ pairs in d = 2), d in {1, 2, 3, 5}, with exact ties (integer
grids, duplicated points, collinear clouds), zero and uneven weights; the value of ``lp.solve``
and ``metrics.w1`` must equal ``ot.emd2`` to 1e-9 relative with status "optimal".
``flows``: ``simulate`` with ``ExactPotential()`` and CappedEuler(split=True), Euler, Heun or RK4
on such clouds (also points on a coordinate axis, where POT's simplex can cycle); the reported
final W1 must equal ``ot.emd2`` on the final cloud. ``potentials``: each ``method``'s potential
object (its W1, φ 1-Lipschitz, φ at the particles and data an optimal dual pair, the plan velocity). Prints every failure (an exception, a failed
status, a wrong value) and a summary; exit status 1 if any. Found on 2026-12-06: a 1-D plan with
zero weights that sort last (an IndexError), POT cycling under ``method="auto"`` (a flow stopped
with ``lp_failed``), coordinates past float64's squares (0.0 returned as W1).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import ot
from scipy.spatial.distance import cdist

warnings.simplefilter("ignore")


def _weights(rng, n, zeros=0.3):
    w = rng.random(n) if rng.random() < 0.5 else np.ones(n)
    if rng.random() < zeros:
        w[rng.random(n) < 0.2] = 0.0
    if w.sum() == 0:
        w[0] = 1.0
    return w / w.sum()


def _clouds(rng, kinds, n, m, d):
    kind = str(rng.choice(kinds))
    if kind == "grid":
        return kind, rng.integers(0, 6, (n, d)).astype(float), rng.integers(0, 6, (m, d)) + 0.5
    if kind == "dup":
        base = rng.standard_normal((40, d))
        return kind, base[rng.integers(0, 40, n)] + 1.0, base[rng.integers(0, 40, m)]
    if kind in ("collinear", "axis"):
        e = np.eye(d)[0] if kind == "axis" else rng.standard_normal(d) / 1.0
        e = e / np.linalg.norm(e)
        s, t = rng.integers(0, 5, n) + rng.random() * (rng.random() < 0.5), rng.integers(0, 5, m) + 0.5
        return kind, s[:, None] * e, t[:, None] * e
    return kind, rng.standard_normal((n, d)) + 0.5, 1.1 * rng.standard_normal((m, d))


def _fuzz(rng, seconds, one_case, what):
    """Run ``one_case(rng) -> (label, failure or None)`` for ``seconds``, printing every failure (an
    exception counts as one); returns (cases, failures)."""
    cases = bad = 0
    t0 = time.time()
    try:
        while time.time() - t0 < seconds:
            cases += 1
            label = "?"
            try:
                label, failure = one_case(rng)
            except Exception as exc:  # reported, the point of a fuzzer
                failure = f"{type(exc).__name__}: {exc}"
            if failure:
                bad += 1
                print(f"FAIL {what} case {cases}: {label}: {failure[:300]}", flush=True)
    except KeyboardInterrupt:  # stopped by hand: the summary of the cases run so far
        cases -= 1
    return cases, bad


def _off(value, ref):
    """Whether ``value`` differs from the reference ``ref`` by more than 1e-9 relative (1e-21 absolute
    at a zero reference): the fuzzers' one tolerance."""
    return abs(value - ref) > 1e-9 * max(ref, 1e-12)


def _pot_w1(a, b, M, cap=10**7):
    """POT's exact value, or None where POT's own simplex fails (it can cycle on tie-heavy
    clouds: the reference is then missing, not our answer wrong)."""
    G, log = ot.emd(a, b, M, numItermax=cap, log=True)
    return float(log["cost"]) if log["result_code"] == 1 else None


def lp_case(rng):
    from w1flow import metrics
    from w1flow.lp import solve

    d = int(rng.choice([1, 2, 2, 2, 3, 5]))
    n, m = (int(k) for k in rng.integers(450, 1300, 2))
    kind, x, y = _clouds(rng, ["gauss", "grid", "dup", "collinear"], n, m, d)
    a, b = _weights(rng, n), _weights(rng, m)
    label = f"d={d} n={n} m={m} {kind}"
    ref = float(ot.emd2(a, b, cdist(x, y), numItermax=10**8))
    lp = solve(x, a, y, b)
    w = metrics.w1(x, y, a, b)
    if lp.status == "optimal" and not (_off(lp.cost, ref) or _off(w, ref)):
        return label, None
    return label, f"status {lp.status}, solve {lp.cost!r}, metrics.w1 {w!r}, POT {ref!r}"


def flow_case(rng):
    from w1flow import RK4, CappedEuler, Euler, ExactPotential, Heun, W1Flow, simulate

    d = int(rng.choice([1, 2, 2, 3]))
    n, m = (int(k) for k in rng.integers(5, 700, 2))
    kind, x, y = _clouds(rng, ["gauss", "grid", "dup", "axis", "axis"], n, m, d)
    a = _weights(rng, n) if rng.random() < 0.5 else None
    b = _weights(rng, m, zeros=0.0) if rng.random() < 0.5 else None
    solver = [CappedEuler(split=True), Euler(), Euler(), Heun(), RK4()][int(rng.integers(0, 5))]
    dt, t1 = float(rng.choice([0.05, 0.1, 0.3])), float(rng.choice([0.5, 2.0, 5.0]))
    label = f"d={d} n={n} m={m} {kind} {type(solver).__name__} dt={dt} t1={t1}"
    res = simulate(W1Flow(y, b, potential=ExactPotential()), x, t1, dt, solver=solver, weights=a)
    if not res.success:
        return label, f"status {res.status}: {res.message}"
    xf, af = np.asarray(res.x_final), np.asarray(res.a_final)
    ref = float(ot.emd2(af, np.full(m, 1 / m) if b is None else b, cdist(xf, y), numItermax=10**8))
    err = abs(res.w1[-1] - ref)
    if err <= 1e-8 * ref or err <= 1e-12 * (1.0 + np.abs(xf).max()):
        return label, None
    return label, f"final W1 {res.w1[-1]!r} against POT {ref!r}"


def potential_case(rng):
    """``ExactPotential(method=...)``'s potential: W1 against POT, φ 1-Lipschitz, ``Σ a φ(x) − Σ b φ(y)``
    equal to W1 (φ at the particles and the data is an optimal dual pair), and the velocity the
    plan's ``Σ_j G_ij/a_i e_ij``."""
    from w1flow import ExactPotential

    d = int(rng.choice([1, 2, 3]))
    n, m = (int(k) for k in rng.integers(2, 1300, 2))
    kind, x, y = _clouds(rng, ["gauss", "grid", "axis"], n, m, d)
    a, b = _weights(rng, n), _weights(rng, m, zeros=0.0)
    method = str(rng.choice(["auto", "dense", "sparse", "incremental"]))
    label = f"d={d} n={n} m={m} {kind} {method}"
    pot = ExactPotential(method=method)(x, a, y, b)
    if not pot.success:
        return label, f"status {pot.status}: {pot.message}"
    ref = float(ot.emd2(a, b, cdist(x, y), numItermax=10**8))
    tol = 1e-9 * max(ref, 1e-12)
    msgs = []
    if _off(pot.w1, ref):
        msgs.append(f"W1 {pot.w1!r} against POT {ref!r}")
    z = np.r_[x, y, 3 * rng.standard_normal((50, d))]
    phi = pot.value(z)
    lip = float(np.max(np.abs(phi[:, None] - phi[None, :]) - cdist(z, z)))
    if lip > 1e-9 * (1.0 + np.abs(z).max()):
        msgs.append(f"phi not 1-Lipschitz by {lip:.1e}")
    dual = float(np.dot(a, phi[:n]) - np.dot(b, phi[n:n + m]))
    if abs(dual - ref) > tol + 1e-12:
        msgs.append(f"dual value {dual!r} against {ref!r}")
    G = np.zeros((n, m))
    np.add.at(G, (pot.plan_rows, pot.plan_cols), pot.plan_mass)
    E = y[None, :, :] - x[:, None, :]
    L = np.linalg.norm(E, axis=2)
    L[L == 0] = np.inf
    ref_v = np.einsum("ij,ijk->ik", G / np.where(a > 0, a, 1.0)[:, None], E / L[:, :, None])
    # a row's plan mass carries round-off of ~1e-16 absolute (differences of cumulative sums, tree
    # flows), so the speed G/a is off by ~1e-16/a_i relative for tiny weights
    err = np.abs(np.asarray(pot.velocity) - ref_v).max(axis=1) / (1e-9 + 1e-15 / np.maximum(a, 1e-300))
    off = float(np.max(err[a > 0]))
    if off > 1.0:
        msgs.append(f"velocity off by {off:.1f}x its tolerance")
    return label, "; ".join(msgs) or None


def large_case(rng):
    """Sizes where the defaults take the certified sparse LP (n·m from 10⁶) and, in d = 2 and 3,
    cell pricing; d from 1 to 10; then a warm re-solve by the same oracle after the particles
    move (some onto data points, some onto each other: ties), both against POT."""
    from w1flow import ExactPotential, metrics

    d = int(rng.choice([1, 2, 2, 3, 3, 4, 6, 10]))
    n, m = (int(k) for k in rng.integers(1000, 3200, 2))
    kind, x, y = _clouds(rng, ["gauss", "gauss", "grid", "dup", "collinear"], n, m, d)
    a, b = _weights(rng, n), _weights(rng, m)
    label = f"d={d} n={n} m={m} {kind}"
    msgs = []
    ref = _pot_w1(a, b, cdist(x, y))
    if ref is None:
        return label + " (POT failed: skipped)", None
    w = metrics.w1(x, y, a, b)
    if _off(w, ref):
        msgs.append(f"metrics.w1 {w!r} against POT {ref!r}")
    oracle = ExactPotential()
    pot = oracle(x, a, y, b)
    if not pot.success or _off(pot.w1, ref):
        msgs.append(f"first solve {pot.status} {pot.w1!r} against POT {ref!r}")
    x2 = x + 0.05 * rng.standard_normal(x.shape) * (rng.random((n, 1)) < 0.5)
    on_data = rng.random(n) < 0.1
    x2[on_data] = y[rng.integers(0, m, int(on_data.sum()))]
    x2[rng.random(n) < 0.05] = x2[0]
    ref2 = _pot_w1(a, b, cdist(x2, y))
    pot2 = oracle(x2, a, y, b)
    if not pot2.success or (ref2 is not None and _off(pot2.w1, ref2)):
        msgs.append(f"warm solve {pot2.status} {pot2.w1!r} against POT {ref2!r} ({pot2.message[:120]})")
    return label, "; ".join(msgs) or None


def metrics_case(rng):
    """``metrics.w2`` against POT on squared ``cdist`` costs; ``metrics.sliced_w1`` at most W1 (and
    equal to it on the line); ``metrics.w1`` with ``coords``: W1 of the selected coordinates."""
    from w1flow import metrics

    d = int(rng.choice([1, 1, 2, 3, 5]))
    n, m = (int(k) for k in rng.integers(2, 900, 2))
    kind, x, y = _clouds(rng, ["gauss", "grid", "dup", "collinear", "axis"], n, m, d)
    a, b = _weights(rng, n), _weights(rng, m)
    label = f"d={d} n={n} m={m} {kind}"
    msgs = []
    ref2 = float(np.sqrt(max(ot.emd2(a, b, cdist(x, y, "sqeuclidean"), numItermax=10**8), 0.0)))
    w2 = metrics.w2(x, y, a, b)
    if _off(w2, ref2):
        msgs.append(f"w2 {w2!r} against POT {ref2!r}")
    ref1 = float(ot.emd2(a, b, cdist(x, y), numItermax=10**8))
    sw = metrics.sliced_w1(x, y, a, b, n_projections=20, seed=int(rng.integers(0, 1000)))
    if sw > ref1 * (1 + 1e-9) + 1e-12 or (d == 1 and _off(sw, ref1)):
        msgs.append(f"sliced_w1 {sw!r} against W1 {ref1!r}")
    if d > 1:
        c = sorted(set(int(k) for k in rng.integers(0, d, 2)))
        refc = float(ot.emd2(a, b, cdist(x[:, c], y[:, c]), numItermax=10**8))
        wc = metrics.w1(x, y, a, b, coords=c)
        if _off(wc, refc):
            msgs.append(f"w1 coords={c} {wc!r} against POT {refc!r}")
    return label, "; ".join(msgs) or None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["lp", "flows", "potentials", "large", "metrics"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--seconds", type=float, default=300.0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    one_case = {"lp": lp_case, "flows": flow_case, "potentials": potential_case, "large": large_case,
               "metrics": metrics_case}[args.what]
    cases, bad = _fuzz(rng, args.seconds, one_case, args.what)
    print(f"{args.what}: {cases} cases, {bad} failures (seed {args.seed}, {args.seconds:.0f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
