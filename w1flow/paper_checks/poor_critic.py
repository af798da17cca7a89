"""Remark 4.2: with a poor potential, a large K hurts (persistence executes a wrong step faithfully).

A controlled, bounded critic error: the exact potential's velocity on each batch rotated by a fixed
angle of 1 rad (an error of norm 2 sin(1/2) = 0.96 per unit of speed, against an exact speed of
1). Our protocol as in ``persistence`` (8 Gaussians, 3 seeds, 100 iterations, Δt = 0.1),
K ∈ {1, 8}: the claim predicts that the error costs more at K = 8 than at K = 1, and that K = 8
loses its advantage. The verdict: PASS when the error's cost at K = 8 exceeds its cost at K = 1
beyond the seeds' spread, FAIL when K = 8 under the error still beats K = 1 under the error
beyond the spread (persistence still helps), INCONCLUSIVE otherwise. ``--full`` adds the real
poor critic of the D1 sweep (one critic update per outer step) in docs/generative.md.
"""

from __future__ import annotations

import numpy as np

from ._core import FAIL, Outcome, verdict_from
from ._generative import experiment, fmt, separated

TITLE = "Remark 4.2: a poor critic with a large K hurts"
CLAIM = "Excessive persistence with a poor Kantorovich potential degrades performance and stability."
SOURCE = ("Malik & Huang, arXiv:2405.16351, Remark 4.2 (§4): verified that it exists (Reviewer 3, ICLR 2025 review, "
          "OpenReview 7oaWthT9EO); its content as third-party summaries give it; the test is inferred")
#: Measured (2026-11-30, this protocol): K = 8 still beats K = 1 under the error, so the claim is not
#: seen here. The expected verdict records that measurement, so that a change shows.
EXPECTED = FAIL
THRESHOLDS = {
    "separation": (2.0, "differences beyond 2 pooled seed standard deviations (3 seeds)"),
    "angle": (1.0, "the error: velocity rotated by 1 rad, |error| = 0.96 per unit speed"),
}
BROKEN = "an error that grows with persistence (the angle multiplied by K, capped at 3 rad: an angle past π would wrap round)"


def run(mode="quick", broken=False, out=None):
    seeds = (0, 1, 2) if mode == "quick" else (0, 1, 2, 3, 4)
    n_iter, Ks = (100, (1, 8)) if mode == "quick" else (300, (1, 8, 32))
    ang = THRESHOLDS["angle"][0]
    clean = {K: [experiment("w1fe", K, s, n_iter)[0] for s in seeds] for K in Ks}
    poor = {K: [experiment("w1fe", K, s, n_iter, oracle=f"rotated:{min(ang * K, 3.0) if broken else ang}")[0] for s in seeds]
            for K in Ks}
    cost = {K: list(np.subtract(poor[K], clean[K])) for K in Ks}
    big = Ks[-1]
    hurts = separated(cost[big], cost[1], THRESHOLDS["separation"][0]) == 1
    still_helps = separated(poor[1], poor[big], THRESHOLDS["separation"][0]) == 1
    verdict = verdict_from([hurts and not still_helps], [still_helps])
    key = (f"with the velocity rotated by {ang:g} rad: W1 at K=1 {fmt(poor[1])} (clean {fmt(clean[1])}), at K={big} "
           f"{fmt(poor[big])} (clean {fmt(clean[big])}); the error costs {fmt(cost[1])} at K=1, {fmt(cost[big])} at K={big}")
    details = "| K | W1 exact potential | W1 rotated potential | cost of the error |\n|---|---|---|---|\n" + "\n".join(
        f"| {K} | {fmt(clean[K])} | {fmt(poor[K])} | {fmt(cost[K])} |" for K in Ks)
    return Outcome(verdict, key, dict(seeds=seeds, n_iter=n_iter, angle=ang, clean=clean, poor=poor, cost=cost), details)
