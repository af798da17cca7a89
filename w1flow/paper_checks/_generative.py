"""Shared pieces of the generative checks: a small W1-FE experiment on 8 Gaussians, and an
oracle whose velocity carries a controlled error."""

from __future__ import annotations

import functools

import numpy as np

import w1flow as wf
from w1flow.datasets import eight_gaussians
from w1flow.generative import Adam, Batches, MLPGenerator, W1FE, method_from_name, train
from w1flow.potentials.base import PotentialOracle

from ._reference import uniform, w1


def rotate(v, angle):
    """Rotate 2-D vectors by ``angle`` (radians): an error of norm 2 sin(angle/2) on unit vectors."""
    c, s = np.cos(angle), np.sin(angle)
    return np.ascontiguousarray(v @ np.array([[c, s], [-s, c]]))


class _RotatedPotential:
    def __init__(self, pot, angle):
        self._pot, self._angle = pot, angle
        self.success, self.status, self.message = pot.success, pot.status, pot.message

    @property
    def velocity(self):
        return rotate(np.asarray(self._pot.velocity), self._angle)

    def grad(self, z):
        return -rotate(-np.asarray(self._pot.grad(z)), self._angle)

    def __call__(self, z):
        return self._pot(z)

    def __getattr__(self, name):  # w1, plan, ... of the exact potential
        return getattr(self._pot, name)


class RotatedExactPotential(PotentialOracle):
    """The exact potential on the batch, its velocity rotated by a fixed angle (a controlled,
    bounded critic error of norm 2 sin(angle/2) per unit of speed)."""

    provides_plan = True

    def __init__(self, angle):
        super().__init__()
        self.angle = float(angle)
        self._exact = wf.ExactPotential()

    def __call__(self, x, a, y, b, t=0.0):
        self.counters["evaluations"] += 1
        self.counters["lp_solves"] += 1
        return _RotatedPotential(self._exact(x, a, y, b, t), self.angle)


@functools.lru_cache(maxsize=None)
def experiment(method, K, seed, n_iter, dt=0.1, oracle=None, lr=1e-3, batch=128, eval_n=500):
    """Train a 2-64-64-2 generator on 8 Gaussians; return (final exact W1 to held-out data,
    generator steps, wall seconds). Our protocol, not the paper's (its settings are unknown):
    Adam (β = 0.5, 0.9), batch 128, the exact potential on each batch unless ``oracle`` is given
    (an oracle given by name: ``"rotated:<angle>"``). Deterministic, so runs are cached and
    shared between the checks."""
    if isinstance(oracle, str):
        oracle = RotatedExactPotential(float(oracle.split(":")[1]))
    data = eight_gaussians(10_000, seed=100 + seed)
    held = eight_gaussians(eval_n, seed=200 + seed)
    gen = MLPGenerator(2, 2, hidden=(64, 64), seed=seed)
    rule = W1FE(K=K, dt=dt) if method == "w1fe" else method_from_name(method, K=K)
    res = train(gen, data, oracle if oracle is not None else wf.ExactPotential(), rule, n_iter=n_iter,
                batches=Batches(size=batch, seed=seed), optimizer=Adam(lr=lr, ema=0.0))  # the checks' protocol: no average
    if not res.success:
        raise RuntimeError(f"training failed: {res.message}")
    x = gen.sample(eval_n, seed=300 + seed)
    return w1(x, uniform(eval_n), held, uniform(eval_n)), res.generator_steps, res.wall_time


def reference_noise_floor(eval_n=500, seeds=(0, 1, 2)):
    """W1 between two independent eval_n-samples of the data: what 'converged' can reach, measured
    as the checks measure the runs (eval_n points, their own LP). The library's noise floor is
    :func:`w1flow.generative.evaluation.noise_floor`; the checks keep an independent one."""
    return float(np.mean([w1(eight_gaussians(eval_n, seed=400 + s), uniform(eval_n),
                             eight_gaussians(eval_n, seed=500 + s), uniform(eval_n)) for s in seeds]))


def mean_std(v):
    v = np.asarray(v, float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def separated(a, b, k=2.0):
    """+1 if mean(a) > mean(b) + k·(pooled std), −1 if mean(a) < mean(b) − k·(pooled std), else 0."""
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    spread = k * np.sqrt((sa ** 2 + sb ** 2) / 2)
    return 1 if ma - mb > spread else (-1 if mb - ma > spread else 0)


def fmt(v):
    m, s = mean_std(v)
    return f"{m:.3f} ± {s:.3f}"
