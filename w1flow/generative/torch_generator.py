"""Torch generator networks (DCGAN-style, residual translators, MLPs) for :func:`~w1flow.generative.train`.

A :class:`TorchGenerator` keeps its parameters where the trainer keeps every generator's: in one
flat float64 numpy vector ``theta`` (so checkpoints, the optimiser state and evaluations stay
backend-blind), and runs the network with :func:`torch.func.functional_call` on views of that
vector moved to the device. It trains with ``backend="torch"`` only (there are no Numba
convolution kernels).

Constructing one imports torch; ``import w1flow.generative`` does not.
"""

from __future__ import annotations

import numpy as np

from .._torch_nets import torch_module
from .._validation import as_int, as_points, as_rng, as_seed
from .generator import ThetaState

__all__ = ["TorchGenerator"]

_KINDS = {"dcgan": "dcgan_generator", "residual": "residual_translator", "mlp": "mlp"}


class TorchGenerator(ThetaState):
    """A generator ``z ↦ G_θ(z)`` built from a torch network, parameters in a flat numpy vector.

    Parameters
    ----------
    kind : {"dcgan", "residual", "mlp"}
        ``"dcgan"``: latent noise → image by two stride-2 transposed convolutions (no batch
        norm; see :mod:`w1flow._torch_nets`). ``"residual"``: image → image, ``x + r(x)`` with
        ``r``'s last convolution zero, so the generator **starts as the identity** (domain
        translation: the latent points are the source images, ``latent_dim = out_dim``).
        ``"mlp"``: ``hidden`` widths, ReLU.
    latent_dim : int
        Dimension of the latent points (the noise, or the source images for ``"residual"``).
    out_dim : int
        Dimension of the generated points (H·W for images).
    image_shape : (int, int)
        Height and width (the convolutional kinds).
    channels : (int, int)
        Channel widths ``(c₀, c₁)`` (``"residual"`` uses c₀).
    hidden : sequence of int
        Hidden widths (``"mlp"``).
    seed : int
        The initial weights (torch's default initialisation, seeded; the caller's torch random
        state is untouched).

    Attributes
    ----------
    theta : ndarray
        All parameters in one flat float64 vector, in ``module.named_parameters()`` order.
    """

    def __init__(self, kind="dcgan", latent_dim=16, out_dim=64, image_shape=(8, 8), channels=(64, 32),
                 hidden=(128, 128), seed=0):
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {tuple(_KINDS)}; got {kind!r}.")
        self.kind = kind
        self.latent_dim = as_int(latent_dim, "latent_dim", 1)
        self.out_dim = as_int(out_dim, "out_dim", 1)
        if kind == "residual" and self.latent_dim != self.out_dim:
            raise ValueError(f"a residual generator maps images to images: latent_dim ({self.latent_dim}) must equal "
                             f"out_dim ({self.out_dim}); its latent points are the source images.")
        self.image_shape = tuple(image_shape)
        self.channels = tuple(as_int(c, "channels", 1) for c in channels)
        self.hidden = tuple(as_int(h, "hidden", 1) for h in hidden)
        self.seed = as_seed(seed)
        self.module = torch_module(_KINDS[kind], in_dim=self.latent_dim, out_dim=self.out_dim, hidden=self.hidden,
                                   image_shape=self.image_shape, channels=self.channels, seed=self.seed,
                                   activation="relu")
        self._names, self._shapes, offs = [], [], [0]
        for name, p in self.module.named_parameters():
            self._names.append(name)
            self._shapes.append(tuple(p.shape))
            offs.append(offs[-1] + p.numel())
        self._offs = offs
        self.theta = np.concatenate([p.detach().double().reshape(-1).numpy()
                                     for p in self.module.parameters()]).astype(np.float64)
        # the trainer's kernel arguments: unused by this generator's forward (see torch_forward)
        self.offs = np.zeros(0, dtype=np.int64)
        self.sizes = np.zeros(0, dtype=np.int64)
        self._act = -1

    @property
    def n_params(self):
        return int(self.theta.size)

    def parameters_from(self, th):
        """``{name: view}`` of a flat torch parameter vector, for ``functional_call``."""
        return {n: th[self._offs[i]:self._offs[i + 1]].view(s) for i, (n, s) in enumerate(zip(self._names, self._shapes))}

    def torch_forward(self, th, Z):
        """``G_θ(Z)`` in torch, θ a flat tensor (on Z's device and dtype)."""
        from torch.func import functional_call

        return functional_call(self.module, self.parameters_from(th), (Z,))

    def load_into(self, module=None):
        """Copy ``theta`` into the parameters of ``module`` (default: this generator's own)."""
        import torch

        module = self.module if module is None else module
        with torch.no_grad():
            for i, p in enumerate(module.parameters()):
                p.copy_(torch.as_tensor(self.theta[self._offs[i]:self._offs[i + 1]].reshape(self._shapes[i]),
                                        dtype=p.dtype))
        return module

    def __call__(self, z, ema=True):
        """``G_θ(z)`` for latent points z of shape (n, latent_dim), in float64 on the CPU; with the
        averaged parameters ``ema_theta`` when training kept them (``ema=False``: the raw ``theta``)."""
        import torch

        z = as_points(z, "z", dim=self.latent_dim)
        with torch.no_grad():
            out = self.torch_forward(torch.as_tensor(self.sampling_theta(ema)), torch.as_tensor(z))
        return out.numpy().astype(np.float64)

    def sample(self, n, seed=None, ema=True):
        """n generated points from fresh standard normal latents (not for ``"residual"``: pass the
        source images to ``__call__``); the averaged parameters when kept."""
        if self.kind == "residual":
            raise ValueError("a residual translator maps source images: call it on them, G(x_source).")
        z = as_rng(seed).standard_normal((as_int(n, "n", 1), self.latent_dim))
        return self(z, ema=ema)

    def settings(self):
        return {"kind": self.kind, "latent_dim": self.latent_dim, "out_dim": self.out_dim,
                "image_shape": self.image_shape, "channels": self.channels, "hidden": self.hidden, "seed": self.seed}

    def __repr__(self):
        return "TorchGenerator(" + ", ".join(f"{k}={v!r}" for k, v in self.settings().items()) + ")"
