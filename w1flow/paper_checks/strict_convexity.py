"""The paper's "μ ↦ W1(μ, μ_d) is strictly convex on P1(X)": false as stated.

W1(·, μ_d) is convex along mixtures (a supremum of linear functionals), but not strictly: with
μ_d = δ_0, μ = δ_1 and μ' = δ_2 on the line, J((1 − s)μ + sμ') = 1 + s is affine. The check
measures J along that segment with an independent LP, and convexity (not strict) along random
mixture segments in the plane. The claim's verdict is FAIL (expected): an affine piece exists.
"""

from __future__ import annotations

import numpy as np

from ._core import FAIL, Outcome, verdict_from
from ._reference import w1

TITLE = "“W1(·, μ_d) is strictly convex” (as stated)"
CLAIM = "μ ↦ W1(μ, μ_d) is strictly convex on P1(X)."
SOURCE = ("Malik & Huang, arXiv:2405.16351, quoted by Reviewer 1 (ICLR 2025 review, OpenReview 7oaWthT9EO), verified; the counterexample is "
          "our analysis")
EXPECTED = FAIL
THRESHOLDS = {
    "affine_abs": (1e-12, "J along the segment deviates from its chord by round-off only: not strictly convex"),
    "convex_abs": (1e-12, "convexity along mixtures holds up to LP round-off"),
}
BROKEN = "J replaced by W1² (strictly convex along the counterexample's segment)"


def run(mode="quick", broken=False, out=None):
    J = (lambda *m: w1(*m) ** 2) if broken else w1
    s = np.linspace(0.0, 1.0, 11)
    pts, yd = np.array([[1.0], [2.0]]), np.array([[0.0]])
    vals = np.array([J(pts, np.array([1 - si, si]), yd, np.ones(1)) for si in s])
    chord = (1 - s) * vals[0] + s * vals[-1]
    affine_dev = float(np.max(np.abs(vals - chord)))
    # convexity along random mixture segments (non-strict): J(mid) <= (J0 + J1)/2
    rng = np.random.default_rng(3)
    worst = -np.inf
    for _ in range(20 if mode == "quick" else 200):
        n, m = rng.integers(2, 8, size=2)
        x = rng.normal(size=(n, 2)) + 1.0
        y = rng.normal(size=(m, 2))
        b = rng.dirichlet(np.ones(m))
        a0, a1 = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(n))
        worst = max(worst, J(x, (a0 + a1) / 2, y, b) - (J(x, a0, y, b) + J(x, a1, y, b)) / 2)
    convex = worst <= THRESHOLDS["convex_abs"][0]
    # the claim (strict convexity) is contradicted by an affine piece
    verdict = verdict_from([affine_dev > THRESHOLDS["affine_abs"][0]], [affine_dev <= THRESHOLDS["affine_abs"][0]])
    shape = "affine: not strictly convex" if affine_dev <= THRESHOLDS["affine_abs"][0] else "not affine"
    key = (f"max |J(μ_s) − chord| = {affine_dev:.0e} on [δ1, δ2] with μ_d = δ0 ({shape}); "
           f"convex along random mixtures (largest J(mid) − mean = {worst:.1e})")
    details = "| s | J((1 − s)δ1 + sδ2) | chord |\n|---|---|---|\n" + "\n".join(
        f"| {si:.1f} | {v:.15f} | {c:.15f} |" for si, v, c in zip(s, vals, chord))
    return Outcome(verdict, key, dict(affine_deviation=affine_dev, convex=bool(convex), worst_midpoint_excess=worst),
                   details)
