"""W2-FE: the W2 gradient flow of ½W2²(·, μ_d) decays like e^{−t}; its Euler scheme contracts by
exactly 1 − Δt per step for 0 < Δt ≤ 1, by at most |1 − Δt| for 1 < Δt < 2, and not at all for
Δt ≥ 2.

The flow is dY/dt = T(Y) − Y with T the barycentric projection of the optimal W2 plan; on
particles with a permutation plan the Euler step moves each particle along the segment to its
target, so W2 shrinks by |1 − Δt| while the plan stays optimal (Δt ≤ 1), and by at most that
otherwise (the reflected coupling need not stay optimal). W2 is measured by an independent LP.
Steps with Δt ≥ 2 (which w1flow refuses, as unstable) are taken by hand from ``W2Flow.field``.
"""

from __future__ import annotations

import math

import numpy as np

import w1flow as wf

from ._core import PASS, Outcome, verdict_from
from ._reference import uniform, w2

TITLE = "W2-FE: W2 decays like e^{−t}; Euler contracts by 1 − Δt (0 < Δt ≤ 1), at most |1 − Δt| (Δt < 2), not at all (Δt ≥ 2)"
CLAIM = "The W2 analogue of the W1 flow contracts W2 exponentially; its forward Euler scheme contracts for 0 < Δt < 2."
SOURCE = ("Huang & Malik, arXiv:2406.13619 (W2-FE), the recipe 'beyond W1' of Malik & Huang, arXiv:2405.16351, inferred; "
          "the rates are our analysis")
EXPECTED = PASS
THRESHOLDS = {
    "rel_exact": (1e-10, "W2_k / W2_0 = (1 − Δt)^k to LP round-off (k ≤ 6 steps)"),
    "rel_bound": (1e-10, "W2_k / W2_0 ≤ |1 − Δt|^k up to round-off for 1 < Δt < 2"),
    "no_contraction": (1.0, "for Δt ≥ 2 one step does not shrink W2 (ratio ≥ 1)"),
    "exp_rel": (2.0, "|W2(T)/W2(0) − e^{−T}| ≤ 2 · TΔt/2 · e^{−T}, twice Euler's leading error: (1−Δt)^{T/Δt} = e^{−T}(1 − TΔt/2 + …)"),
    "contradiction": (1e-3, "a contraction ratio off by this much is not round-off"),
}
BROKEN = "a wrong target map (a non-optimal assignment of the particles to the data)"


def _euler(problem, x, a, dt, steps, wrong=None):
    xs = [x]
    for _ in range(steps):
        if wrong is None:
            v = problem.field(xs[-1], a, 0.0).velocity
        else:
            v = problem.target[wrong] - xs[-1]
        xs.append(xs[-1] + dt * v)
    return xs


def run(mode="quick", broken=False, out=None):
    rng = np.random.default_rng(11)
    n = 8 if mode == "quick" else 40
    y = rng.normal(size=(n, 2))
    x0 = y[rng.permutation(n)] * 0.7 + rng.normal(size=(n, 2)) * 0.3 + (2.0, 1.0)
    a = uniform(n)
    problem = wf.W2Flow(y)
    wrong = None
    if broken:
        opt = np.argmax(problem.plan(x0, a)[0], axis=1)
        wrong = np.roll(opt, 1)
    W0 = w2(x0, a, y, a)
    steps = 6
    rows, exact_err, bound_excess, no_contraction = [], 0.0, -np.inf, []
    for dt in (0.1, 0.5, 1.0, 1.5, 1.9, 2.2, 3.0):
        if dt < 2 and wrong is None:  # the library's solver
            res = wf.simulate(problem, x0, steps * dt, dt, solver=wf.Euler(), saveat=wf.SaveAt(every=1, w1=None))
            xs = list(res.xs)
        else:
            xs = _euler(problem, x0, a, dt, steps if dt < 2 else 1, wrong)
        ratios = np.array([w2(xk, a, y, a) / W0 for xk in xs])
        k = np.arange(len(xs))
        if dt <= 1:
            exact_err = max(exact_err, float(np.max(np.abs(ratios - (1 - dt) ** k))))
        elif dt < 2:
            bound_excess = max(bound_excess, float(np.max(ratios - abs(1 - dt) ** k)))
        else:
            no_contraction.append(float(ratios[1]))
        rows.append((dt, ratios))
    T, dts_exp, exp_err = 1.0, (0.02, 0.01), []
    for dt in dts_exp:
        xs = _euler(problem, x0, a, dt, int(round(T / dt)), wrong)
        exp_err.append(abs(w2(xs[-1], a, y, a) / W0 - math.exp(-T)) / (T * dt / 2 * math.exp(-T)))
    ok = [exact_err <= THRESHOLDS["rel_exact"][0], bound_excess <= THRESHOLDS["rel_bound"][0],
          min(no_contraction) >= THRESHOLDS["no_contraction"][0], max(exp_err) <= THRESHOLDS["exp_rel"][0]]
    bad = [exact_err > THRESHOLDS["contradiction"][0], bound_excess > THRESHOLDS["contradiction"][0]]
    verdict = verdict_from(ok, bad)
    key = (f"|W2_k/W2_0 − (1−Δt)^k| ≤ {exact_err:.0e} (Δt ≤ 1); excess over |1−Δt|^k {bound_excess:.0e} "
           f"(Δt = 1.5, 1.9); one step at Δt = 2.2, 3: ratio {no_contraction[0]:.2f}, {no_contraction[1]:.2f}; "
           f"W2(1)/W2(0) vs e^-1: error/(TΔt/2·e^-T) = {exp_err[0]:.2f}, {exp_err[1]:.2f}")
    details = "| Δt | W2_k / W2_0, k = 0 … |\n|---|---|\n" + "\n".join(
        f"| {dt:g} | " + ", ".join(f"{r:.6f}" for r in ratios) + " |" for dt, ratios in rows)
    return Outcome(verdict, key, dict(n=n, W2_0=W0, exact_err=exact_err, bound_excess=bound_excess,
                                      no_contraction=no_contraction, exp_err=exp_err,
                                      ratios={str(dt): r for dt, r in rows}), details)
