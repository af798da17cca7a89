"""Prop 3.1: the first variation of J(μ) = W1(μ, μ_d) is the Kantorovich potential φ_μ.

Along a mixture μ_ε = (1 − ε)μ + εμ', the one-sided derivative of J at ε = 0 is
∫ φ_μ d(μ' − μ), when φ_μ is unique (up to a constant) on the supports. For discrete measures
J is convex and piecewise linear in ε, so a one-sided difference quotient below the first kink
is the derivative up to LP round-off. Instances are non-degenerate: random (Dirichlet) weights,
and the plan must have n + m − 1 entries (a spanning tree: unique duals); at points z that are
not in the supports the derivative takes the largest 1-Lipschitz extension of φ,
min_j (φ(y_j) + |z − y_j|), which is what w1flow's potential evaluates off the particles.
"""

from __future__ import annotations

import numpy as np

from w1flow import ExactPotential

from ._core import PASS, Outcome, verdict_from
from ._reference import w1

TITLE = "Prop 3.1: the first variation of W1 is the Kantorovich potential"
CLAIM = "δJ/δm(μ, ·) = φ_μ, the Kantorovich potential from μ to μ_d (J = W1(·, μ_d))."
SOURCE = "Malik & Huang, arXiv:2405.16351, §3, Proposition 3.1, reconstructed"
EXPECTED = PASS
THRESHOLDS = {
    "rel_err": (1e-7, "LP round-off (1e-15) divided by the step ε = 1e-5, with a margin of 10^3"),
    "kink_rel": (1e-7, "the quotients at ε and ε/10 agree (both below the first kink), else the instance is redrawn"),
    "contradiction": (1e-3, "an error this large is not round-off: the claim fails"),
}
BROKEN = "the potential of another target (the data shifted by 0.3)"


def _instance(rng):
    n, m = rng.integers(3, 9, size=2)
    x = rng.normal(size=(n, 2)) + (2.0, 0.5)
    y = rng.normal(size=(m, 2))
    a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    return x, a, y, b


def mixture_direction(rng, kind, x, a, y, b, J0, eps, shift):
    """A direction μ' of the mixture (1 − ε)μ + εμ' and the one-sided difference quotients of W1.

    ``kind`` is ``"reweight"`` (μ' on the particles, Dirichlet weights) or ``"new points"``
    (1–3 Gaussian points around ``shift``). Returns ``z, c`` (μ''s points and weights) and the
    quotients ``(J(ε) − J0)/ε`` at ε and ε/10 (independent LP); they agree below the first kink.
    """
    if kind == "reweight":
        z, c = x, rng.dirichlet(np.ones(len(a)))
        pts, w = (lambda e: x), (lambda e: (1 - e) * a + e * c)
    else:
        k = int(rng.integers(1, 4))
        z, c = rng.normal(size=(k, 2)) * 1.5 + shift, rng.dirichlet(np.ones(k))
        pts, w = (lambda e: np.vstack([x, z])), (lambda e: np.concatenate([(1 - e) * a, e * c]))
    q1 = (w1(pts(eps), w(eps), y, b) - J0) / eps
    q2 = (w1(pts(eps / 10), w(eps / 10), y, b) - J0) / (eps / 10)
    return z, c, q1, q2


def run(mode="quick", broken=False, out=None):
    rng = np.random.default_rng(31)
    target = 20 if mode == "quick" else 200
    eps = 1e-5
    rows, degenerate, drawn = [], 0, 0
    while len(rows) < target and drawn < 20 * target:
        drawn += 1
        x, a, y, b = _instance(rng)
        pot = ExactPotential()(x, a, y, b)
        if np.count_nonzero(pot.plan > 0) != len(a) + len(b) - 1:
            degenerate += 1
            continue
        if broken:
            pot = ExactPotential()(x, a, y + 0.3, b)
        J0 = w1(x, a, y, b)
        for kind in ("reweight", "new points"):
            z, c, q1, q2 = mixture_direction(rng, kind, x, a, y, b, J0, eps, shift=(1.0, 0.0))
            pred = float(c @ pot(z) - a @ pot(x))
            scale = 1.0 + abs(q1)
            if abs(q1 - q2) > THRESHOLDS["kink_rel"][0] * scale:  # a kink within ε: skip it
                continue
            rows.append((kind, q1, pred, abs(q1 - pred) / scale))
    errs = np.array([r[3] for r in rows])
    worst = float(errs.max()) if len(errs) else float("nan")
    verdict = verdict_from([len(rows) >= target, worst <= THRESHOLDS["rel_err"][0]],
                           [worst > THRESHOLDS["contradiction"][0]])
    key = (f"max |ΔJ/ε − ∫φ d(μ'−μ)|/(1+|ΔJ/ε|) = {worst:.1e} over {len(rows)} directions "
           f"({degenerate} degenerate LPs skipped)")
    details = ("| direction | instances | max relative error |\n|---|---|---|\n" + "\n".join(
        f"| {k} | {sum(r[0] == k for r in rows)} | {max([r[3] for r in rows if r[0] == k], default=float('nan')):.1e} |"
        for k in ("reweight", "new points")))
    return Outcome(verdict, key, dict(max_rel_err=worst, directions=len(rows), degenerate_skipped=degenerate,
                                      eps=eps), details)
