"""The generator-update rules of :func:`~w1flow.generative.train`: W1-FE and its baselines.

Every outer step of ``train`` draws a batch, asks the potential oracle for φ, and takes ∇φ (or an
optimal plan's velocity) at a frozen batch of generated points ``out = G(z)``; the method object
then updates the generator through one call, the **step contract**::

    z, g, target = method.step(run, pot, z, out, g)

``run`` gives the generator's passes and optimiser (``run.evaluate(z)``, ``run.fit(z, Y, K,
mean)``: K optimiser steps on ``(1/n) Σ_i |G(z_i) − Y_i|²``, ``run.push(z, gout)``: one step along
``Σ_i gout_i · G(z_i)``, ``run.draw_latent()``, ``run.batch_size``, ``run.plan`` and the counter
``run.grad_queries``); the method returns the batch whose displacement the history logs, the
last gradient, and the Euler step Δt its targets ask for (NaN when there is none).

* :class:`W1FE` — W1-FE (Malik & Huang, arXiv:2405.16351): targets
  ``Y = G(z) − Δt ∇φ(G(z))``, computed once, then K optimiser steps on the MSE to them
  (persistency K). K = 1 is WGAN (Proposition 4.1).
* :class:`WGAN` — one generator step on the WGAN loss ``(1/n) Σ φ(G(z_i))`` (WGAN-GP with a
  penalised critic).
* :class:`NaiveSame` / :class:`NaiveFresh` — K WGAN generator steps with the critic frozen, on the
  same batch z (minibatch persistency, Fischetti et al., arXiv:1806.07353) or each on a fresh
  batch; ∇φ is re-evaluated at the moving outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_float, as_int
from .recipe import RECIPE

__all__ = ["W1FE", "WGAN", "NaiveSame", "NaiveFresh", "METHODS", "method_from_name"]


@dataclass(frozen=True)
class W1FE:
    """W1-FE with persistency ``K`` (generator steps per outer step) and Euler step ``dt`` (units of
    the data, > 0); both default to the recipe's (:mod:`w1flow.generative.recipe`). ``mse`` is the
    loss normalisation: ``(1/n) Σ_i |G(z_i) − y_i|²`` (``"sum"`` over coordinates) or also divided
    by d (``"mean"``, as torch's ``MSELoss``)."""

    K: int = RECIPE["K"]
    dt: float = RECIPE["dt"]
    mse: str = "sum"
    name = "w1fe"
    keeps_forward = False  # the targets' forward pass is not the first step's

    def __post_init__(self):
        object.__setattr__(self, "K", as_int(self.K, "W1FE(K=...)", 1))
        object.__setattr__(self, "dt", as_float(self.dt, "W1FE(dt=...)", 0.0, low_open=True))
        if self.mse not in ("sum", "mean"):
            raise ValueError(f"W1FE(mse=...) must be 'sum' (over coordinates) or 'mean' (as torch's MSELoss), "
                             f"got {self.mse!r}.")

    def step(self, run, pot, z, out, g):
        run.fit(z, out - self.dt * g, self.K, self.mse == "mean")
        return z, g, self.dt


class _WGANSteps:
    """K generator steps on the WGAN loss with the critic frozen; ∇φ re-evaluated at each step's
    outputs, on the same batch or (``fresh``) a new one."""

    dt = 0.1  # not used; with mse they keep the run's fingerprint that of the old spelling
    mse = "sum"
    keeps_forward = True  # the torch kernels reuse the forward pass of ``out`` for the first step
    fresh = False

    def step(self, run, pot, z, out, g):
        for k in range(self.K):
            if k > 0:
                if self.fresh:
                    z = run.draw_latent()
                g = np.asarray(pot.grad(run.evaluate(z)))
                run.grad_queries += not run.plan
            run.push(z, np.ascontiguousarray(g / run.batch_size))
        return z, g, np.nan  # no Euler step to reach


@dataclass(frozen=True)
class WGAN(_WGANSteps):
    """One WGAN generator step per outer step (K = 1 by definition)."""

    name = "wgan"
    K = 1


def _check_k(obj):
    object.__setattr__(obj, "K", as_int(obj.K, f"{type(obj).__name__}(K=...)", 1))


@dataclass(frozen=True)
class NaiveSame(_WGANSteps):
    """K WGAN generator steps on the same batch, the critic frozen (naive persistency)."""

    K: int = 1
    name = "naive_same"

    def __post_init__(self):
        _check_k(self)


@dataclass(frozen=True)
class NaiveFresh(_WGANSteps):
    """K WGAN generator steps, each on a fresh batch, the critic frozen."""

    K: int = 1
    name = "naive_fresh"
    fresh = True

    def __post_init__(self):
        _check_k(self)


#: The training rules :func:`~w1flow.generative.train` knows, by name.
METHODS = {"w1fe": W1FE, "wgan": WGAN, "naive_same": NaiveSame, "naive_fresh": NaiveFresh}


def method_from_name(name, **fields):
    """The method object ``METHODS[name](**fields)``; ``K=1`` is accepted for ``"wgan"``."""
    if name not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {name!r}.")
    if name == "wgan" and "K" in fields:
        if fields.pop("K") != 1:
            raise ValueError("WGAN takes one generator step per critic phase (K = 1); use NaiveSame(K=...) or "
                             "NaiveFresh(K=...) for K > 1.")
    cls = METHODS[name]
    unknown = sorted(set(fields) - set(getattr(cls, "__dataclass_fields__", {})))
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}; its fields: "
                        f"{sorted(cls.__dataclass_fields__) or 'none'}.")
    return cls(**fields)


def as_method(method):
    """``W1FE()`` for None; a method object as given."""
    if method is None:
        return W1FE()
    if not isinstance(method, tuple(METHODS.values())):
        raise TypeError(f"method must be one of W1FE(K=..., dt=..., mse=...), WGAN(), NaiveSame(K=...), "
                        f"NaiveFresh(K=...); got {method!r} (method_from_name(name, ...) builds one by name).")
    return method
