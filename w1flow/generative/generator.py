"""The generator: a small MLP ``G_θ : R^{d_z} → R^d`` with hand-written Numba forward/backward."""

from __future__ import annotations

import numpy as np

from .._validation import as_int, as_points, as_rng, as_seed
from ..potentials.critic import mlp_layout
from .recipe import RECIPE

__all__ = ["MLPGenerator"]

_ACTIVATIONS = {"tanh": 0, "relu": 1}


def numba_kernels():
    """The Numba kernels of the generator's passes and optimiser (:mod:`._kernels`)."""
    # Imported lazily so that ``import w1flow`` does not pay for numba.
    from . import _kernels

    return _kernels


def _layout(sizes):
    """Offsets of W_l, b_l (l = 0 … L) in the flat parameter vector; total size."""
    offs, o = mlp_layout(sizes)
    return np.asarray(offs, dtype=np.int64), o


class ThetaState:
    """The checkpoint state protocol of a generator whose parameters are one flat array ``theta``
    (``MLPGenerator``, ``TorchGenerator``), with the moving average ``ema_theta`` that
    :func:`~w1flow.generative.train` keeps when its optimiser asks for one (``Adam(ema=...)``);
    ``None`` otherwise. Sampling uses the average when there is one."""

    ema_theta = None

    def sampling_theta(self, ema=True):
        """The parameters samples are drawn with: ``ema_theta`` if kept (and ``ema``), else ``theta``."""
        return self.ema_theta if ema and self.ema_theta is not None else self.theta

    def state_dict(self):
        """The parameters ``theta`` and the average ``ema_theta`` if kept (copies): a checkpoint's
        generator state (its settings are fingerprinted)."""
        d = {"theta": self.theta.copy()}
        if self.ema_theta is not None:
            d["ema_theta"] = self.ema_theta.copy()
        return d

    def load_state(self, d):
        """Copy saved parameters into ``theta`` (in place: views of it stay valid) and the average
        into ``ema_theta`` (None when the state has none)."""
        theta = np.asarray(d["theta"], dtype=np.float64)
        if theta.shape != self.theta.shape:
            raise ValueError(f"saved parameters have shape {theta.shape}, this generator's {self.theta.shape}.")
        ema = d.get("ema_theta")
        if ema is not None:
            ema = np.array(ema, dtype=np.float64)
            if ema.shape != self.theta.shape:
                raise ValueError(f"saved averaged parameters have shape {ema.shape}, this generator's "
                                 f"{self.theta.shape}.")
        self.theta[:] = theta
        self.ema_theta = ema


class MLPGenerator(ThetaState):
    """A multilayer perceptron generator ``z ↦ G_θ(z)`` with a linear output layer.

    Parameters
    ----------
    latent_dim : int
        Dimension of the latent noise z (standard normal).
    out_dim : int
        Dimension of the generated points (the data's).
    hidden : sequence of int
        Hidden widths; default the recipe's ``(64, 64)``.
    activation : {"relu", "tanh"}
        Hidden activation.
    seed : int, Generator or None
        Source of the initial weights (He/Glorot-style normal, zero biases).

    Attributes
    ----------
    theta : ndarray
        All parameters in one flat float64 vector (the optimisers update it in place).
    """

    def __init__(self, latent_dim=2, out_dim=2, hidden=RECIPE["hidden"], activation="relu", seed=None):
        self.latent_dim = as_int(latent_dim, "latent_dim", 1)
        self.out_dim = as_int(out_dim, "out_dim", 1)
        hidden = (hidden,) if isinstance(hidden, int) and not isinstance(hidden, bool) else hidden
        if not isinstance(hidden, (tuple, list)):
            raise TypeError(f"hidden must be a sequence of positive ints, got {hidden!r}.")
        self.hidden = tuple(as_int(h, "hidden", 1) for h in hidden)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}.")
        self.activation = activation
        self.seed = as_seed(seed)
        self.sizes = np.asarray([self.latent_dim, *self.hidden, self.out_dim], dtype=np.int64)
        self.offs, n_par = _layout(list(self.sizes))
        self._act = _ACTIVATIONS[activation]
        rng = as_rng(self.seed)
        self.theta = np.zeros(n_par)
        gain = 2.0 if activation == "relu" else 1.0
        for l in range(len(self.sizes) - 1):
            fan_in = self.sizes[l]
            W = self.weight(l)
            W[:] = rng.standard_normal(W.shape) * np.sqrt(gain / fan_in)

    @property
    def n_params(self):
        return int(self.theta.size)

    def weight(self, l):
        """A view of layer l's weight matrix, shape ``(sizes[l+1], sizes[l])``."""
        o = self.offs[2 * l]
        return self.theta[o:o + self.sizes[l + 1] * self.sizes[l]].reshape(self.sizes[l + 1], self.sizes[l])

    def bias(self, l):
        """A view of layer l's bias."""
        o = self.offs[2 * l + 1]
        return self.theta[o:o + self.sizes[l + 1]]

    def __call__(self, z, ema=True):
        """``G_θ(z)`` for latent points z of shape (n, latent_dim); with the averaged parameters
        ``ema_theta`` when training kept them (``ema=False``: the raw ``theta``)."""
        z = as_points(z, "z", dim=self.latent_dim)
        return numba_kernels().evaluate(self.sampling_theta(ema), self.offs, self.sizes, self._act, z)

    def sample(self, n, seed=None, ema=True):
        """n generated points from fresh standard normal latents (the averaged parameters when kept)."""
        z = as_rng(seed).standard_normal((as_int(n, "n", 1), self.latent_dim))
        return self(z, ema=ema)

    def settings(self):
        return {"latent_dim": self.latent_dim, "out_dim": self.out_dim, "hidden": self.hidden,
                "activation": self.activation, "seed": self.seed}

    def __repr__(self):
        return "MLPGenerator(" + ", ".join(f"{k}={v!r}" for k, v in self.settings().items()) + ")"
