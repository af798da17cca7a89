"""How a generator run is measured and watched: the one home of the held-out W1, the noise floor,
the evaluation latents and schedule, and the divergence rule, shared by
:func:`~w1flow.generative.train`, :func:`~w1flow.generative.wgan_gp_reference`, the sweeps and the
examples.

* :func:`held_out_w1` — the exact W1 (the package's LP, :func:`w1flow.metrics.w1`) between
  generated points and the first ``k`` held-out points;
* :func:`noise_floor` — W1 between two independent samples of a target: the smallest W1 a perfect
  generator shows at that sample size;
* :func:`w1_by_modes` — on a mixture of separated modes, the exact W1 split by its optimal plan
  into the mass carried off bridges between modes, between modes and within them;
* :func:`evaluation_latents` — the fixed latent points of every evaluation of a run;
* :func:`evaluate_after` — the schedule: every ``every`` outer steps and after the last;
* :func:`diverged` — whether a training step diverged (finite but exploding outputs, parameters,
  optimiser state or critic estimate), with a message naming the likely cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["held_out_w1", "noise_floor", "w1_by_modes", "ModeSplit", "evaluation_latents", "evaluate_after", "diverged", "divergence_scale",
           "radius", "norm"]


def held_out_w1(generated, held_out, k):
    """Exact W1 between the generated points and the first k held-out points."""
    from ..metrics import w1

    return w1(generated, held_out[:k] if held_out.shape[0] >= k else held_out)


def noise_floor(target, n=2000, seed=0):
    """W1 between two independent n-samples of the target: the smallest W1 a perfect generator shows.

    ``target`` is a sampler ``f(n, seed=rng)`` (as :mod:`w1flow.datasets`' functions) or the name of
    one of the 2-D targets of :data:`w1flow.generative.experiments.TARGETS`; the two samples are
    drawn from the seeds ``[seed, 11]`` and ``[seed, 12]``.
    """
    from .. import metrics

    if isinstance(target, str):
        from .experiments import TARGETS

        if target not in TARGETS:
            raise ValueError(f"target must be a sampler f(n, seed=rng) or one of {list(TARGETS)}, got {target!r}.")
        target = TARGETS[target]
    if not callable(target):
        raise TypeError(f"target must be a sampler f(n, seed=rng) or a target's name, got {target!r}.")
    return metrics.w1(target(n, seed=np.random.default_rng([seed, 11])),
                      target(n, seed=np.random.default_rng([seed, 12])))


@dataclass(frozen=True)
class ModeSplit:
    """The exact W1 between generated points and data on a mixture of modes, split by the optimal plan.

    Every generated point belongs to the mode of its nearest centre, or to the **bridges** when it
    lies farther than ``radius · std`` from every centre; every data point to the mode of its
    nearest centre. An entry ``G_ij`` of the optimal plan is counted in ``bridge`` when ``x_i``
    is on a bridge, in ``between`` when ``x_i`` and ``y_j`` belong to different modes, else in
    ``within``; so ``w1 = bridge + between + within`` (units of the coordinates).

    Attributes
    ----------
    w1, bridge, between, within : float
        The exact W1 and its three parts.
    bridge_mass : float
        Generated mass on the bridges.
    mode_mass : ndarray, shape (k,)
        Generated mass of each mode (``bridge_mass + mode_mass.sum() == 1``).
    spread : ndarray, shape (k,)
        Root-mean-square distance of each mode's generated points to its centre, divided by
        ``std · sqrt(d)`` (the data's value): 1 for a mode of the right width, below 1 for a mode
        drawn too narrow, NaN for a mode with no generated point.
    """

    w1: float
    bridge: float
    between: float
    within: float
    bridge_mass: float
    mode_mass: np.ndarray
    spread: np.ndarray


def w1_by_modes(generated, data, centres, std, radius=4.0):
    """Where a generator's W1 comes from on a mixture of separated isotropic modes.

    The exact W1 between ``generated`` and ``data`` (uniform weights; the package's certified LP,
    :func:`w1flow.lp.solve`) is split by the optimal plan into the mass carried off the
    **bridges** (generated points farther than ``radius · std`` from every centre: a continuous
    generator of a connected latent must leave some between disconnected modes), the mass moved
    **between** modes (wrong mode weights) and the mass moved **within** modes (their shapes and
    widths; at a perfect generator, the sampling noise of the two clouds). See :class:`ModeSplit`.
    The optimal plan is not unique: ties between plans of equal cost may move mass from one part
    to another, never the total.

    Parameters
    ----------
    generated : array_like, shape (n, d)
    data : array_like, shape (m, d)
    centres : array_like, shape (k, d)
        The modes' centres.
    std : float
        The modes' standard deviation per coordinate.
    radius : float
        Distance to the nearest centre, in units of ``std``, beyond which a generated point is on
        a bridge (default 4: the data put 1e-3 of their mass there in 2-D).

    Returns
    -------
    ModeSplit

    Raises
    ------
    w1flow.lp.LPError
        If the LP is not solved to optimality (no split of a wrong plan is returned).
    """
    from .._validation import as_points, as_positive_float, as_weights
    from ..lp import LPError, pairwise_distances, solve, unit_directions

    x = as_points(generated, "generated")
    y = as_points(data, "data")
    c = as_points(centres, "centres")
    if not (x.shape[1] == y.shape[1] == c.shape[1]):
        raise ValueError(f"generated, data and centres must have the same dimension; got {x.shape[1]}, {y.shape[1]} "
                         f"and {c.shape[1]}.")
    std = as_positive_float(std, "std")
    radius = as_positive_float(radius, "radius")
    a, b = as_weights(None, x.shape[0], "a"), as_weights(None, y.shape[0], "b")
    lp = solve(x, a, y, b)
    if lp.status != "optimal":
        raise LPError(f"w1_by_modes: the W1 LP was not solved: {lp.message}")

    def nearest(p):
        d = pairwise_distances(p, c)
        return d.argmin(axis=1), d.min(axis=1)

    kx, dx = nearest(x)
    ky, _ = nearest(y)
    on_bridge = dx > radius * std
    cost = unit_directions(x[lp.rows], y[lp.cols])[1] * lp.mass
    bridge = on_bridge[lp.rows]
    between = ~bridge & (kx[lp.rows] != ky[lp.cols])
    within = ~bridge & ~between
    mode_mass = np.bincount(kx[~on_bridge], weights=a[~on_bridge], minlength=c.shape[0])
    sq = np.bincount(kx[~on_bridge], weights=dx[~on_bridge] ** 2, minlength=c.shape[0])
    count = np.bincount(kx[~on_bridge], minlength=c.shape[0])
    spread = np.where(count > 0, np.sqrt(sq / np.maximum(count, 1)) / (std * np.sqrt(c.shape[1])), np.nan)
    return ModeSplit(w1=float(cost.sum()), bridge=float(cost[bridge].sum()), between=float(cost[between].sum()),
                     within=float(cost[within].sum()), bridge_mass=float(a[on_bridge].sum()), mode_mass=mode_mass,
                     spread=spread)


def evaluation_latents(latent, samples, latent_dim, seed):
    """The fixed latent points of every W1 evaluation of a run: ``latent`` if given, else
    ``samples`` standard normal draws from the seed ``[seed, 1]``."""
    if latent is not None:
        return latent
    return np.random.default_rng([seed, 1]).standard_normal((samples, latent_dim))


def evaluate_after(it, every, n_iter):
    """Whether to evaluate after outer step ``it`` (0-based): every ``every`` and after the last."""
    return every is not None and ((it + 1) % every == 0 or it + 1 == n_iter)


# -- the divergence rule (docs/reliability.md, "Divergence and growth") --------------------------
_OUTPUT_FACTOR = 1e3
_PARAM_FACTOR = 1e6
_DUAL_FACTOR = 1e3


def radius(points, centre):
    """``max_i |p_i − centre|_∞`` (0 for no points; the ∞-norm cannot overflow on finite points)."""
    return float(np.max(np.abs(points - centre), initial=0.0))


def norm(v):
    """The Euclidean norm of ``v``, without overflow for finite entries up to ~1e308."""
    m = float(np.max(np.abs(v), initial=0.0))
    return m * float(np.sqrt(np.sum((v / m) ** 2))) if 0.0 < m < np.inf else m


def divergence_scale(centre, data_radius, first_out, theta):
    """The reference scale of :func:`diverged`, from a call's first generated batch and parameters."""
    return (centre, data_radius + radius(first_out, centre), max(norm(theta), 1.0))


def diverged(scale, new_out, theta, adam_v, dual, out, xd):
    """Why a training step diverged (a message naming the likely cause), or None.

    Radii are in the max-norm ``|·|_∞``. With ``c`` the data's mean, ``S = max_j |x_j − c|_∞ +
    max_i |G_0(z_i) − c|_∞`` (the data's radius plus that of the first batch generated in this
    call) and ``θ_0`` the parameters at the call's start, a step has diverged when

    * the generator's outputs on the step's batch lie farther than ``1e3 S`` from ``c`` (a healthy
      run stays within a few S: W1-FE moves the outputs towards the data); or
    * ``|θ| > 1e6 · max(|θ_0|, 1)``, or Adam's second moment is not finite (it overflows on
      gradients beyond ~1e154, e.g. the Euler targets of ``dt = 1e300``, and then freezes θ: a
      silent stop); or
    * the potential's estimate on the batch ``|dual| > 1e3 M``, ``M = √d (max_i |G(z_i) − c_b|_∞ +
      max_j |y_j − c_b|_∞)`` (``c_b`` the data batch's mean): M bounds every distance between the
      two batches, so it bounds their W1 and W2; an estimate 1000 times beyond it is a diverged
      critic.
    """
    centre, S, theta0 = scale
    r = radius(new_out, centre)
    if r > _OUTPUT_FACTOR * S:
        return (f"the generator's outputs lie {r:.3g} from the data's centre, beyond {_OUTPUT_FACTOR:g} S = "
                f"{_OUTPUT_FACTOR * S:.3g} (S: radius of the data plus of the first outputs); lr is likely too "
                "large: lower lr")
    if not np.all(np.isfinite(adam_v)):
        return ("the optimiser's second moment overflowed (gradients beyond ~1e154, which freeze Adam's steps): "
                "W1-FE's Euler targets G(z) − dt ∇φ are likely too far: lower dt (or lr)")
    size = norm(theta)
    if size > _PARAM_FACTOR * theta0:
        return (f"the generator's parameters exploded (|θ| = {size:.3g}, {theta0:.3g} at the start, more than "
                f"{_PARAM_FACTOR:g} times); lr is likely too large: lower lr")
    cb = xd.mean(axis=0)
    bound = np.sqrt(xd.shape[1]) * (radius(out, cb) + radius(xd, cb))
    if abs(dual) > _DUAL_FACTOR * bound:
        return (f"the potential's W1 estimate on the batch is {dual:.3g}, more than {_DUAL_FACTOR:g} times the "
                f"largest distance between the batches ({bound:.3g}), which bounds W1: the critic diverged; "
                "lower the critic's learning rate")
    return None
