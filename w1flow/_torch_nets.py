"""The torch networks of the package, in one place: MLPs, DCGAN-style convolutional generator and
critic for small images, and a residual convolutional translator that starts as the identity.

Every builder returns an ``nn.Module`` whose initial weights depend only on ``seed`` (drawn
inside ``torch.random.fork_rng``, so the caller's torch random state is left alone) and that
holds no buffers: no batch normalisation. That keeps the networks batch-independent, which the
W1-FE targets need (an MSE step on one batch must not change G on another through batch
statistics) and which WGAN-GP's penalty needs in the critic (Gulrajani et al. drop batch norm in
the critic for the same reason).

Images are ``(n, H·W)`` rows (channel 1, row-major), as ``datasets.digits`` returns them; the
networks reshape internally. The DCGAN-style stacks use stride-2 4×4 (transposed) convolutions,
so H and W must be divisible by 4.

torch is imported by the builders only; ``import w1flow`` never imports this module's torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["torch_module", "critic_mlp", "NETWORKS", "import_torch"]

#: The network kinds :func:`torch_module` builds.
NETWORKS = ("mlp", "dcgan_generator", "dcgan_critic", "residual_translator")


def import_torch():
    """``import torch``, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError("this network needs PyTorch: pip install 'w1flow[torch]' (CPU wheel: "
                          "pip install torch==2.13.0; on a GPU machine, the CUDA build from pytorch.org).") from None
    return torch


def _image_shape(image_shape, dim=None):
    if (not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2
            or not all(isinstance(s, (int, np.integer)) and s > 0 for s in image_shape)):
        raise ValueError(f"image_shape must be a pair of positive ints (height, width); got {image_shape!r}.")
    h, w = int(image_shape[0]), int(image_shape[1])
    if dim is not None and h * w != dim:
        raise ValueError(f"image_shape {image_shape} has {h * w} pixels but the data has {dim} coordinates; "
                         "pass the data's image shape.")
    return h, w


def torch_module(kind, *, in_dim, out_dim=1, hidden=(64, 64), image_shape=(8, 8), channels=(64, 32), seed=0,
                 activation="tanh"):
    """Build one of :data:`NETWORKS` (float64, CPU; move it with ``.to``).

    Parameters
    ----------
    kind : {"mlp", "dcgan_generator", "dcgan_critic", "residual_translator"}
        * ``"mlp"``: ``in_dim → hidden… → out_dim``, ``activation`` between layers;
        * ``"dcgan_generator"``: ``z (in_dim) → Linear → (c₀, H/4, W/4) → ReLU → ConvT(4, s2) →
          (c₁, H/2, W/2) → ReLU → ConvT(4, s2) → (1, H, W)``, linear output;
        * ``"dcgan_critic"``: ``(1, H, W) → Conv(4, s2) → (c₀, H/2, W/2) → LeakyReLU(0.2) →
          Conv(4, s2) → (c₁, H/4, W/4) → LeakyReLU(0.2) → Linear → 1``;
        * ``"residual_translator"``: ``x ↦ x + r(x)`` with ``r`` three 3×3 convolutions
          ``1 → c₀ → c₀ → 1`` (ReLU between), the last one **zero**: the identity at
          initialisation (a domain translation that starts from the source images).
    in_dim, out_dim : int
    hidden : sequence of int
        The MLP's hidden widths.
    image_shape : (int, int)
        Height and width of the images (the convolutional kinds).
    channels : (int, int)
        ``(c₀, c₁)``: channel widths (for the generator the first is the widest, as in DCGAN;
        for the critic the first is the narrowest).
    seed : int
    activation : {"tanh", "relu", "leaky_relu"}
        The MLP's activation.
    """
    torch = import_torch()
    nn = torch.nn
    if kind not in NETWORKS:
        raise ValueError(f"kind must be one of {NETWORKS}; got {kind!r}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed or 0))
        if kind == "mlp":
            acts = {"tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}
            if activation not in acts:
                raise ValueError(f"activation must be one of {tuple(acts)}; got {activation!r}.")
            sizes = [int(in_dim), *[int(h) for h in hidden], int(out_dim)]
            layers = []
            for i in range(len(sizes) - 1):
                layers.append(nn.Linear(sizes[i], sizes[i + 1]))
                if i < len(sizes) - 2:
                    layers.append(acts[activation]())
            net = nn.Sequential(*layers)
        else:
            c0, c1 = (int(c) for c in channels)
            if kind == "dcgan_generator":
                h, w = _image_shape(image_shape, out_dim)
                _divisible(h, w)
                net = nn.Sequential(
                    nn.Linear(int(in_dim), c0 * (h // 4) * (w // 4)), nn.Unflatten(1, (c0, h // 4, w // 4)), nn.ReLU(),
                    nn.ConvTranspose2d(c0, c1, 4, stride=2, padding=1), nn.ReLU(),
                    nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1), nn.Flatten())
            elif kind == "dcgan_critic":
                h, w = _image_shape(image_shape, in_dim)
                _divisible(h, w)
                net = nn.Sequential(
                    nn.Unflatten(1, (1, h, w)),
                    nn.Conv2d(1, c0, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                    nn.Conv2d(c0, c1, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                    nn.Flatten(), nn.Linear(c1 * (h // 4) * (w // 4), 1))
            else:
                h, w = _image_shape(image_shape, in_dim)
                if out_dim != in_dim:
                    raise ValueError(f"a residual translator maps images to images: out_dim ({out_dim}) must "
                                     f"equal in_dim ({in_dim}).")
                last = nn.Conv2d(c0, 1, 3, padding=1)
                nn.init.zeros_(last.weight)
                nn.init.zeros_(last.bias)
                net = _Residual(nn.Sequential(
                    nn.Unflatten(1, (1, h, w)),
                    nn.Conv2d(1, c0, 3, padding=1), nn.ReLU(),
                    nn.Conv2d(c0, c0, 3, padding=1), nn.ReLU(), last, nn.Flatten()), torch)
    return net.to(dtype=torch.float64)


def _divisible(h, w):
    if h % 4 or w % 4:
        raise ValueError(f"the DCGAN-style networks halve the image twice: height and width must be divisible "
                         f"by 4; got {h} × {w}.")


def _Residual(body, torch):
    class Residual(torch.nn.Module):
        """``x ↦ x + body(x)``."""

        def __init__(self, body):
            super().__init__()
            self.body = body

        def forward(self, x):
            return x + self.body(x)

    return Residual(body)


def critic_mlp(d, hidden, gen, spectral=False, dtype=None, device=None):
    """The critics' tanh MLP ``d → hidden… → 1``: weights N(0, 1/fan_in) drawn (in float32) from the
    torch generator ``gen``, zero biases; with ``spectral`` every layer is divided by its exact
    spectral norm (an SVD per forward pass, so 1-Lipschitz with tanh)."""
    torch = import_torch()
    sizes = [int(d), *[int(h) for h in hidden], 1]
    layers = []
    for i in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1])
        with torch.no_grad():
            lin.weight.copy_(torch.randn(lin.weight.shape, generator=gen) / np.sqrt(sizes[i]))
            lin.bias.zero_()
        if spectral:
            lin = _SpectralLinear(lin, torch)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers).to(device=device, dtype=dtype or torch.float64)


def _SpectralLinear(lin, torch):
    """A linear layer divided by its exact spectral norm (an SVD per forward pass): 1-Lipschitz."""

    class SpectralLinear(torch.nn.Module):
        def __init__(self, lin):
            super().__init__()
            self.lin = lin

        def forward(self, z):
            W = self.lin.weight
            s = torch.linalg.matrix_norm(W, ord=2)
            return torch.nn.functional.linear(z, W / torch.clamp(s, min=1.0), self.lin.bias)

    return SpectralLinear(lin)
