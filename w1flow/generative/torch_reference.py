"""A plain torch WGAN-GP loop: the baseline W1-FE's torch backend is measured against.

:func:`wgan_gp_reference` is the textbook algorithm (Gulrajani et al. 2017, Algorithm 1) written
directly in torch, with ``torch.optim.Adam`` for both networks and no w1flow machinery in the
loop: per outer step, ``n_critic`` critic updates on

.. math::  \\max_w\\; E\\,φ_w(G(z)) − E\\,φ_w(x) − λ\\,E_{\\hat x}(|∇φ_w(\\hat x)| − 1)^2

(the package's sign convention: φ high on the generated points, low on the data), then one
generator update on ``E φ_w(G(z))``. The networks are the ones :func:`~w1flow.generative.train`
uses: the :class:`~w1flow.generative.TorchGenerator` passed in, and the critic
:class:`~w1flow.potentials.torch_critic.TorchCriticPotential` builds with the same settings and
seed. It exists to answer two questions side by side: what does routing the same work through
``train(..., backend="torch")`` (numpy hand-offs, the oracle interface) cost in throughput, and how
many critic evaluations does W1-FE with persistency K need to reach the W1 this loop reaches.

``GPCritic(fresh_batches=True)`` (the textbook) draws a new latent and data batch for every
critic update; ``False`` reuses one pair per outer step, which is exactly the work of
``train(generator, data, TorchCriticPotential(...), WGAN())``. The batches, the generator's
optimiser, the evaluations (:mod:`w1flow.generative.evaluation`) and the result are ``train``'s.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from .._validation import as_bool, as_float, as_int, as_points
from .evaluation import diverged, divergence_scale, evaluate_after, evaluation_latents, held_out_w1, radius
from .options import Adam, as_backend, as_batches, as_evaluation
from .result import HISTORY, TrainResult, history_arrays

__all__ = ["wgan_gp_reference", "GPCritic"]


@dataclass(frozen=True)
class GPCritic:
    """The critic of :func:`wgan_gp_reference` and how it is trained.

    ``kind`` ``"dcgan"`` (``image_shape``, ``channels``) or ``"mlp"`` (a tanh MLP of widths
    ``hidden``), built exactly as ``TorchCriticPotential`` builds it with seed ``seed``;
    ``n_critic`` updates per generator update and ``warmup`` extra ones before the first;
    ``penalty`` λ of the two-sided gradient penalty; ``optimizer`` its Adam; ``fresh_batches``
    new batches for every critic update (textbook) or one pair per outer step.
    """

    kind: str = "dcgan"
    hidden: tuple = (64, 64)
    image_shape: tuple = (8, 8)
    channels: tuple = (32, 64)
    seed: int = 0
    n_critic: int = 5
    warmup: int = 0
    penalty: float = 10.0
    optimizer: Adam = None  # default: Adam at lr 1e-4, betas (0.5, 0.9), no schedule or average (torch's Adam)
    fresh_batches: bool = True

    def __post_init__(self):
        if self.kind not in ("dcgan", "mlp"):
            raise ValueError(f"GPCritic(kind=...) must be 'dcgan' or 'mlp'; got {self.kind!r}.")
        for name, low in (("n_critic", 1), ("warmup", 0)):
            object.__setattr__(self, name, as_int(getattr(self, name), f"GPCritic({name}=...)", low))
        object.__setattr__(self, "penalty", as_float(self.penalty, "GPCritic(penalty=...)", 0.0))
        if self.optimizer is None:
            object.__setattr__(self, "optimizer", plain_adam())
        if not isinstance(self.optimizer, Adam):
            raise TypeError(f"GPCritic(optimizer=...) must be an Adam(lr=..., betas=...); got {self.optimizer!r}.")
        _refuse_schedule(self.optimizer, "GPCritic(optimizer=...)")
        object.__setattr__(self, "fresh_batches", as_bool(self.fresh_batches, "GPCritic(fresh_batches=...)"))


def plain_adam():
    """The reference loop's Adam: lr 1e-4, betas (0.5, 0.9), a constant rate and no average (the
    loop is torch's own ``torch.optim.Adam``, which has neither)."""
    return Adam(lr=1e-4, betas=(0.5, 0.9), schedule="constant", ema=0.0)


def _refuse_schedule(optimizer, name):
    if optimizer.schedule != "constant" or optimizer.ema:
        raise ValueError(f"{name}: the plain torch loop runs torch's Adam at a constant rate and keeps no "
                         f"parameter average; pass Adam(lr=..., schedule='constant', ema=0.0), got {optimizer!r}.")


def wgan_gp_reference(generator, data, critic=None, *, n_iter=1000, batches=None, optimizer=None, evaluation=None,
                      backend="torch", num_threads=None):
    """Train ``generator`` with a plain torch WGAN-GP loop (see the module docstring).

    Parameters
    ----------
    generator : TorchGenerator
        Trained in place (its ``theta`` holds the result).
    data : array_like, shape (N, d)
    critic : GPCritic, optional
        The critic network and its training (default ``GPCritic()``).
    n_iter : int
        Generator updates (outer steps).
    batches, optimizer, evaluation
        As in :func:`~w1flow.generative.train` (``Batches``, ``Adam``, ``Evaluation``); the
        penalty's interpolates use ``batches.size`` too.
    backend : "torch" or TorchBackend
        The device (``"cuda"`` when available, else ``"cpu"``) and dtype.
    num_threads : int, optional
        torch's intra-op threads during the run (restored afterwards); None uses the count of
        :func:`w1flow.set_num_threads` if it was called, else leaves torch's setting.

    Returns
    -------
    TrainResult
        ``history`` has ``train``'s keys; ``critic_evaluations`` counts the critic updates plus
        one per generator update (its loss is a critic forward-and-backward on one batch);
        ``displacement`` is measured, ``target_displacement`` is NaN (no Euler target).
    """
    from .torch_generator import TorchGenerator

    if not isinstance(generator, TorchGenerator):
        raise TypeError(f"generator must be a TorchGenerator; got {type(generator).__name__}.")
    data = as_points(data, "data", dim=generator.out_dim)
    n_iter = as_int(n_iter, "n_iter", 0)
    critic = GPCritic() if critic is None else critic
    if not isinstance(critic, GPCritic):
        raise TypeError(f"critic must be a GPCritic(kind=..., n_critic=..., ...); got {critic!r}.")
    batches, optimizer = as_batches(batches), plain_adam() if optimizer is None else optimizer
    if not isinstance(optimizer, Adam):
        raise TypeError(f"optimizer must be an Adam(lr=..., betas=...) (the reference loop uses torch's Adam); "
                        f"got {optimizer!r}.")
    _refuse_schedule(optimizer, "optimizer")
    evaluation = as_evaluation(evaluation, generator.out_dim, generator.latent_dim, batches)
    backend = as_backend(backend)
    if backend is None:
        raise ValueError("wgan_gp_reference runs on torch: backend must be 'torch' or TorchBackend(...).")
    if num_threads is not None:
        num_threads = as_int(num_threads, "num_threads", 1)
    from ..threads import torch_thread_scope

    generator.ema_theta = None  # this loop keeps no average: an earlier training's must not answer for its samples
    status, message = "success", "Training ran every iteration."
    with torch_thread_scope(num_threads):  # the argument, else w1flow.set_num_threads's count
        loop = _Loop(generator, data, critic, batches, optimizer, evaluation, backend, n_iter)
        try:
            for it in range(n_iter):
                failed = loop.step(it, n_iter)
                if failed is not None:
                    status, message = failed
                    break
                if loop.bar is not None:
                    loop.bar.update(1)
        except KeyboardInterrupt:
            status, message = "interrupted", "Interrupted; the generator holds the last completed update."
        finally:
            if loop.bar is not None:
                loop.bar.close()
    generator.theta[:] = np.concatenate([p.detach().cpu().double().reshape(-1).numpy() for p in loop.G.parameters()])
    n_done = len(loop.hist["iteration"])
    config = dict(method="wgan_gp_reference", n_critic=critic.n_critic, lr=optimizer.lr, critic_lr=critic.optimizer.lr,
                  batch_size=batches.size, fresh_batches=critic.fresh_batches, dtype=backend.dtype, seed=batches.seed)
    return TrainResult(status=status, message=message, history=history_arrays(loop.hist), generator=generator,
                       n_iter=n_done, generator_steps=n_done, critic_updates=loop.updates, lp_solves=0,
                       wall_time=loop.elapsed, eval_time=loop.eval_time, config=config)


class _Loop:
    """The networks, optimisers, batch streams and counters of one :func:`wgan_gp_reference` call."""

    def __init__(self, generator, data, critic, batches, optimizer, evaluation, backend, n_iter):
        import torch

        from .._torch_nets import critic_mlp, torch_module

        self.torch, self.critic, self.evaluation, self.size = torch, critic, evaluation, batches.size
        dev = torch.device(backend.device if backend.device is not None else
                           ("cuda" if torch.cuda.is_available() else "cpu"))
        dt_ = getattr(torch, backend.dtype)
        self.dev, self.dt_, self.latent_dim = dev, dt_, generator.latent_dim
        self.G = generator.load_into(copy.deepcopy(generator.module)).to(device=dev, dtype=dt_)
        if critic.kind == "dcgan":
            D = torch_module("dcgan_critic", in_dim=generator.out_dim, image_shape=critic.image_shape,
                             channels=critic.channels, seed=critic.seed)
        else:
            D = critic_mlp(generator.out_dim, critic.hidden,
                           torch.Generator(device="cpu").manual_seed(int(critic.seed or 0)))
        self.D = D.to(device=dev, dtype=dt_)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=optimizer.lr, betas=tuple(optimizer.betas))
        copt = critic.optimizer
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=copt.lr, betas=tuple(copt.betas))
        self.rng = np.random.default_rng(batches.seed)
        self.tgen = torch.Generator(device="cpu").manual_seed(int(batches.seed))
        self.x_data = torch.as_tensor(data, dtype=dt_, device=dev)
        self.src = None if batches.latent is None else torch.as_tensor(batches.latent, dtype=dt_, device=dev)
        self.z_eval = torch.as_tensor(evaluation_latents(evaluation.latent, evaluation.samples, generator.latent_dim,
                                                         batches.seed), dtype=dt_, device=dev)
        self.hist = {k: [] for k in HISTORY}
        self.elapsed = self.eval_time = 0.0
        self.updates = 0
        self.centre = data.mean(axis=0)
        self.data_radius, self.scale = radius(data, self.centre), None  # train's divergence rule
        self.bar = None
        if evaluation.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=n_iter, desc="WGAN-GP (plain torch)", unit="it")

    def draw_z(self):
        torch, n = self.torch, self.size
        if self.src is None:
            return torch.as_tensor(self.rng.standard_normal((n, self.latent_dim)), dtype=self.dt_, device=self.dev)
        return self.src[torch.as_tensor(self.rng.integers(0, self.src.shape[0], n), device=self.dev)]

    def draw_x(self):
        return self.x_data[self.torch.as_tensor(self.rng.integers(0, self.x_data.shape[0], self.size), device=self.dev)]

    def fakes(self, z):
        with self.torch.no_grad():
            return self.G(z)

    def critic_step(self, fake, x):
        torch, D = self.torch, self.D
        self.opt_d.zero_grad()
        gap = D(fake).mean() - D(x).mean()
        eps = torch.rand(self.size, 1, generator=self.tgen).to(device=self.dev, dtype=self.dt_)
        xh = (eps * fake + (1 - eps) * x).requires_grad_(True)
        (g,) = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
        loss = -gap + self.critic.penalty * ((g.norm(dim=1) - 1.0) ** 2).mean()
        loss.backward()
        self.opt_d.step()
        return float(gap.detach())

    def step(self, it, n_iter):
        """One outer step (critic phase, generator update, checks, evaluation, history); None, or
        ``(status, message)`` when the run must stop."""
        torch, G, critic = self.torch, self.G, self.critic
        t0 = time.perf_counter()
        steps = critic.n_critic + (critic.warmup if it == 0 else 0)
        z, x = self.draw_z(), self.draw_x()
        fake = self.fakes(z)  # G does not change during the critic phase: one forward per batch
        for k in range(steps):
            if critic.fresh_batches and k > 0:
                z, x = self.draw_z(), self.draw_x()
                fake = self.fakes(z)
            gap = self.critic_step(fake, x)
        self.updates += steps
        z = self.draw_z()
        out = G(z)
        self.opt_g.zero_grad()
        self.D(out).mean().backward()
        self.opt_g.step()
        with torch.no_grad():
            new_out = G(z)
            moved = float((new_out - out.detach()).norm(dim=1).mean())
        self.elapsed += time.perf_counter() - t0
        failed = self.check(it, gap, out, new_out, fake, x)
        if failed is not None:
            return failed
        w1 = np.nan
        if evaluate_after(it, self.evaluation.every, n_iter):
            te = time.perf_counter()
            with torch.no_grad():
                gen = G(self.z_eval).cpu().numpy().astype(np.float64)
            w1 = held_out_w1(gen, self.evaluation.held_out, self.evaluation.samples)
            self.eval_time += time.perf_counter() - te
        for k, v in (("iteration", it + 1), ("w1", w1), ("critic_dual", gap), ("critic_steps", self.updates),
                     ("critic_evaluations", self.updates + it + 1), ("generator_steps", it + 1),
                     ("wall_time", self.elapsed), ("displacement", moved), ("target_displacement", np.nan)):
            self.hist[k].append(v)
        return None

    def check(self, it, gap, out, new_out, fake, x):
        """``train``'s checks (non-finite parameters or critic, its divergence rule) on this loop's
        batch, parameters, Adam state and critic gap."""
        torch = self.torch
        if not all(bool(torch.isfinite(p).all()) for p in self.G.parameters()):
            return "nonfinite", f"the generator's parameters are not finite at iteration {it}; lower lr"
        if not np.isfinite(gap):
            return "nonfinite", (f"the critic's output is not finite at iteration {it}; lower its learning rate "
                                 "(GPCritic(optimizer=Adam(lr=...)))")
        numpy_of = lambda t: t.detach().cpu().double().numpy()  # noqa: E731
        theta = np.concatenate([numpy_of(p).reshape(-1) for p in self.G.parameters()])
        if self.scale is None:
            self.scale = divergence_scale(self.centre, self.data_radius, numpy_of(out), theta)
        v_ok = all(bool(torch.isfinite(st["exp_avg_sq"]).all()) for st in self.opt_g.state.values()
                   if "exp_avg_sq" in st)
        why = diverged(self.scale, numpy_of(new_out), theta, np.array([0.0 if v_ok else np.inf]), gap,
                       numpy_of(fake), numpy_of(x))
        if why is not None:
            return "diverged", f"The run diverged at iteration {it}: {why}"
        return None
