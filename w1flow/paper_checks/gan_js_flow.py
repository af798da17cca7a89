"""Huang & Zhang, Proposition 8: the original GAN's generator step is a forward-Euler step of the
Jensen–Shannon gradient flow, fitted by MSE.

The JS flow moves samples with v = −∇ log(1 − D*) = σ(log r) ∇ log r (r = p/q, D* = p/(p + q));
with a discriminator logit d ≈ log r this is the MonoFlow of h = softplus. The forward-Euler
targets y = G(z) + Δt v(G(z)), fitted by one SGD step at learning rate η on the MSE
(1/n)Σ|G_θ(z_i) − y_i|², move θ exactly as one step of the original (saturating) generator loss
(1/n)Σ log(1 − σ(d(G_θ(z_i)))) = −(1/n)Σ softplus(d(G_θ(z_i))) at learning rate 2Δtη: the MSE's
gradient at the current θ is 2Δt times that loss's. Measured with w1flow's trainer: the same
logistic classifier (random Fourier features, refitted at every step) drives both runs.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ._core import PASS, Outcome, verdict_from

TITLE = "Huang & Zhang Prop 8: the GAN generator step is forward Euler on the JS flow"
CLAIM = ("One SGD step on the MSE to the JS flow's forward-Euler targets equals one step of the original "
         "(saturating) GAN generator loss at learning rate 2Δtη.")
SOURCE = ("Huang & Zhang, arXiv:2205.02910 (JMLR 24(217), 2023), Proposition 8: the original GAN follows "
          "the JS gradient-flow ODE, verified (quoted by arXiv:2405.16351); the velocity σ(log r)∇log r "
          "and the learning-rate map are our analysis")
EXPECTED = PASS
THRESHOLDS = {
    "rel_step": (1e-9, "round-off of one step relative to the step's size (float64, two orders of operations)"),
    "contradiction": (1e-3, "steps this different are different updates"),
}
BROKEN = "the non-saturating loss (h' = σ(−s)) in the GAN run: another MonoFlow"


def run(mode="quick", broken=False, out=None):
    from w1flow.datasets import eight_gaussians
    from w1flow.density_ratio import LogRatioEstimator
    from w1flow.generative import SGD, WGAN, W1FE, Batches, MLPGenerator, train
    from w1flow.potentials.fields import RatioPotential

    data = eight_gaussians(4000, seed=0)
    n_iter = 4 if mode == "quick" else 30
    js = (lambda s: expit(s))  # noqa: E731  h' of h = softplus
    gan_h = (lambda s: expit(-s)) if broken else js  # noqa: E731
    rows = []
    for dt in (0.5, 0.05):
        eta = 0.05
        base = MLPGenerator(2, 2, hidden=(16, 16), seed=5)
        diff = 0.0
        for k in range(n_iter):  # one step of each from the same parameters, along the FE run
            g1, g2 = (MLPGenerator(2, 2, hidden=(16, 16), seed=5) for _ in range(2))
            g1.theta[:] = base.theta
            g2.theta[:] = base.theta
            r1 = train(g1, data, RatioPotential(js, LogRatioEstimator(n_features=50)), W1FE(K=1, dt=dt), n_iter=1,
                       batches=Batches(size=64, seed=k), optimizer=SGD(lr=eta))
            r2 = train(g2, data, RatioPotential(gan_h, LogRatioEstimator(n_features=50)), WGAN(), n_iter=1,
                       batches=Batches(size=64, seed=k), optimizer=SGD(lr=2 * dt * eta))
            if not (r1.success and r2.success):
                raise RuntimeError(f"training failed: {r1.message}; {r2.message}")
            step = np.abs(g1.theta - base.theta).max()
            diff = max(diff, float(np.max(np.abs(g1.theta - g2.theta)) / max(step, 1e-300)))
            base.theta[:] = g1.theta
        rows.append((dt, diff))
    worst = max(r[1] for r in rows)
    verdict = verdict_from([worst <= THRESHOLDS["rel_step"][0]], [worst > THRESHOLDS["contradiction"][0]])
    key = (f"one FE step (SGD at η) and one GAN step (2Δtη) from the same parameters differ by {worst:.1e} of the "
           f"step, at {n_iter} points along the run, Δt = 0.5 and 0.05")
    details = ("8 Gaussians, MLP generator 2-16-16-2, batch 64, logistic classifier on 50 random Fourier features "
               "refitted every step; at each of the run's parameters, one step of each rule from the same θ and "
               "batch.\n\n| Δt | max abs(θ₁ − θ₂) / max abs(θ₁ − θ) |\n|---|---|\n"
               + "\n".join(f"| {dt:g} | {d:.1e} |" for dt, d in rows))
    return Outcome(verdict, key, dict(rows=rows, n_iter=n_iter), details)
