"""The grouped options of :func:`~w1flow.generative.train` (and of
:func:`~w1flow.generative.wgan_gp_reference`): batches, optimiser, evaluation, torch backend.

Each is a frozen dataclass that checks its own fields when built, with an error naming the class
and the field (``Adam(lr=...) must be finite and in (0, inf)``); checks that need the run (the
latent dimension of ``Batches.latent``, the data dimension of ``Evaluation.held_out``) are made by
``train`` with the same names.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

from .._validation import as_bool, as_float, as_int, as_points
from .recipe import RECIPE

__all__ = ["Batches", "Adam", "SGD", "Evaluation", "TorchBackend", "as_batches", "as_optimizer", "as_evaluation",
           "as_backend", "SCHEDULES", "learning_rate", "ema_weight"]

#: The learning-rate schedules over the outer steps (:func:`learning_rate`).
SCHEDULES = ("constant", "cosine", "stages")


def _set(obj, name, value):
    object.__setattr__(obj, name, value)  # a frozen dataclass's field, normalised by its check


def check_seed(seed, name):
    """``seed`` as given if it is an integer >= 0 (numpy's ``SeedSequence`` error would not name it)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 0 (a random seed), got {seed!r}.")
    if seed < 0:
        raise ValueError(f"{name} must be an integer >= 0 (a random seed), got {seed}.")
    return seed


@dataclass(frozen=True, eq=False)
class Batches:
    """The training batches: ``size`` generated and data points per batch, drawn with
    replacement from a random stream seeded by ``seed`` (the generator's and the critic's have
    their own); ``latent`` (shape ``(N_s, latent_dim)``), if given, holds the rows the latent
    points are drawn from instead of a standard normal: the source images of a domain
    translation."""

    size: int = RECIPE["batch_size"]
    seed: int = 0
    latent: object = None

    def __post_init__(self):
        _set(self, "size", as_int(self.size, "Batches(size=...)", 1))
        check_seed(self.seed, "Batches(seed=...)")
        if self.latent is not None:
            _set(self, "latent", as_points(self.latent, "Batches(latent=...)"))


def _check_lr(obj):
    """The checks shared by the optimisers: ``lr``, its schedule and the EMA."""
    cls = type(obj).__name__
    _set(obj, "lr", as_float(obj.lr, f"{cls}(lr=...)", 0.0, low_open=True))
    if obj.schedule not in SCHEDULES:
        raise ValueError(f"{cls}(schedule=...) must be one of {SCHEDULES}, got {obj.schedule!r}.")
    _set(obj, "final_lr_ratio", as_float(obj.final_lr_ratio, f"{cls}(final_lr_ratio=...)", 0.0, 1.0,
                                         low_open=True, high_open=False))
    _set(obj, "ema", as_float(obj.ema, f"{cls}(ema=...) (0: no average)", 0.0, 1.0))


def learning_rate(optimizer, it, n_iter):
    """The generator's learning rate at outer step ``it`` (0-based) of ``n_iter``.

    With ``r = final_lr_ratio`` and ``s = it / n_iter``: ``"constant"`` is ``lr``; ``"cosine"`` is
    ``lr (r + (1 − r)(1 + cos πs)/2)``, from ``lr`` down to ``r·lr``; ``"stages"`` is ``lr`` until
    ``s = 1/2``, ``√r·lr`` until ``s = 3/4``, then ``r·lr``. Every optimiser step of an outer step
    uses that step's rate; the schedule depends only on ``it``, so a resumed run follows it bitwise.
    """
    lr, r = optimizer.lr, optimizer.final_lr_ratio
    if optimizer.schedule == "constant" or n_iter <= 0:
        return lr
    s = it / n_iter
    if optimizer.schedule == "cosine":
        return lr * (r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * s)))
    return lr if s < 0.5 else lr * math.sqrt(r) if s < 0.75 else lr * r


def _optimizer_repr(obj):
    """``Adam(lr=..., ...)`` without ``final_lr_ratio`` when the schedule is constant (it is then
    not used, and showing it reads as if the rate were lowered)."""
    names = [f.name for f in fields(obj)]
    if obj.schedule == "constant":
        names.remove("final_lr_ratio")
    return f"{type(obj).__name__}({', '.join(f'{n}={getattr(obj, n)!r}' for n in names)})"


def ema_weight(optimizer, it):
    """The weight ``β`` of the average in the EMA update after outer step ``it`` (0-based),
    ``θ̄ ← β θ̄ + (1 − β) θ``: ``min(ema, (1 + it)/(10 + it))``, so the first steps are not
    averaged with the initial parameters for long (0 when the EMA is off)."""
    return min(optimizer.ema, (1.0 + it) / (10.0 + it))


@dataclass(frozen=True, repr=False)
class Adam:
    """Adam with learning rate ``lr``, decay rates ``betas`` and ``eps`` (the generator's
    optimiser; the defaults are the recipe's, :mod:`w1flow.generative.recipe`: the W1-FE paper
    does not publish its protocol).

    ``schedule`` (``"constant"``, ``"cosine"``, ``"stages"``) lowers the rate over the outer steps
    to ``final_lr_ratio · lr`` (:func:`learning_rate`). ``ema`` > 0 keeps an exponential moving
    average of the generator's parameters over the outer steps (:func:`ema_weight`); the
    evaluations, ``generator.sample`` and ``generator(z)`` then use it (``ema=False`` there asks for
    the raw parameters).
    """

    lr: float = RECIPE["lr"]
    betas: tuple = RECIPE["betas"]
    eps: float = 1e-8
    schedule: str = RECIPE["schedule"]
    final_lr_ratio: float = RECIPE["final_lr_ratio"]
    ema: float = RECIPE["ema"]
    name = "adam"

    def __post_init__(self):
        _check_lr(self)
        b = self.betas
        if not isinstance(b, (tuple, list)) or len(b) != 2:
            raise TypeError(f"Adam(betas=...) must be a pair (beta1, beta2), got {b!r}.")
        _set(self, "betas", (as_float(b[0], "Adam(betas=...)[0]", 0.0, 1.0),
                             as_float(b[1], "Adam(betas=...)[1]", 0.0, 1.0)))
        _set(self, "eps", as_float(self.eps, "Adam(eps=...)", 0.0))

    __repr__ = _optimizer_repr


@dataclass(frozen=True, repr=False)
class SGD:
    """Plain gradient descent at learning rate ``lr``; ``schedule``, ``final_lr_ratio`` and ``ema``
    as for :class:`Adam` (off by default: plain SGD is the reference of the K = 1 ≡ WGAN identity,
    not the recipe)."""

    lr: float = 1e-4
    schedule: str = "constant"
    final_lr_ratio: float = RECIPE["final_lr_ratio"]
    ema: float = 0.0
    name = "sgd"
    betas = (0.5, 0.9)  # not used; they keep the run's fingerprint that of the old spelling
    eps = 1e-8

    def __post_init__(self):
        _check_lr(self)

    __repr__ = _optimizer_repr


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The exact W1 evaluations of a run.

    Every ``every`` outer steps (and after the last) the exact W1 (LP) between ``samples``
    generated points, from fixed latent points, and the first ``samples`` rows of ``held_out``.
    The latent points are ``latent`` if given (required with ``Batches(latent=...)``: e.g.
    held-out source images), else ``samples`` standard normal draws from the seed
    ``[Batches.seed, 1]`` (:func:`~w1flow.generative.evaluation.evaluation_latents`).
    ``progress`` shows a tqdm bar.
    """

    held_out: object = None
    every: int = None
    samples: int = 2000
    latent: object = None
    progress: bool = False

    def __post_init__(self):
        if self.held_out is not None:
            _set(self, "held_out", as_points(self.held_out, "Evaluation(held_out=...)"))
        if self.every is not None:
            _set(self, "every", as_int(self.every, "Evaluation(every=...)", 1))
            if self.held_out is None:
                raise ValueError("Evaluation(every=...) needs Evaluation(held_out=...) data to measure W1 against.")
        _set(self, "samples", as_int(self.samples, "Evaluation(samples=...)", 1))
        if self.latent is not None:
            _set(self, "latent", as_points(self.latent, "Evaluation(latent=...)"))
        _set(self, "progress", as_bool(self.progress, "Evaluation(progress=...)"))


@dataclass(frozen=True)
class TorchBackend:
    """Run the generator's passes and optimiser in torch (the ``torch`` extra, imported only
    then): ``device`` (``"cuda"`` when available, else ``"cpu"``) and ``dtype`` (``"float64"`` or
    ``"float32"``; the parameters are kept in float64 between calls)."""

    device: str = None
    dtype: str = "float64"

    def __post_init__(self):
        if self.device is not None and not isinstance(self.device, str):
            raise TypeError(f"TorchBackend(device=...) must be a device name such as 'cpu', got {self.device!r}.")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"TorchBackend(dtype=...) must be 'float64' or 'float32'; got {self.dtype!r}.")


# -- the defaults and shorthands train accepts ---------------------------------------------------
def as_batches(batches):
    """``Batches()`` for None, ``Batches(size=n)`` for an int, a ``Batches`` as given."""
    if batches is None:
        return Batches()
    if isinstance(batches, numbers.Integral) and not isinstance(batches, bool):
        return Batches(size=batches)
    if not isinstance(batches, Batches):
        raise TypeError(f"batches must be a Batches(size=..., seed=..., latent=...) or a batch size; got {batches!r}.")
    return batches


def as_optimizer(optimizer):
    """``Adam()`` (the recipe's) for None, an ``Adam`` or ``SGD`` as given."""
    if optimizer is None:
        return Adam()
    if not isinstance(optimizer, (Adam, SGD)):
        raise TypeError(f"optimizer must be Adam(lr=..., betas=..., eps=..., schedule=..., ema=...) or "
                        f"SGD(lr=..., schedule=..., ema=...); got {optimizer!r}.")
    return optimizer


def as_evaluation(evaluation, dim, latent_dim, batches):
    """``Evaluation()`` for None; checked against the data dimension ``dim``, the generator's
    ``latent_dim`` and the batches (source latents need their own evaluation latents)."""
    if evaluation is None:
        evaluation = Evaluation()
    if not isinstance(evaluation, Evaluation):
        raise TypeError(f"evaluation must be an Evaluation(held_out=..., every=..., ...); got {evaluation!r}.")
    if evaluation.held_out is not None:
        as_points(evaluation.held_out, "Evaluation(held_out=...)", dim=dim)
    if evaluation.latent is not None:
        as_points(evaluation.latent, "Evaluation(latent=...)", dim=latent_dim)
    elif batches.latent is not None and evaluation.every is not None:
        raise ValueError("with Batches(latent=...) the evaluations need their own latent points: pass "
                         "Evaluation(latent=...) (e.g. held-out source images).")
    if batches.latent is not None:
        as_points(batches.latent, "Batches(latent=...)", dim=latent_dim)
    return evaluation


def as_backend(backend):
    """``None`` for ``"numpy"``, a :class:`TorchBackend` for ``"torch"`` or one given."""
    if isinstance(backend, TorchBackend):
        return backend
    if isinstance(backend, str) and backend == "torch":
        return TorchBackend()
    if isinstance(backend, str) and backend == "numpy":
        return None
    raise ValueError(f"backend must be 'numpy', 'torch' or TorchBackend(device=..., dtype=...); got {backend!r}.")


def optimizer_tuple(optimizer, lr=None):
    """The kernels' optimiser arguments ``(lr, beta1, beta2, eps, sgd)`` (``lr``: the scheduled rate)."""
    return (optimizer.lr if lr is None else lr, optimizer.betas[0], optimizer.betas[1], optimizer.eps,
            isinstance(optimizer, SGD))


def optimizer_config(optimizer):
    """The optimiser's entries of a run's fingerprint: a schedule and an EMA only when on, so a
    run without them keeps the fingerprint it had before they existed."""
    extra = {}
    if optimizer.schedule != "constant":
        extra.update(schedule=optimizer.schedule, final_lr_ratio=optimizer.final_lr_ratio)
    if optimizer.ema:
        extra["ema"] = optimizer.ema
    return extra

