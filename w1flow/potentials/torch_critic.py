"""A neural critic in torch: the potential oracle for particle flows and trainers on a GPU.

The critic φ_θ (an MLP) maximises the W1 dual objective over (approximately) 1-Lipschitz
functions, φ high on the particles and low on the data (the package's sign convention):

.. math::  \\max_θ\\; Σ_i a_i φ_θ(x_i) − Σ_j b_j φ_θ(y_j) \\;[\\,−\\,λ\\,E_{\\hat x}(|∇φ_θ(\\hat x)| − 1)^2\\,]

with ``lipschitz="gp"`` (a gradient penalty on random interpolates: WGAN-GP's two-sided
``(|∇φ| − 1)²``, whose slope can overshoot 1 by about W1/2λ, or with ``penalty_side="one-sided"``
the Lipschitz penalty ``max(|∇φ| − 1, 0)²`` of Petzka et al., ICLR 2018, the one the Numba
critic and the generator recipe use) or ``lipschitz="spectral"`` (every linear layer divided by its
spectral norm, computed exactly by an SVD at each step, with tanh activations: 1-Lipschitz by
construction). It runs ``n_critic`` Adam steps per call, warm-started from the previous call (a
moving cloud changes the potential a little per step; a fixed step count cannot track a cloud
that moves fast — see ``docs/critic.md`` on the Numba critic).

torch is imported when an instance is created, never by ``import w1flow``.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float, as_int, as_seed
from .base import Potential, PotentialOracle, validate_measures

__all__ = ["TorchCriticPotential", "TorchCritic"]


class TorchCritic(Potential):
    """A trained torch critic frozen as a potential object (callable, ``grad``, velocity)."""

    def __init__(self, x, a, net, oracle, w1, status, message):
        self.x, self.a, self._net, self._oracle = x, a, net, oracle
        self.w1, self.status, self.message = w1, status, message

    def value(self, z):
        o = self._oracle
        with o._torch.no_grad():
            return o._np(self._net(o._t(z)).squeeze(-1))

    def gradient(self, z):
        o = self._oracle
        zt = o._t(z).requires_grad_(True)
        (g,) = o._torch.autograd.grad(self._net(zt).sum(), zt)
        return o._np(g)


class TorchCriticPotential(PotentialOracle):
    """Kantorovich potentials from a torch MLP critic (see the module docstring).

    Parameters
    ----------
    hidden : sequence of int
        Hidden widths (``architecture="mlp"``).
    lipschitz : {"gp", "spectral"}
        Gradient penalty (``penalty`` = λ) or spectrally normalised layers (hard 1-Lipschitz;
        MLP only: an exact spectral norm of a convolution is not one SVD of its kernel).
    architecture : {"mlp", "dcgan"}
        A tanh MLP, or a DCGAN-style convolutional critic for images (two stride-2 4×4
        convolutions with LeakyReLU, no batch norm; :mod:`w1flow._torch_nets`), the points being
        images of ``image_shape`` flattened row-major.
    image_shape : (int, int)
        Height and width of the images (``"dcgan"``).
    channels : (int, int)
        The convolutions' channel widths (``"dcgan"``).
    batch_penalty : int
        Interpolates drawn for each gradient-penalty evaluation.
    penalty : float
        λ of the gradient penalty.
    penalty_side : {"two-sided", "one-sided"}
        ``"two-sided"`` (WGAN-GP, the default): ``λ (|∇φ| − 1)²``; ``"one-sided"``: ``λ max(|∇φ| − 1, 0)²``,
        which penalises only slopes above 1 (``docs/generative.md``, "The recipe": the Numba
        critic's one-sided penalty trained generators to 3× lower W1 than the two-sided one).
    n_critic : int
        Adam steps per call (after ``warmup`` steps at the first call).
    warmup : int
        Steps at the first call.
    lr : float
        Adam's learning rate (betas (0.5, 0.9)).
    seed : int
        Initial weights and interpolation draws.
    device : str, optional
        ``"cuda"`` when available, else ``"cpu"``.
    dtype : {"float64", "float32"}
    num_threads : int, optional
        torch's intra-op threads while the critic trains (restored afterwards); None uses the
        count of :func:`w1flow.set_num_threads` if it was called, else leaves torch's setting. Small critics on a busy CPU run several times faster on one thread
        (measured 9× on 2 shared cores).
    """

    def __init__(self, hidden=(64, 64), lipschitz="gp", penalty=10.0, n_critic=20, warmup=500, lr=1e-3, seed=0,
                 device=None, dtype="float64", num_threads=None, architecture="mlp", image_shape=(8, 8),
                 channels=(32, 64), batch_penalty=256, penalty_side="two-sided"):
        super().__init__()
        try:
            import torch
        except ImportError:
            raise ImportError("TorchCriticPotential needs PyTorch: pip install 'w1flow[torch]'.") from None
        if lipschitz not in ("gp", "spectral"):
            raise ValueError(f"lipschitz must be 'gp' or 'spectral'; got {lipschitz!r}.")
        if penalty_side not in ("two-sided", "one-sided"):
            raise ValueError(f"penalty_side must be 'two-sided' or 'one-sided'; got {penalty_side!r}.")
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32'; got {dtype!r}.")
        if architecture not in ("mlp", "dcgan"):
            raise ValueError(f"architecture must be 'mlp' or 'dcgan'; got {architecture!r}.")
        if architecture == "dcgan" and lipschitz == "spectral":
            raise ValueError("lipschitz='spectral' is exact for linear layers only; use lipschitz='gp' with "
                             "architecture='dcgan', or architecture='mlp'.")
        self.architecture = architecture
        self.image_shape = tuple(image_shape)
        self.channels = tuple(as_int(c, "channels", 1) for c in channels)
        self.batch_penalty = as_int(batch_penalty, "batch_penalty", 1)
        self.hidden = tuple(as_int(h, "hidden", 1) for h in hidden)
        self.lipschitz = lipschitz
        self.penalty = as_float(penalty, "penalty", 0.0)
        self.penalty_side = penalty_side
        self.n_critic = as_int(n_critic, "n_critic", 1)
        self.warmup = as_int(warmup, "warmup", 0)
        self.lr = as_float(lr, "lr", 0.0, low_open=True)
        self.seed = as_seed(seed)
        self.device = device
        self.dtype = dtype
        self.num_threads = None if num_threads is None else as_int(num_threads, "num_threads", 1)
        self._torch = torch
        self._dev = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self._dt = getattr(torch, dtype)
        self._net = None
        self.counters["critic_updates"] = 0

    def settings(self):
        """The options (not the trained weights). ``penalty_side`` is listed only when one-sided, so
        the fingerprints of runs made before it existed do not change."""
        out = {k: getattr(self, k) for k in ("hidden", "lipschitz", "penalty", "n_critic", "warmup", "lr", "seed",
                                             "device", "dtype", "num_threads", "architecture",
                                             "image_shape", "channels", "batch_penalty")}
        if self.penalty_side != "two-sided":
            out["penalty_side"] = self.penalty_side
        return out

    def reset(self):
        """Forget the trained critic and zero the counters."""
        super().reset()
        self._net = None

    def state_dict(self):
        """Counters, and once trained the network's weights, Adam's state and the penalty's random
        stream, as numpy arrays (a checkpoint holds no torch objects)."""
        d = super().state_dict()
        if self._net is None:
            return d
        arr = lambda t: t.detach().cpu().numpy().copy()  # noqa: E731
        opt = self._opt.state_dict()
        return {**d, "in_dim": self._in_dim, "net": {k: arr(v) for k, v in self._net.state_dict().items()},
                "opt_state": {int(p): {k: arr(v) if self._torch.is_tensor(v) else v for k, v in s.items()}
                              for p, s in opt["state"].items()},
                "opt_groups": opt["param_groups"], "gen": arr(self._gen.get_state())}

    def load_state(self, d):
        """Restore :meth:`state_dict` into this critic (of the same settings)."""
        super().load_state(d)
        if "net" not in d:
            self._net = None
            return
        torch = self._torch
        ten = lambda a: torch.from_numpy(np.array(a))  # noqa: E731  (a writable copy)
        net = self._build(int(d["in_dim"]))
        net.load_state_dict({k: ten(v).to(self._dev) for k, v in d["net"].items()})
        self._opt.load_state_dict({"state": {p: {k: ten(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
                                             for p, s in d["opt_state"].items()},
                                   "param_groups": d["opt_groups"]})
        self._gen.set_state(ten(d["gen"]))
        self._net = net

    # -- torch helpers -------------------------------------------------------------------------------
    def _t(self, a):
        return self._torch.as_tensor(np.ascontiguousarray(a), dtype=self._dt, device=self._dev)

    @staticmethod
    def _np(t):
        return t.detach().cpu().numpy().astype(np.float64)

    def _build(self, d):
        from .._torch_nets import critic_mlp, torch_module

        torch = self._torch
        gen = torch.Generator(device="cpu").manual_seed(int(self.seed or 0))
        if self.architecture == "dcgan":
            net = torch_module("dcgan_critic", in_dim=d, image_shape=self.image_shape, channels=self.channels,
                               seed=self.seed).to(device=self._dev, dtype=self._dt)
        else:
            net = critic_mlp(d, self.hidden, gen, spectral=self.lipschitz == "spectral", dtype=self._dt,
                             device=self._dev)
        self._opt = torch.optim.Adam(net.parameters(), lr=self.lr, betas=(0.5, 0.9))
        self._gen = gen  # the penalty's interpolates continue this stream
        self._in_dim = d
        return net

    def __call__(self, x, a, y, b, t=0.0):
        x, a, y, b = validate_measures(x, a, y, b)
        from ..threads import torch_thread_scope

        with torch_thread_scope(self.num_threads):  # the argument, else w1flow.set_num_threads's count
            return self._train(x, a, y, b)

    def _train(self, x, a, y, b):
        torch = self._torch
        first = self._net is None
        if first:
            self._net = self._build(x.shape[1])
        net, opt = self._net, self._opt
        xt, at, yt, bt = self._t(x), self._t(a), self._t(y), self._t(b)
        steps = self.warmup if first else self.n_critic
        for _ in range(steps):
            opt.zero_grad()
            gap = (net(xt).squeeze(-1) * at).sum() - (net(yt).squeeze(-1) * bt).sum()
            loss = -gap
            if self.lipschitz == "gp" and self.penalty > 0:
                nb = self.batch_penalty
                i = torch.multinomial(at.cpu(), nb, replacement=True, generator=self._gen).to(self._dev)
                j = torch.multinomial(bt.cpu(), nb, replacement=True, generator=self._gen).to(self._dev)
                eps = torch.rand(nb, 1, generator=self._gen).to(device=self._dev, dtype=self._dt)
                xh = (eps * xt[i] + (1 - eps) * yt[j]).requires_grad_(True)
                (g,) = torch.autograd.grad(net(xh).sum(), xh, create_graph=True)
                excess = g.norm(dim=1) - 1.0
                if self.penalty_side == "one-sided":
                    excess = excess.clamp(min=0.0)
                loss = loss + self.penalty * (excess ** 2).mean()
            loss.backward()
            opt.step()
        self.counters["critic_updates"] += steps
        self.counters["evaluations"] += 1
        with torch.no_grad():
            w1 = float((net(xt).squeeze(-1) * at).sum() - (net(yt).squeeze(-1) * bt).sum())
        ok = np.isfinite(w1)
        return TorchCritic(x, a, net, self, w1, "converged" if ok else "nonfinite",
                           f"{steps} Adam steps" if ok else "the critic's output is not finite; lower lr")

