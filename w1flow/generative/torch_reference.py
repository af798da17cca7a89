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
``train(backend="torch")`` (numpy hand-offs, the oracle interface) cost in throughput, and how
many critic evaluations does W1-FE with persistency K need to reach the W1 this loop reaches.

``fresh_batches=True`` (the textbook) draws a new latent and data batch for every critic update;
``False`` reuses one pair per outer step, which is exactly the work of
``train(method="wgan", potential=TorchCriticPotential(...))``.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from .._validation import as_bool, as_float, as_int, as_points
from .evaluation import diverged as _diverged, evaluate_after as _evaluate_after, \
    evaluation_latents as _eval_latents, held_out_w1 as _held_out_w1, norm as _norm, radius as _radius
from .options import Evaluation
from .result import HISTORY as _HISTORY, TrainResult


def _check_evaluation(held_out, eval_every, eval_samples, dim):  # TEMPORARY until the rewrite
    ev = Evaluation(held_out=held_out, every=eval_every, samples=eval_samples)
    return ev.held_out, ev.every, ev.samples


def _check_latents(latent, eval_latent, eval_every, latent_dim):  # TEMPORARY
    return latent, eval_latent

__all__ = ["wgan_gp_reference"]


def wgan_gp_reference(generator, data, *, n_iter=1000, batch_size=256, n_critic=5, warmup=0, penalty=10.0,
                      lr=1e-4, critic_lr=1e-4, betas=(0.5, 0.9), critic="dcgan", critic_hidden=(64, 64),
                      image_shape=(8, 8), channels=(32, 64), critic_seed=0, fresh_batches=True, held_out=None,
                      eval_every=None, eval_samples=500, latent=None, eval_latent=None, seed=0, device=None,
                      dtype="float64", num_threads=None, progress=False):
    """Train ``generator`` with a plain torch WGAN-GP loop (see the module docstring).

    Parameters
    ----------
    generator : TorchGenerator
        Trained in place (its ``theta`` holds the result).
    data : array_like, shape (N, d)
    n_iter : int
        Generator updates (outer steps).
    batch_size : int
        Generated and real points per batch (and interpolates of the penalty).
    n_critic, warmup : int
        Critic updates per generator update; extra critic updates before the first one.
    penalty : float
        λ of the two-sided gradient penalty.
    lr, critic_lr : float
        Adam learning rates of the generator and the critic (``betas`` for both).
    critic : {"dcgan", "mlp"}
        The critic network (``image_shape``, ``channels``) or a tanh MLP (``critic_hidden``),
        built exactly as ``TorchCriticPotential`` builds it with seed ``critic_seed``.
    fresh_batches : bool
        New batches for every critic update (textbook) or one pair per outer step.
    held_out, eval_every, eval_samples, latent, eval_latent, seed
        As in :func:`~w1flow.generative.train`.
    device : str, optional
        ``"cuda"`` when available, else ``"cpu"``.
    dtype : {"float64", "float32"}
    num_threads : int, optional
        torch's intra-op threads during the run (restored afterwards); None uses the count of
        :func:`w1flow.set_num_threads` if it was called, else leaves torch's setting.
    progress : bool

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
    batch_size = as_int(batch_size, "batch_size", 1)
    n_critic = as_int(n_critic, "n_critic", 1)
    warmup = as_int(warmup, "warmup", 0)
    penalty = as_float(penalty, "penalty", 0.0)
    lr = as_float(lr, "lr", 0.0, low_open=True)
    critic_lr = as_float(critic_lr, "critic_lr", 0.0, low_open=True)
    fresh_batches = as_bool(fresh_batches, "fresh_batches")
    if critic not in ("dcgan", "mlp"):
        raise ValueError(f"critic must be 'dcgan' or 'mlp'; got {critic!r}.")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32'; got {dtype!r}.")
    held_out, eval_every, eval_samples = _check_evaluation(held_out, eval_every, eval_samples, generator.out_dim)
    latent, eval_latent = _check_latents(latent, eval_latent, eval_every, generator.latent_dim)
    import torch

    from .._torch_nets import critic_mlp, torch_module

    dev = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    dt_ = getattr(torch, dtype)
    from ..threads import torch_threads

    threads = torch.get_num_threads()
    n = torch_threads(None if num_threads is None else as_int(num_threads, "num_threads", 1))
    if n is not None:  # the argument, else w1flow.set_num_threads's count
        torch.set_num_threads(n)
    G = generator.load_into(copy.deepcopy(generator.module)).to(device=dev, dtype=dt_)
    if critic == "dcgan":
        D = torch_module("dcgan_critic", in_dim=generator.out_dim, image_shape=image_shape, channels=channels,
                         seed=critic_seed)
    else:
        D = critic_mlp(generator.out_dim, critic_hidden, torch.Generator(device="cpu").manual_seed(int(critic_seed or 0)))
    D = D.to(device=dev, dtype=dt_)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=tuple(betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=critic_lr, betas=tuple(betas))
    rng = np.random.default_rng(seed)
    tgen = torch.Generator(device="cpu").manual_seed(int(seed))
    x_data = torch.as_tensor(data, dtype=dt_, device=dev)
    src = None if latent is None else torch.as_tensor(latent, dtype=dt_, device=dev)
    z_eval = torch.as_tensor(_eval_latents(eval_latent, eval_samples, generator.latent_dim, seed), dtype=dt_, device=dev)

    def draw_z():
        if src is None:
            return torch.as_tensor(rng.standard_normal((batch_size, generator.latent_dim)), dtype=dt_, device=dev)
        return src[torch.as_tensor(rng.integers(0, src.shape[0], batch_size), device=dev)]

    def draw_x():
        return x_data[torch.as_tensor(rng.integers(0, x_data.shape[0], batch_size), device=dev)]

    def fakes(z):
        with torch.no_grad():
            return G(z)

    def critic_step(fake, x):
        opt_d.zero_grad()
        gap = D(fake).mean() - D(x).mean()
        eps = torch.rand(batch_size, 1, generator=tgen).to(device=dev, dtype=dt_)
        xh = (eps * fake + (1 - eps) * x).requires_grad_(True)
        (g,) = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
        loss = -gap + penalty * ((g.norm(dim=1) - 1.0) ** 2).mean()
        loss.backward()
        opt_d.step()
        return float(gap.detach())

    hist = {k: [] for k in _HISTORY}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_iter, desc="WGAN-GP (plain torch)", unit="it")
    elapsed = eval_time = 0.0
    updates = 0
    centre = data.mean(axis=0)
    radius, scale = _radius(data, centre), None  # train's divergence rule (see trainer._diverged)
    status, message = "success", "Training ran every iteration."
    try:
        for it in range(n_iter):
            t0 = time.perf_counter()
            steps = n_critic + (warmup if it == 0 else 0)
            z, x = draw_z(), draw_x()
            fake = fakes(z)  # G does not change during the critic phase: one forward per batch
            for k in range(steps):
                if fresh_batches and k > 0:
                    z, x = draw_z(), draw_x()
                    fake = fakes(z)
                gap = critic_step(fake, x)
            updates += steps
            z = draw_z()
            out = G(z)
            opt_g.zero_grad()
            D(out).mean().backward()
            opt_g.step()
            with torch.no_grad():
                new_out = G(z)
                moved = float((new_out - out.detach()).norm(dim=1).mean())
            elapsed += time.perf_counter() - t0
            if not all(bool(torch.isfinite(p).all()) for p in G.parameters()):  # as train checks θ each step
                status, message = "nonfinite", f"the generator's parameters are not finite at iteration {it}; lower lr"
                break
            if not np.isfinite(gap):
                status, message = "nonfinite", (f"the critic's output is not finite at iteration {it}; lower "
                                                "critic_lr")
                break
            # train's divergence rule (trainer._diverged), on this loop's batch, parameters, Adam state
            # and critic gap
            numpy_of = lambda t: t.detach().cpu().double().numpy()  # noqa: E731
            theta = np.concatenate([numpy_of(p).reshape(-1) for p in G.parameters()])
            if scale is None:
                scale = (centre, radius + _radius(numpy_of(out), centre), max(_norm(theta), 1.0))
            v_ok = all(bool(torch.isfinite(st["exp_avg_sq"]).all()) for st in opt_g.state.values() if "exp_avg_sq" in st)
            why = _diverged(scale, numpy_of(new_out), theta, np.array([0.0 if v_ok else np.inf]), gap,
                            numpy_of(fake), numpy_of(x))
            if why is not None:
                status, message = "diverged", f"The run diverged at iteration {it}: {why}"
                break
            w1 = np.nan
            if _evaluate_after(it, eval_every, n_iter):
                te = time.perf_counter()
                with torch.no_grad():
                    gen = G(z_eval).cpu().numpy().astype(np.float64)
                w1 = _held_out_w1(gen, held_out, eval_samples)
                eval_time += time.perf_counter() - te
            for k, v in (("iteration", it + 1), ("w1", w1), ("critic_dual", gap), ("critic_steps", updates),
                         ("critic_evaluations", updates + it + 1), ("generator_steps", it + 1),
                         ("wall_time", elapsed), ("displacement", moved), ("target_displacement", np.nan)):
                hist[k].append(v)
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        status, message = "interrupted", "Interrupted; the generator holds the last completed update."
    finally:
        if bar is not None:
            bar.close()
        torch.set_num_threads(threads)
    generator.theta[:] = np.concatenate([p.detach().cpu().double().reshape(-1).numpy() for p in G.parameters()])
    history = {k: np.asarray(v, dtype=np.float64 if k in ("w1", "critic_dual", "wall_time", "displacement",
                                                          "target_displacement") else np.int64)
               for k, v in hist.items()}
    n_done = len(hist["iteration"])
    return TrainResult(status=status, message=message, history=history, generator=generator, n_iter=n_done,
                       generator_steps=n_done, critic_updates=updates, lp_solves=0, wall_time=elapsed,
                       eval_time=eval_time, config=dict(method="wgan_gp_reference", n_critic=n_critic, lr=lr,
                                                        critic_lr=critic_lr, batch_size=batch_size,
                                                        fresh_batches=fresh_batches, dtype=dtype, seed=seed))

