"""Persistent training speeds convergence (W1-FE with K > 1 against WGAN, K = 1).

Our protocol (the paper's is unknown): a 2-64-64-2 ReLU generator learns 8 Gaussians, Adam at
lr 1e-3, batch 128, Δt = 0.1, the exact potential on each batch (the algorithm with a perfect
critic), 3 seeds; exact W1 between 500 generated and 500 held-out points. Compared at equal
outer iterations (= potential evaluations), and at equal generator steps (WGAN runs K times as
many iterations); wall-clock is reported. The verdict is on equal iterations, the comparison
the paper's experiments make (inferred); the other two are reported beside it.
"""

from __future__ import annotations

from ._core import PASS, Outcome, verdict_from
from ._generative import experiment, fmt, reference_noise_floor, separated

TITLE = "Persistence (K > 1) speeds convergence of W1-FE"
CLAIM = "On a 2-D Gaussian mixture, persistent training (K > 1) converges faster than WGAN (K = 1)."
SOURCE = ("Malik & Huang, arXiv:2405.16351, experiments, as Reviewer 2 summarises them (ICLR 2025 review, OpenReview 7oaWthT9EO), verified; the "
          "comparison's budget is inferred")
EXPECTED = PASS
THRESHOLDS = {
    "separation": (2.0, "means differ by more than 2 pooled seed standard deviations (3 seeds): beyond seed noise"),
}
BROKEN = "Δt = 1e-9 for the persistent runs (targets at the current samples: nothing to persist toward)"


def run(mode="quick", broken=False, out=None):
    seeds = (0, 1, 2) if mode == "quick" else (0, 1, 2, 3, 4)
    n_iter, K = (100, 8) if mode == "quick" else (300, 8)
    dt = 1e-9 if broken else 0.1
    wgan = [experiment("wgan", 1, s, n_iter) for s in seeds]
    fe = [experiment("w1fe", K, s, n_iter, dt=dt) for s in seeds]
    wgan_steps = [experiment("wgan", 1, s, K * n_iter) for s in seeds]
    w = lambda rs: [r[0] for r in rs]  # noqa: E731
    faster = separated(w(wgan), w(fe), THRESHOLDS["separation"][0])  # +1: WGAN's W1 is higher
    verdict = verdict_from([faster == 1], [faster == -1])
    eq_steps = {1: "WGAN better", -1: "W1-FE better", 0: "no difference beyond the seeds"}[
        separated(w(fe), w(wgan_steps), THRESHOLDS["separation"][0])]
    wall = lambda rs: sum(r[2] for r in rs) / len(rs)  # noqa: E731
    key = (f"W1 after {n_iter} iterations: W1-FE K={K} {fmt(w(fe))} vs WGAN {fmt(w(wgan))}; at equal generator "
           f"steps WGAN ({K * n_iter} iterations) {fmt(w(wgan_steps))}: {eq_steps}; wall {wall(fe):.1f} s vs "
           f"{wall(wgan_steps):.1f} s (noise floor {reference_noise_floor():.3f})")
    details = ("| run | iterations | generator steps | W1 (mean ± std) | wall s (mean) |\n|---|---|---|---|---|\n"
               f"| WGAN | {n_iter} | {n_iter} | {fmt(w(wgan))} | {wall(wgan):.1f} |\n"
               f"| W1-FE K={K} | {n_iter} | {K * n_iter} | {fmt(w(fe))} | {wall(fe):.1f} |\n"
               f"| WGAN | {K * n_iter} | {K * n_iter} | {fmt(w(wgan_steps))} | {wall(wgan_steps):.1f} |")
    return Outcome(verdict, key, dict(seeds=seeds, n_iter=n_iter, K=K, wgan=w(wgan), w1fe=w(fe),
                                      wgan_equal_steps=w(wgan_steps), wall=dict(wgan=wall(wgan), w1fe=wall(fe),
                                                                                wgan_equal_steps=wall(wgan_steps))),
                   details)
