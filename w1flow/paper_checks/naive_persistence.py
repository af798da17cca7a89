"""Naive persistence hurts: K WGAN generator steps per critic phase on the same batch (the
critic frozen) worsen training, where W1-FE with the same K improves it.

Our protocol as in ``persistence`` (exact potential on the batch, 8 Gaussians, 3 seeds, 100
iterations), with K = 32: naive persistence minimises the unbounded loss (1/n)Σφ(G(z)) K times,
pushing the samples ever further along −∇φ, where W1-FE stops at its Euler targets.
"""

from __future__ import annotations

from ._core import PASS, Outcome, verdict_from
from ._generative import experiment, fmt, separated

TITLE = "Naive persistence hurts (W1-FE with the same K helps)"
CLAIM = "Naive persistent WGAN training (K generator steps on the same batch) can significantly worsen results."
SOURCE = "Malik & Huang, arXiv:2405.16351 (v2, abstract and experiments), verified; the protocol is inferred"
EXPECTED = PASS
THRESHOLDS = {
    "separation": (2.0, "means differ by more than 2 pooled seed standard deviations (3 seeds): beyond seed noise"),
}
BROKEN = "naive persistence with K = 1 (it is then WGAN)"


def run(mode="quick", broken=False, out=None):
    seeds = (0, 1, 2) if mode == "quick" else (0, 1, 2, 3, 4)
    n_iter = 100 if mode == "quick" else 300
    K = 1 if broken else 32
    wgan = [experiment("wgan", 1, s, n_iter)[0] for s in seeds]
    naive = [experiment("naive_same", K, s, n_iter)[0] for s in seeds]
    fe = [experiment("w1fe", 32, s, n_iter)[0] for s in seeds]
    worse = separated(naive, wgan, THRESHOLDS["separation"][0])  # +1: naive's W1 is higher
    fe_better = separated(wgan, fe, THRESHOLDS["separation"][0]) == 1
    verdict = verdict_from([worse == 1, fe_better], [worse == -1])
    key = f"W1 after {n_iter} iterations: naive (same batch) K={K} {fmt(naive)}, WGAN {fmt(wgan)}, W1-FE K=32 {fmt(fe)}"
    return Outcome(verdict, key, dict(seeds=seeds, n_iter=n_iter, K=K, naive_same=naive, wgan=wgan, w1fe=fe))
