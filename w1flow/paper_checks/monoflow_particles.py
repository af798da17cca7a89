"""MonoFlow on particles with a learned density ratio: what the particles do.

The density-flow check (``monoflow``) verifies the decrease of every f-divergence along the exact
flow. A GAN never has the exact ratio: its discriminator's logit d ≈ log r is refitted between
the data and the current samples, and the samples follow h'(d) ∇d (MonoFlow's reading of
adversarial training). No theorem covers this flow. The check runs it on particles
(:class:`w1flow.MonoFlow` with :class:`w1flow.density_ratio.LogRatioEstimator`: logistic
regression on random Fourier features, refitted at every step) for three increasing h — the KL
flow (h = id), the non-saturating GAN loss and the saturating (vanilla, JS) loss — from a blob
to 8 Gaussians, and records the exact W1 to the data over time (LP), how often it rose between
save points, and where each flow ends.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ._core import PASS, Outcome, verdict_from

TITLE = "MonoFlow particles with a learned log-ratio approach the data (reported, no theorem)"
CLAIM = ("Particles moved by h'(d) ∇d, d a logistic classifier's logit refitted between the data and the "
         "particles at every step, approach the data for increasing h (h = id, non-saturating, vanilla).")
SOURCE = ("Yi, Zhu & Liu, arXiv:2302.01075 (ICML 2023), abstract: adversarial training = obtain MonoFlow's "
          "vector field from the discriminator and follow it, verified; the particle behaviour with a learned "
          "ratio is inferred, measured here")
EXPECTED = PASS
THRESHOLDS = {
    "w1_ratio": (0.9, "every flow ends at most 90 % of the initial W1 to the data: it moved toward the data "
                      "(the saturating loss is slow; the value is the measured fraction, reported)"),
    "contradiction": (1.0, "W1 to the data above its initial value at the end: the flow moved away"),
}
BROKEN = "h'(s) = −1 (a decreasing h: particles climb away from the data)"

H = {
    "h = id (KL flow)": lambda s: np.ones_like(s),
    "non-saturating (h' = σ(−s))": lambda s: expit(-s),
    "vanilla / JS (h' = σ(s))": lambda s: expit(s),
}


def run(mode="quick", broken=False, out=None):
    import w1flow as wf
    from w1flow.datasets import eight_gaussians, gaussian_blob
    from w1flow.density_ratio import LogRatioEstimator

    n, T, dt = (150, 2.0, 0.1) if mode == "quick" else (300, 4.0, 0.05)
    x0 = gaussian_blob(n, center=(0.0, 0.0), std=0.5, seed=0)
    y = eight_gaussians(n, seed=1)
    flows = {"h' = −1 (decreasing)": lambda s: -np.ones_like(s)} if broken else H
    rows, ratios, curves = [], [], {}
    every = max(1, int(round(0.5 / dt)))
    for name, h_prime in flows.items():
        res = wf.simulate(wf.MonoFlow(y, h=h_prime, ratio=LogRatioEstimator(n_features=200, seed=0)), x0, T, dt,
                          saveat=wf.SaveAt(every=every))
        w = res.w1
        ratio = float(w[-1] / w[0]) if res.success else np.inf
        ratios.append(ratio)
        curves[name] = (res.ts, w)
        rows.append((name, res.status, w[0], w[-1], ratio, int(np.sum(np.diff(w) > 0)), len(w) - 1, res.wall_time))
    worst = max(ratios)
    verdict = verdict_from([worst <= THRESHOLDS["w1_ratio"][0]], [worst > THRESHOLDS["contradiction"][0]])
    key = ("W1(T)/W1(0): " + ", ".join(f"{r[0].split(' (')[0]} {r[4]:.2f}" for r in rows)
           + f"; W1 rose at {sum(r[5] for r in rows)} of {sum(r[6] for r in rows)} save points")
    details = (f"{n} particles from N((0, 0), 0.5²) to {n} points of 8 Gaussians, T = {T}, dt = {dt}, forward "
               "Euler; classifier: 200 random Fourier features, median length scale, L2 penalty 1e-3, L-BFGS, "
               "refitted at every step. W1 is the exact LP to the data at the save points.\n\n"
               "| h | status | W1(0) | W1(T) | ratio | rises of W1 | save points | seconds |\n"
               "|---|---|---|---|---|---|---|---|\n"
               + "\n".join(f"| {a} | {b} | {c:.3f} | {d:.3f} | {e:.2f} | {f} | {g} | {s:.1f} |"
                           for a, b, c, d, e, f, g, s in rows))
    figures = []
    if out is not None and not broken:
        figures.append(_figure(curves, out))
    return Outcome(verdict, key, dict(ratios=ratios, n=n, T=T, dt=dt), details, figures)


def _figure(curves, out):
    from pathlib import Path

    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for name, (ts, w) in curves.items():
        ax.plot(ts, w, "o-", ms=3, label=name)
    ax.set(xlabel="t", ylabel="exact W1 to the data", title="MonoFlow particles, learned log-ratio")
    ax.legend(fontsize=8)
    name = "monoflow_particles.png"
    fig.savefig(Path(out) / name, dpi=110)
    return name
