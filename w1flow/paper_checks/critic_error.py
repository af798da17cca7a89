"""The reviewers' question: does the flow survive a bounded error in the potential's gradient?

Reviewer 2 asked whether Theorem 4.1 holds when the learned potential is only approximately
right. Tested on particles: the exact flow's velocity plus a fixed smooth error field of norm ε,
V(x) + ε u(x) with |u| = 1, forward Euler (Δt = 0.02) from a blob N((3, 0), 0.25 I) to
8 Gaussians (n = 100) until T = W1(0) + 1, well after the exact flow's hitting time. The
hypothesis (ours): the final W1 grows at most linearly in ε, W1_T(ε) ≤ W1_T(0) + C ε with
C = 2, for ε up to 0.8 (the error stays below the exact speed 1, so every particle still
approaches its target). A fit W1_T(ε) − W1_T(0) = c ε^p is reported.
"""

from __future__ import annotations

import numpy as np

import w1flow as wf
from w1flow.datasets import eight_gaussians, gaussian_blob

from ._core import PASS, Outcome, loglog_figure, verdict_from
from ._reference import uniform, w1

TITLE = "Reviewers: the flow under a bounded critic error ε (W1 at T against ε)"
CLAIM = "Forward Euler still reaches the data up to O(ε) when ∇φ carries a bounded error ε."
SOURCE = ("Malik & Huang, arXiv:2405.16351, Theorem 4.1 (§4): Reviewer 2 asks whether it survives a bounded error of the "
          "potential (ICLR 2025 review, OpenReview 7oaWthT9EO), verified; the bound tested is our analysis")
EXPECTED = PASS
THRESHOLDS = {
    "C": (2.0, "W1_T(ε) − W1_T(0) ≤ 2ε: an error of speed ε displaces a particle by O(ε) per unit time near its target, where the exact speed 1 pulls it back"),
    "contradiction": (4.0, "W1_T(ε) − W1_T(0) > 4ε for some ε (twice the bound's constant): the error is amplified"),
}
BROKEN = "the error field pointing away from the data with speed 1 + ε (stronger than the flow)"


def _field(x):
    u = np.stack([np.cos(3 * x[:, 1] + 1.0), np.sin(2 * x[:, 0] - 0.5)], axis=1)
    return u / np.maximum(np.linalg.norm(u, axis=1), 1e-12)[:, None]


def run(mode="quick", broken=False, out=None):
    n, dt = (100, 0.02) if mode == "quick" else (300, 0.01)
    x0, y = gaussian_blob(n, seed=3), eight_gaussians(n, seed=4)
    a = uniform(n)
    T = float(np.ceil(w1(x0, a, y, a))) + 1.0
    oracle = wf.ExactPotential()
    epss = (0.0, 0.1, 0.2, 0.4, 0.8)
    final = {}
    for eps in epss:
        x = x0.copy()
        for _ in range(int(round(T / dt))):
            v = oracle(x, a, y, a).velocity
            err = -(1.0 + eps) * v if broken else eps * _field(x)
            x = x + dt * (v + err)
        final[eps] = w1(x, a, y, a)
    excess = {e: final[e] - final[0.0] for e in epss[1:]}
    ratio = max(excess[e] / e for e in excess)
    pos = [(e, d) for e, d in excess.items() if d > 0]
    p, c = (np.polyfit(np.log([e for e, _ in pos]), np.log([d for _, d in pos]), 1) if len(pos) >= 2
            else (np.nan, np.nan))
    verdict = verdict_from([ratio <= THRESHOLDS["C"][0]], [ratio > THRESHOLDS["contradiction"][0]])
    key = (f"W1 at T = {T:g}: {final[0.0]:.4f} (ε = 0) … {final[epss[-1]]:.4f} (ε = {epss[-1]:g}); "
           f"max (W1_T(ε) − W1_T(0))/ε = {ratio:.3f}; fit exponent p = {p:.2f}")
    details = "| ε | W1 at T | excess over ε = 0 |\n|---|---|---|\n" + "\n".join(
        f"| {e:g} | {final[e]:.4f} | {final[e] - final[0.0]:+.4f} |" for e in epss)
    fig = None
    if pos:
        fig = loglog_figure(out, "critic_error.png", "The flow under a bounded velocity error ε", "ε",
                            "W1_T(ε) − W1_T(0)", {"measured excess": ([e for e, _ in pos], [d for _, d in pos])},
                            guide=(list(epss[1:]), [2 * e for e in epss[1:]], "bound 2ε"))
    return Outcome(verdict, key, dict(n=n, dt=dt, T=T, final=final, max_ratio=ratio, fit_exponent=float(p),
                                      fit_constant=float(np.exp(c)) if np.isfinite(c) else None), details,
                   [fig] if fig else [])
