"""The W1-FE generative algorithm (Malik & Huang, arXiv:2405.16351) and its baselines, on the
potential-oracle interface.

Each outer step of :func:`train` with ``W1FE(K, dt)`` (:mod:`w1flow.generative.methods`):

1. **potential**: the oracle estimates φ between a generated batch ``G(z_c)`` and a data batch
   (``CriticPotential``, warm-started from step to step; or ``ExactPotential`` on the batch: the
   algorithm with a perfect critic, which the paper cannot run);
2. **targets**: a batch z is frozen and the forward-Euler targets ``y = G(z) − Δt ∇φ(G(z))``
   are computed once (detached). With a critic, z is a fresh batch (the paper's pseudocode);
   with an oracle that returns an optimal plan (the exact LP), z is the critic's batch and
   ``−∇φ`` there is the plan velocity (the c-transform's gradient is not defined at the
   particles: ``docs/concepts.md``);
3. **persistent training**: K generator steps on ``L(θ) = (1/n) Σ_i |G_θ(z_i) − y_i|²`` with the
   same z and the same y.

The baselines share steps 1 and the gradient rule of step 2 and replace step 3:

* ``WGAN()``: one generator step on the WGAN loss ``(1/n) Σ φ(G(z_i))`` (K = 1; WGAN-GP with a
  penalised critic);
* ``NaiveSame(K)``: K WGAN generator steps on the same batch z, the critic frozen (minibatch
  persistency, Fischetti et al., arXiv:1806.07353), ∇φ re-evaluated at the moving outputs;
* ``NaiveFresh(K)``: K WGAN generator steps, each on a fresh batch.

**K = 1 is WGAN** (Proposition 4.1): ``∇_θ L = 2Δt ∇_θ (1/n) Σ φ(G_θ(z_i))`` at the current θ.
With SGD at learning rate η one W1-FE step is one WGAN step at ``2Δt·η`` (``2Δt·η/d`` when the MSE
also averages over the d coordinates, ``W1FE(mse="mean")``, as torch's ``MSELoss``). Adam ignores a
constant gradient scale except through its ε: W1-FE at (lr, ε) is WGAN at (lr, ε/c) with
``c = 2Δt`` (``mse="sum"``) or ``2Δt/d`` (``"mean"``). ``tests/test_generative.py`` checks both to
round-off.

The defaults are the recipe (:mod:`w1flow.generative.recipe`): the critic, K, Δt, the optimiser
with its schedule and EMA, the batch size and the budget, chosen by measurement
(``benchmarks/w1fe_recipe.py``, docs/generative.md). They are ours, not the paper's: Malik &
Huang (arXiv:2405.16351) do not publish the settings of the W1-FE algorithm's experiments.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field as dc_field, fields

import numpy as np

from .._validation import as_int, as_points
from ..checkpoint import Checkpoint, fingerprint, load_into, require_state
from ..status import run_message, run_status
from .evaluation import diverged, divergence_scale, evaluate_after, evaluation_latents, held_out_w1, radius
from .generator import MLPGenerator, numba_kernels
from .methods import METHODS, as_method
from .options import (as_backend, as_batches, as_evaluation, as_optimizer, ema_weight, learning_rate,
                      optimizer_config, optimizer_tuple)
from .recipe import RECIPE, recipe_critic
from .result import HISTORY, TrainResult, history_arrays
from .torch_generator import TorchGenerator

__all__ = ["train", "TrainResult", "METHODS"]

logger = logging.getLogger(__name__)


def train(generator, data, potential=None, method=None, *, n_iter=None, batches=None, optimizer=None,
          evaluation=None, checkpoint=None, backend="numpy"):
    """Train a generator with W1-FE (persistency K) or a WGAN baseline; see the module docstring.

    Parameters
    ----------
    generator : MLPGenerator or TorchGenerator
        Updated in place (and returned in the result); a ``TorchGenerator`` needs ``backend="torch"``.
    data : array_like, shape (N, d)
        Training samples; batches are drawn from them with replacement.
    potential : PotentialOracle, optional
        ``CriticPotential(...)`` (warm-started from step to step) or ``ExactPotential()`` (the exact
        LP on each batch); other flows through the same steps (:mod:`w1flow.potentials.fields`):
        ``W2Potential()`` is W2-FE, ``RatioPotential(h)`` the MonoFlow of ``h``. Default: the
        recipe's critic (:func:`~w1flow.generative.recipe.recipe_critic`, seeded by ``Batches.seed``).
    method : W1FE, WGAN, NaiveSame or NaiveFresh, optional
        The generator update (:mod:`w1flow.generative.methods`); default ``W1FE()`` (the recipe's K
        and Δt).
    n_iter : int, optional
        Outer steps; default the recipe's budget (:data:`~w1flow.generative.recipe.RECIPE`).
    batches : Batches or int, optional
        Batch size, seed of the batches' stream and optional source latents (an int is the size).
    optimizer : Adam or SGD, optional
        The generator's optimiser, its learning-rate schedule and parameter average (EMA); default
        ``Adam()``, the recipe's.
    evaluation : Evaluation, optional
        Held-out data, schedule, size and latents of the exact W1 evaluations; the progress bar.
    checkpoint : Checkpoint, str or Path, optional
        Write the run state every ``Checkpoint.every`` outer steps, on an interrupt and at the end;
        ``resume=True`` continues bitwise. The fingerprint covers the generator's initial
        parameters and settings, the data, the held-out data, the oracle's settings and every
        option here; an oracle without its own ``state_dict``/``load_state`` is refused at once.
    backend : "numpy", "torch" or TorchBackend
        Where the generator's passes and optimiser run: the Numba kernels, or torch
        (:mod:`w1flow.generative.torch_backend`); both follow the same trajectory in float64.

    Returns
    -------
    TrainResult
    """
    method, batches, optimizer = as_method(method), as_batches(batches), as_optimizer(optimizer)
    data, potential, n_iter, backend = _check_inputs(generator, data, potential, n_iter, backend, batches)
    evaluation = as_evaluation(evaluation, data.shape[1], generator.latent_dim, batches)
    config = dict(method=method.name, K=method.K, dt=method.dt, n_iter=n_iter, batch_size=batches.size,
                  optimizer=optimizer.name, lr=optimizer.lr, betas=optimizer.betas, eps=optimizer.eps, mse=method.mse,
                  eval_every=evaluation.every, eval_samples=evaluation.samples, seed=batches.seed,
                  **optimizer_config(optimizer))
    if backend is not None and backend.dtype != "float64":
        config["dtype"] = backend.dtype  # float32 changes the trajectory; float64 keeps old fingerprints
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint(checkpoint)
    run_id, st = _start(generator, data, potential, config, batches, evaluation, checkpoint, optimizer)
    run = _Run(generator, data, st, batches, optimizer, evaluation, backend, n_iter)
    bar = _progress_bar(evaluation.progress, n_iter, st.it, f"w1flow {method.name} K={method.K}")
    status, message, consistent = "success", "Training ran every iteration.", True
    try:
        while st.it < n_iter:
            consistent = False
            failed = _outer_step(run, method, evaluation, n_iter)
            if failed is not None:
                status, message = failed
                break
            consistent = True
            if bar is not None:
                bar.update(1)
            if checkpoint is not None and st.it % checkpoint.every == 0 and st.it < n_iter:
                _write(checkpoint, run_id, st, "running", generator)
    except KeyboardInterrupt:
        status = "interrupted"
        message = run_message(status, f"(iteration {st.it})")
    finally:
        if bar is not None:
            bar.close()
    if checkpoint is not None and status in ("success", "interrupted"):
        if consistent:
            _write(checkpoint, run_id, st, status, generator)
        else:
            message += " (interrupted mid-step: the last periodic checkpoint is kept)"
    return _result(st, status, message, generator, config)


def _progress_bar(progress, total, initial, desc):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="it")


def _result(st, status, message, generator, config):
    if status != "success":
        logger.warning("train stopped: %s", message)
    before, oracle = st.counts_before, st.oracle
    return TrainResult(status=status, message=message, history=history_arrays(st.history), generator=generator,
                       n_iter=st.it, generator_steps=st.generator_steps,
                       critic_updates=_count(oracle, "critic_updates") - before["critic_updates"],
                       lp_solves=_count(oracle, "lp_solves") - before["lp_solves"], wall_time=st.elapsed,
                       eval_time=st.eval_time, config=config)


def _check_inputs(generator, data, potential, n_iter, backend, batches):
    """Validated ``data``, the oracle (the recipe's critic for None), ``n_iter`` (the recipe's for
    None) and the backend (None for numpy, else a ``TorchBackend``)."""
    if not isinstance(generator, (MLPGenerator, TorchGenerator)):
        raise TypeError(f"generator must be an MLPGenerator or a TorchGenerator, got {type(generator).__name__}.")
    data = as_points(data, "data")
    if data.shape[1] != generator.out_dim:
        raise ValueError(f"the generator's output dimension {generator.out_dim} differs from the data's "
                         f"{data.shape[1]}; build MLPGenerator(out_dim={data.shape[1]}).")
    if potential is None:
        potential = recipe_critic(seed=batches.seed)
    if not callable(potential):
        raise TypeError(f"potential must be a potential oracle such as CriticPotential(); got {potential!r}.")
    n_iter = as_int(RECIPE["n_iter"] if n_iter is None else n_iter, "n_iter", 0)
    backend = as_backend(backend)
    if isinstance(generator, TorchGenerator) and backend is None:
        raise ValueError(f"a {type(generator).__name__} runs on torch only: pass backend='torch'.")
    return data, potential, n_iter, backend


@dataclass
class _State:
    """Everything a checkpoint of a training run holds (``theta`` as the generator's state and
    ``oracle`` as the oracle's, each through its ``state_dict``; the rest as arrays and JSON values)."""

    theta: np.ndarray
    m1: np.ndarray
    v1: np.ndarray
    step: int
    rng: dict
    oracle: object
    it: int = 0
    history: dict = dc_field(default_factory=lambda: {k: [] for k in HISTORY})
    generator_steps: int = 0
    grad_queries: int = 0  # batches on which ∇φ was evaluated (critic evaluations besides its updates)
    elapsed: float = 0.0
    eval_time: float = 0.0
    counts_before: dict = dc_field(default_factory=dict)  # the oracle's counters at the start


def _start(generator, data, potential, config, batches, evaluation, checkpoint, optimizer):
    """The run's fingerprint and its state: fresh, or (resuming) read from the checkpoint into the
    caller's generator (its parameters and their average) and oracle, which the fingerprint says
    are this run's."""
    if checkpoint is not None:  # refuse now what could not be saved, not at the first checkpoint
        require_state("generator", generator)
        require_state("potential oracle", potential)
    latent, eval_latent = batches.latent, evaluation.latent
    extra = {} if latent is None and eval_latent is None else {"latent": latent, "eval_latent": eval_latent}
    run_id = fingerprint(config=config, generator=generator.settings(), theta0=generator.theta, data=data,
                         held_out=evaluation.held_out, oracle=potential, **extra)
    saved = checkpoint.load(run_id) if checkpoint is not None else None
    if saved is not None:
        load_into(checkpoint.path, "generator", generator, saved.get("generator"))
        load_into(checkpoint.path, "potential oracle", potential, saved.get("oracle"))
        return run_id, load_into(checkpoint.path, "training state", _State, saved.get("state"),
                                 theta=generator.theta, oracle=potential)
    # the average starts at the initial parameters; without one, a stale average of an earlier
    # training must not go on answering for this generator's samples
    generator.ema_theta = generator.theta.copy() if optimizer.ema else None
    rng = np.random.default_rng(batches.seed)
    return run_id, _State(theta=generator.theta, m1=np.zeros(generator.n_params), v1=np.zeros(generator.n_params),
                          step=0, rng=rng.bit_generator.state, oracle=potential,
                          counts_before={k: _count(potential, k) for k in ("critic_updates", "lp_solves")})


class _Run:
    """One call's moving parts, the ``run`` of the methods' step contract
    (:mod:`w1flow.generative.methods`): the state, the batches' random stream, the generator's
    passes and optimiser steps on the chosen kernels."""

    def __init__(self, generator, data, st, batches, optimizer, evaluation, backend, n_iter):
        self.st, self.data, self.batch_size, self.latent = st, data, batches.size, batches.latent
        self.generator, self.optimizer, self.n_iter = generator, optimizer, n_iter
        self.latent_dim, self.plan, self.torch = generator.latent_dim, False, backend is not None
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = st.rng
        if backend is not None:
            from .torch_backend import TorchKernels

            forward = generator.torch_forward if isinstance(generator, TorchGenerator) else None
            self.kernels = TorchKernels(backend.device, backend.dtype, forward=forward)
        else:
            self.kernels = numba_kernels()
        self.args = (generator.offs, generator.sizes, generator._act)
        self.opt = optimizer_tuple(optimizer)
        self.z_eval = evaluation_latents(evaluation.latent, evaluation.samples, generator.latent_dim, batches.seed)
        self.centre = data.mean(axis=0)
        self.data_radius, self.scale = radius(data, self.centre), None  # the divergence rule's scale

    @property
    def grad_queries(self):
        return self.st.grad_queries

    @grad_queries.setter
    def grad_queries(self, value):
        self.st.grad_queries = value

    def begin_step(self):
        """Set this outer step's learning rate (the optimiser's schedule)."""
        self.opt = optimizer_tuple(self.optimizer, learning_rate(self.optimizer, self.st.it, self.n_iter))

    def average(self):
        """The EMA update of the generator's averaged parameters after this outer step (if kept)."""
        if self.optimizer.ema:
            beta = ema_weight(self.optimizer, self.st.it)
            ema = self.generator.ema_theta
            ema *= beta
            ema += (1.0 - beta) * self.st.theta

    def evaluate_sampling(self, z):
        """``G(z)`` with the parameters samples are drawn with (the average when kept)."""
        return self.kernels.evaluate(self.generator.sampling_theta(), *self.args, z)

    def draw_latent(self):
        if self.latent is None:
            return self.rng.standard_normal((self.batch_size, self.latent_dim))
        return self.latent[self.rng.integers(0, self.latent.shape[0], self.batch_size)]

    def draw_data(self):
        return self.data[self.rng.integers(0, self.data.shape[0], self.batch_size)]

    def evaluate(self, z, keep=False):
        # the torch kernels can keep this forward's graph for the WGAN step's backward pass
        extra = {"keep": True} if keep and self.torch else {}
        return self.kernels.evaluate(self.st.theta, *self.args, z, **extra)

    def fit(self, z, targets, K, coord_mean):
        st = self.st
        st.step, _, _ = self.kernels.mse_steps(st.theta, st.m1, st.v1, st.step, *self.args, z, targets, K, *self.opt,
                                               coord_mean)

    def push(self, z, gout):
        st = self.st
        st.step = self.kernels.vjp_step(st.theta, st.m1, st.v1, st.step, *self.args, z, gout, *self.opt)


def _outer_step(run, method, evaluation, n_iter):
    """One outer step: potential, gradient, the method's generator update, the health checks, the
    evaluation and the history. None, or ``(status, message)`` when the run must stop."""
    st, oracle = run.st, run.st.oracle
    t0 = time.perf_counter()
    run.begin_step()
    z_c = run.draw_latent()
    xd = run.draw_data()
    out_c = run.evaluate(z_c)
    pot = oracle(out_c, None, xd, None, float(st.it))
    if not pot.success:
        status = run_status(pot.status)
        return status, run_message(status, pot.message)
    # −∇φ at an LP's own particles is the plan velocity (W1: the plan's rays; W2: the
    # barycentric projection): take it there instead of ∇φ of the extension
    run.plan = getattr(oracle, "provides_plan", False) or getattr(oracle, "particle_velocity", False)
    if run.plan:
        z, out, g = z_c, out_c, -np.asarray(pot.velocity)
    else:
        z = run.draw_latent()
        out = run.evaluate(z, keep=method.keeps_forward)
        g = np.asarray(pot.grad(out))
        st.grad_queries += 1
    z, g, target = method.step(run, pot, z, out, g)
    moved = run.evaluate(z) - out
    st.generator_steps += method.K
    st.elapsed += time.perf_counter() - t0
    if not np.all(np.isfinite(st.theta)):
        return "nonfinite", run_message("nonfinite", f"(the generator's parameters, iteration {st.it}); lower lr")
    run.average()
    if run.scale is None:  # this call's reference scale, from its first batch
        run.scale = divergence_scale(run.centre, run.data_radius, out_c, st.theta)
    why = diverged(run.scale, out + moved, st.theta, st.v1, float(pot.w1), out_c, xd)
    if why is not None:
        return "diverged", run_message("diverged", f"(iteration {st.it}): {why}")
    w1 = np.nan
    if evaluate_after(st.it, evaluation.every, n_iter):
        te = time.perf_counter()
        w1 = held_out_w1(run.evaluate_sampling(run.z_eval), evaluation.held_out, evaluation.samples)
        st.eval_time += time.perf_counter() - te
    before = st.counts_before
    for key, value in (("iteration", st.it + 1), ("w1", w1), ("critic_dual", float(pot.w1)),
                      ("critic_steps", sum(_count(oracle, k) - v for k, v in before.items())),
                      ("critic_evaluations",
                       _count(oracle, "critic_updates") - before["critic_updates"] + st.grad_queries),
                      ("generator_steps", st.generator_steps), ("wall_time", st.elapsed),
                      ("displacement", float(np.mean(np.linalg.norm(moved, axis=1)))),
                      ("target_displacement", float(target * np.mean(np.linalg.norm(g, axis=1))))):
        st.history[key].append(value)
    st.it += 1
    st.rng = run.rng.bit_generator.state
    return None


def _count(oracle, key):
    counters = getattr(oracle, "counters", None)
    return int(counters.get(key, 0)) if isinstance(counters, dict) else 0


def _write(checkpoint, run_id, st, status, generator):
    state = {f.name: getattr(st, f.name) for f in fields(st) if f.name not in ("theta", "oracle")}
    checkpoint.write({"fingerprint": run_id, "status": status, "k": st.it, "state": state,
                      "generator": generator.state_dict(), "oracle": st.oracle.state_dict()})
