"""The W1-FE generative algorithm (Malik & Huang) and its baselines, on the potential-oracle interface.

Each outer step of :func:`train` with ``method="w1fe"``:

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

* ``"wgan"``: one generator step on the WGAN loss ``(1/n) Σ φ(G(z_i))`` (K = 1; WGAN-GP with a
  penalised critic);
* ``"naive_same"``: K WGAN generator steps on the same batch z, the critic frozen (minibatch
  persistency), ∇φ re-evaluated at the moving outputs;
* ``"naive_fresh"``: K WGAN generator steps, each on a fresh batch.

**K = 1 is WGAN** (Proposition 4.1): ``∇_θ L = 2Δt ∇_θ (1/n) Σ φ(G_θ(z_i))`` at the current θ.
With SGD at learning rate η one W1-FE step is one WGAN step at ``2Δt·η`` (``2Δt·η/d`` when the MSE
also averages over the d coordinates, ``mse="mean"``, as torch's ``MSELoss``). Adam ignores a
constant gradient scale except through its ε: W1-FE at (lr, ε) is WGAN at (lr, ε/c) with
``c = 2Δt`` (``mse="sum"``) or ``2Δt/d`` (``"mean"``). ``tests/test_generative.py`` checks both to
round-off.

The defaults (Adam, lr 1e-4, betas (0.5, 0.9), batch 256, ``mse="sum"``) are ours, not the
paper's: its protocol is not published (``../shared/reference/w1fe-paper.md`` §6–7).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field as dc_field, fields

import numpy as np

from .._validation import as_bool, as_float, as_int, as_points
from ..checkpoint import Checkpoint, fingerprint, load_into, require_state
from ..status import run_message, run_status
from .generator import MLPGenerator, _kernels
from .torch_generator import TorchGenerator

__all__ = ["train", "TrainResult", "METHODS"]

logger = logging.getLogger(__name__)

#: The training rules :func:`train` knows.
METHODS = ("w1fe", "wgan", "naive_same", "naive_fresh")

_HISTORY = ("iteration", "w1", "critic_dual", "critic_steps", "critic_evaluations", "generator_steps", "wall_time",
            "displacement", "target_displacement")


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    Attributes
    ----------
    status, message : str
        ``"success"`` when all iterations ran; otherwise the failure (a potential that could not
        be computed, non-finite parameters, ``"diverged"``: finite but exploding outputs,
        parameters or critic estimate, see ``_diverged``; an interrupt) and what to do.
    history : dict of ndarray
        One entry per outer step: ``iteration``; ``w1`` (exact W1 between ``eval_samples``
        generated and held-out points, NaN between evaluations); ``critic_dual`` (the
        potential's W1 estimate on the training batch); ``critic_steps`` (cumulative critic
        updates, or LPs for an exact oracle); ``critic_evaluations`` (cumulative forward-and-backward
        passes of the critic on one batch: its updates plus the batches on which ∇φ was queried —
        one per outer step for W1-FE whatever K, K for the naive baselines; 0 queries for an
        oracle that returns a plan); ``generator_steps`` (cumulative);
        ``wall_time`` (cumulative seconds of training, evaluations excluded);
        ``displacement`` (mean ``|G_new(z) − G_old(z)|`` on the step's batch) and
        ``target_displacement`` (mean ``Δt |∇φ|``, what an exact Euler step would move; NaN for
        the WGAN baselines), whose ratio says whether K and the learning rate let the generator
        reach its targets.
    generator : MLPGenerator
        The trained generator (the one passed in, updated in place).
    n_iter, generator_steps, critic_updates, lp_solves : int
    wall_time : float
        Seconds of training (evaluations excluded).
    eval_time : float
        Seconds spent on the W1 evaluations.
    """

    status: str
    message: str
    history: dict
    generator: object
    n_iter: int
    generator_steps: int
    critic_updates: int
    lp_solves: int
    wall_time: float
    eval_time: float = 0.0
    config: dict = dc_field(default_factory=dict)

    @property
    def success(self):
        return self.status == "success"

    @property
    def w1(self):
        """``(iterations, exact W1)`` at the evaluated steps."""
        h = self.history
        ok = np.isfinite(h["w1"])
        return h["iteration"][ok], h["w1"][ok]

    def __repr__(self):
        it, w = self.w1
        last = f", w1[-1]={w[-1]:.4g}" if w.size else ""
        return (f"TrainResult(status={self.status!r}, iterations={self.n_iter}, generator_steps="
                f"{self.generator_steps}, critic_updates={self.critic_updates}{last}, "
                f"wall_time={self.wall_time:.3g}s)")


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
    history: dict = dc_field(default_factory=lambda: {k: [] for k in _HISTORY})
    generator_steps: int = 0
    grad_queries: int = 0  # batches on which ∇φ was evaluated (critic evaluations besides its updates)
    elapsed: float = 0.0
    eval_time: float = 0.0
    counts_before: dict = dc_field(default_factory=dict)  # the oracle's counters at the start


def _check_inputs(generator, data, potential, method, K, dt, batch_size, n_iter, optimizer, mse, held_out,
                  eval_every, eval_samples, lr, betas, eps):
    if not isinstance(generator, (MLPGenerator, TorchGenerator)):
        raise TypeError(f"generator must be an MLPGenerator or a TorchGenerator, got {type(generator).__name__}.")
    data = as_points(data, "data")
    if data.shape[1] != generator.out_dim:
        raise ValueError(f"the generator's output dimension {generator.out_dim} differs from the data's "
                         f"{data.shape[1]}; build MLPGenerator(out_dim={data.shape[1]}).")
    if not callable(potential):
        raise TypeError(f"potential must be a potential oracle such as CriticPotential(); got {potential!r}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    K = as_int(K, "K", 1)
    if method == "wgan" and K != 1:
        raise ValueError("method='wgan' takes one generator step per critic phase (K = 1); use "
                         "method='naive_same' or 'naive_fresh' for K > 1.")
    dt = as_float(dt, "dt", 0.0, low_open=True)
    batch_size = as_int(batch_size, "batch_size", 1)
    n_iter = as_int(n_iter, "n_iter", 0)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}.")
    if mse not in ("sum", "mean"):
        raise ValueError(f"mse must be 'sum' (over coordinates) or 'mean' (as torch's MSELoss), got {mse!r}.")
    held_out, eval_every, eval_samples = _check_evaluation(held_out, eval_every, eval_samples, data.shape[1])
    lr = as_float(lr, "lr", 0.0, low_open=True)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}.")
    betas = (as_float(betas[0], "betas[0]", 0.0, 1.0), as_float(betas[1], "betas[1]", 0.0, 1.0))
    eps = as_float(eps, "eps", 0.0)
    return data, K, dt, batch_size, n_iter, held_out, eval_every, eval_samples, lr, betas, eps


def train(generator, data, potential, *, method="w1fe", K=1, dt=0.1, n_iter=1000, batch_size=256,
          optimizer="adam", lr=1e-4, betas=(0.5, 0.9), eps=1e-8, mse="sum", held_out=None, eval_every=None,
          eval_samples=2000, seed=0, progress=False, checkpoint=None, backend="numpy", device=None,
          dtype="float64", latent=None, eval_latent=None):
    """Train a generator with W1-FE (persistency K) or a WGAN baseline; see the module docstring.

    Parameters
    ----------
    generator : MLPGenerator or TorchGenerator
        Updated in place (and returned in the result). A
        :class:`~w1flow.generative.TorchGenerator` (DCGAN-style, residual translator) needs
        ``backend="torch"``.
    data : array_like, shape (N, d)
        Training samples; batches are drawn from them with replacement.
    potential : PotentialOracle
        ``CriticPotential(...)`` (warm-started from step to step; its settings choose the stopping
        rule or a fixed ``n_critic``) or ``ExactPotential()`` (the exact LP on each batch): W1-FE.
        Other flows through the same steps (:mod:`w1flow.potentials.fields`):
        ``W2Potential()`` is **W2-FE** (K = 1 with ``method="wgan"``: W2-GAN's generator step), and
        ``RatioPotential(h)`` the MonoFlow of ``h`` (``RatioPotential("vanilla_gan")`` the JS flow;
        ``method="wgan"`` is then the GAN generator step on ``−E h(d(G(z)))``).
    method : {"w1fe", "wgan", "naive_same", "naive_fresh"}
    K : int
        Generator steps per outer step (W1-FE's persistency; the naive baselines' repeats).
    dt : float
        W1-FE's Euler step Δt (units of the data), > 0.
    n_iter : int
        Outer steps.
    batch_size : int
        Generated and data points per batch.
    optimizer : {"adam", "sgd"}
    lr, betas, eps : float, (float, float), float
        The optimiser's learning rate, Adam's decay rates and ε.
    mse : {"sum", "mean"}
        W1-FE's loss normalisation: ``(1/n) Σ_i |G(z_i) − y_i|²`` (``"sum"`` over coordinates) or
        also divided by d (``"mean"``, torch's ``MSELoss``).
    held_out : array_like, optional
        Held-out data for the exact W1 evaluations.
    eval_every : int, optional
        Evaluate every this many outer steps (and after the last): the exact W1 (LP) between
        ``eval_samples`` generated points (from a fixed latent sample) and ``eval_samples``
        held-out points.
    seed : int
        Seed of the batches' random stream (the generator's and the critic's have their own).
    progress : bool
        Show a tqdm progress bar.
    checkpoint : Checkpoint, str or Path, optional
        Write the run state every ``Checkpoint.every`` outer steps, on an interrupt and at the
        end; ``resume=True`` continues bitwise. The fingerprint covers the generator's initial
        parameters and settings, the data, the held-out data, the oracle's settings and every
        argument here. The file is an ``.npz`` + JSON (no pickle, :mod:`w1flow.checkpoint`); an
        oracle without its own ``state_dict``/``load_state`` is refused before the first step.
    backend : {"numpy", "torch"}
        Where the generator's forward pass, reverse pass and optimiser run: the Numba kernels,
        or torch (:mod:`w1flow.generative.torch_backend`; the ``torch`` extra, imported only
        then). Both follow the same trajectory in float64 (tested to 1e-8 over 50 steps).
    device : str, optional
        The torch device (``"cuda"`` when available, else ``"cpu"``); only with ``backend="torch"``.
    dtype : {"float64", "float32"}
        The torch backend's arithmetic (the parameters are kept in float64 between calls).
    latent : array_like, shape (N_s, latent_dim), optional
        Draw the latent points from these rows (with replacement) instead of a standard normal:
        the **source images of a domain translation** (with a residual ``TorchGenerator``, which
        starts as the identity).
    eval_latent : array_like, shape (n, latent_dim), optional
        The latent points of the W1 evaluations (default: ``eval_samples`` fixed standard normal
        draws; required with ``latent`` when evaluating: e.g. held-out source images).

    Returns
    -------
    TrainResult
    """
    data, K, dt, batch_size, n_iter, held_out, eval_every, eval_samples, lr, betas, eps = _check_inputs(
        generator, data, potential, method, K, dt, batch_size, n_iter, optimizer, mse, held_out, eval_every,
        eval_samples, lr, betas, eps)
    progress = as_bool(progress, "progress")
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch'; got {backend!r}.")
    if device is not None and backend != "torch":
        raise ValueError("device= is for backend='torch'; drop it or pass backend='torch'.")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32'; got {dtype!r}.")
    if dtype != "float64" and backend != "torch":
        raise ValueError("dtype= is for backend='torch' (the Numba kernels are float64); drop it or pass backend='torch'.")
    torch_net = isinstance(generator, TorchGenerator)
    if torch_net and backend != "torch":
        raise ValueError(f"a {type(generator).__name__} runs on torch only: pass backend='torch'.")
    latent, eval_latent = _check_latents(latent, eval_latent, eval_every, generator.latent_dim)
    config = dict(method=method, K=K, dt=dt, n_iter=n_iter, batch_size=batch_size, optimizer=optimizer, lr=lr,
                  betas=betas, eps=eps, mse=mse, eval_every=eval_every, eval_samples=eval_samples, seed=seed)
    if backend == "torch" and dtype != "float64":
        config["dtype"] = dtype  # float32 changes the trajectory; float64 keeps old fingerprints
    extra = {} if latent is None and eval_latent is None else {"latent": latent, "eval_latent": eval_latent}
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint(checkpoint)
    if checkpoint is not None:  # refuse now what could not be saved, not at the first checkpoint
        require_state("generator", generator)
        require_state("potential oracle", potential)
    run_id = fingerprint(config=config, generator=generator.settings(), theta0=generator.theta, data=data,
                         held_out=held_out, oracle=potential, **extra)
    saved = checkpoint.load(run_id) if checkpoint is not None else None
    if saved is not None:  # the caller's generator and oracle (the fingerprint says they are this run's) get the state
        load_into(checkpoint.path, "generator", generator, saved.get("generator"))
        load_into(checkpoint.path, "potential oracle", potential, saved.get("oracle"))
        st = load_into(checkpoint.path, "training state", _State, saved.get("state"),
                       theta=generator.theta, oracle=potential)
    else:
        rng = np.random.default_rng(seed)
        st = _State(theta=generator.theta, m1=np.zeros(generator.n_params), v1=np.zeros(generator.n_params),
                    step=0, rng=rng.bit_generator.state, oracle=potential,
                    counts_before={k: _count(potential, k) for k in ("critic_updates", "lp_solves")})
    rng = np.random.default_rng()
    rng.bit_generator.state = st.rng
    oracle = st.oracle
    if backend == "torch":
        from .torch_backend import TorchKernels

        K_ = TorchKernels(device, dtype, forward=generator.torch_forward if torch_net else None)
    else:
        K_ = _kernels()
    z_eval = _eval_latents(eval_latent, eval_samples, generator.latent_dim, seed)

    def draw_latent():
        if latent is None:
            return rng.standard_normal((batch_size, generator.latent_dim))
        return latent[rng.integers(0, latent.shape[0], batch_size)]

    before = st.counts_before
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_iter, initial=st.it, desc=f"w1flow {method} K={K}", unit="it")
    status, message = "success", "Training ran every iteration."
    call_start, consistent = time.perf_counter(), True
    opt = (lr, betas[0], betas[1], eps, optimizer == "sgd")
    args = (generator.offs, generator.sizes, generator._act)
    centre = data.mean(axis=0)
    radius, scale = _radius(data, centre), None  # the divergence rule's scale (see _diverged)
    try:
        while st.it < n_iter:
            consistent = False
            t0 = time.perf_counter()
            z_c = draw_latent()
            xd = data[rng.integers(0, data.shape[0], batch_size)]
            out_c = K_.evaluate(st.theta, *args, z_c)
            pot = oracle(out_c, None, xd, None, float(st.it))
            if not pot.success:
                status = run_status(pot.status)
                message = run_message(status, pot.message)
                break
            # −∇φ at an LP's own particles is the plan velocity (W1: the plan's rays; W2: the
            # barycentric projection): take it there instead of ∇φ of the extension
            plan = getattr(oracle, "provides_plan", False) or getattr(oracle, "particle_velocity", False)
            if plan:
                z, out, g = z_c, out_c, -np.asarray(pot.velocity)
            else:
                z = draw_latent()
                # the torch kernels can keep this forward's graph for the WGAN step's backward pass
                keep = {"keep": True} if backend == "torch" and method != "w1fe" else {}
                out = K_.evaluate(st.theta, *args, z, **keep)
                g = np.asarray(pot.grad(out))
                st.grad_queries += 1
            n = batch_size
            if method == "w1fe":
                Y = out - dt * g
                st.step, _, _ = K_.mse_steps(st.theta, st.m1, st.v1, st.step, *args, z, Y, K, *opt, mse == "mean")
                steps, target = K, dt
            else:
                for k in range(K):
                    if k > 0:
                        if method == "naive_fresh":
                            z = draw_latent()
                        g = np.asarray(pot.grad(K_.evaluate(st.theta, *args, z)))
                        st.grad_queries += not plan
                    st.step = K_.vjp_step(st.theta, st.m1, st.v1, st.step, *args, z, np.ascontiguousarray(g / n),
                                          *opt)
                steps, target = K, np.nan  # no Euler step to reach
            moved = K_.evaluate(st.theta, *args, z) - out
            st.generator_steps += steps
            st.elapsed += time.perf_counter() - t0
            if not np.all(np.isfinite(st.theta)):
                status = "nonfinite"
                message = run_message(status, f"(the generator's parameters, iteration {st.it}); lower lr")
                break
            if scale is None:  # this call's reference scale, from its first batch
                scale = (centre, radius + _radius(out_c, centre), max(_norm(st.theta), 1.0))
            why = _diverged(scale, out + moved, st.theta, st.v1, float(pot.w1), out_c, xd)
            if why is not None:
                status = "diverged"
                message = run_message(status, f"(iteration {st.it}): {why}")
                break
            w1 = np.nan
            if _evaluate_after(st.it, eval_every, n_iter):
                te = time.perf_counter()
                w1 = _eval_w1(st.theta, args, z_eval, held_out, eval_samples, K_)
                st.eval_time += time.perf_counter() - te
            h = st.history
            h["iteration"].append(st.it + 1)
            h["w1"].append(w1)
            h["critic_dual"].append(float(pot.w1))
            h["critic_steps"].append(sum(_count(oracle, k) - v for k, v in before.items()))
            h["critic_evaluations"].append(_count(oracle, "critic_updates") - before["critic_updates"]
                                           + st.grad_queries)
            h["generator_steps"].append(st.generator_steps)
            h["wall_time"].append(st.elapsed)
            h["displacement"].append(float(np.mean(np.linalg.norm(moved, axis=1))))
            h["target_displacement"].append(float(target * np.mean(np.linalg.norm(g, axis=1))))
            st.it += 1
            st.rng = rng.bit_generator.state
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
    if status != "success":
        logger.warning("train stopped: %s", message)
    history = {k: np.asarray(v, dtype=np.float64 if k in ("w1", "critic_dual", "wall_time", "displacement",
                                                          "target_displacement") else np.int64)
               for k, v in st.history.items()}
    return TrainResult(status=status, message=message, history=history, generator=generator, n_iter=st.it,
                       generator_steps=st.generator_steps,
                       critic_updates=_count(oracle, "critic_updates") - before["critic_updates"],
                       lp_solves=_count(oracle, "lp_solves") - before["lp_solves"], wall_time=st.elapsed,
                       eval_time=st.eval_time, config=config)


#: Divergence rule of :func:`train` (docs/reliability.md, "Divergence and growth"); see _diverged.
_OUTPUT_FACTOR = 1e3
_PARAM_FACTOR = 1e6
_DUAL_FACTOR = 1e3


def _radius(points, centre):
    """``max_i |p_i − centre|_∞`` (0 for no points; the ∞-norm cannot overflow on finite points)."""
    return float(np.max(np.abs(points - centre), initial=0.0))


def _norm(v):
    """The Euclidean norm of ``v``, without overflow for finite entries up to ~1e308."""
    m = float(np.max(np.abs(v), initial=0.0))
    return m * float(np.sqrt(np.sum((v / m) ** 2))) if 0.0 < m < np.inf else m


def _diverged(scale, new_out, theta, adam_v, dual, out, xd):
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
    r = _radius(new_out, centre)
    if r > _OUTPUT_FACTOR * S:
        return (f"the generator's outputs lie {r:.3g} from the data's centre, beyond {_OUTPUT_FACTOR:g} S = "
                f"{_OUTPUT_FACTOR * S:.3g} (S: radius of the data plus of the first outputs); lr is likely too "
                "large: lower lr")
    if not np.all(np.isfinite(adam_v)):
        return ("the optimiser's second moment overflowed (gradients beyond ~1e154, which freeze Adam's steps): "
                "W1-FE's Euler targets G(z) − dt ∇φ are likely too far: lower dt (or lr)")
    norm = _norm(theta)
    if norm > _PARAM_FACTOR * theta0:
        return (f"the generator's parameters exploded (|θ| = {norm:.3g}, {theta0:.3g} at the start, more than "
                f"{_PARAM_FACTOR:g} times); lr is likely too large: lower lr")
    cb = xd.mean(axis=0)
    bound = np.sqrt(xd.shape[1]) * (_radius(out, cb) + _radius(xd, cb))
    if abs(dual) > _DUAL_FACTOR * bound:
        return (f"the potential's W1 estimate on the batch is {dual:.3g}, more than {_DUAL_FACTOR:g} times the "
                f"largest distance between the batches ({bound:.3g}), which bounds W1: the critic diverged; "
                "lower the critic's learning rate")
    return None


def _eval_w1(theta, args, z_eval, held_out, k, K_):
    return _held_out_w1(K_.evaluate(theta, *args, z_eval), held_out, k)


# -- the evaluation protocol, shared with the plain WGAN-GP loop (torch_reference) -------------------
def _check_evaluation(held_out, eval_every, eval_samples, dim):
    """Validated ``held_out``, ``eval_every``, ``eval_samples``."""
    if held_out is not None:
        held_out = as_points(held_out, "held_out", dim=dim)
    if eval_every is not None:
        eval_every = as_int(eval_every, "eval_every", 1)
        if held_out is None:
            raise ValueError("eval_every needs held_out data to measure W1 against.")
    return held_out, eval_every, as_int(eval_samples, "eval_samples", 1)


def _check_latents(latent, eval_latent, eval_every, latent_dim):
    """Validated ``latent`` (source rows) and ``eval_latent``; evaluations with source latents need
    their own evaluation latents."""
    if latent is not None:
        latent = as_points(latent, "latent", dim=latent_dim)
    if eval_latent is not None:
        eval_latent = as_points(eval_latent, "eval_latent", dim=latent_dim)
    elif latent is not None and eval_every is not None:
        raise ValueError("with latent= the evaluations need their own latent points: pass eval_latent= (e.g. "
                         "held-out source images).")
    return latent, eval_latent


def _eval_latents(eval_latent, eval_samples, latent_dim, seed):
    """The fixed latent points of every W1 evaluation of a run."""
    if eval_latent is not None:
        return eval_latent
    return np.random.default_rng([seed, 1]).standard_normal((eval_samples, latent_dim))


def _evaluate_after(it, eval_every, n_iter):
    """Whether to evaluate after outer step ``it`` (0-based): every ``eval_every`` and after the last."""
    return eval_every is not None and ((it + 1) % eval_every == 0 or it + 1 == n_iter)


def _held_out_w1(generated, held_out, k):
    """Exact W1 between the generated points and the first k held-out points."""
    from ..metrics import w1

    return w1(generated, held_out[:k] if held_out.shape[0] >= k else held_out)


def _count(oracle, key):
    counters = getattr(oracle, "counters", None)
    return int(counters.get(key, 0)) if isinstance(counters, dict) else 0


def _write(checkpoint, run_id, st, status, generator):
    state = {f.name: getattr(st, f.name) for f in fields(st) if f.name not in ("theta", "oracle")}
    checkpoint.write({"fingerprint": run_id, "status": status, "k": st.it, "state": state,
                      "generator": generator.state_dict(), "oracle": st.oracle.state_dict()})
