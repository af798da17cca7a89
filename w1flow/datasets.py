"""Synthetic point clouds, reproducible with ``seed`` (an int or ``np.random.Generator``), and the 8×8
digits of scikit-learn (offline) for the high-dimensional generator tasks."""

from __future__ import annotations

import numpy as np

from ._validation import as_positive_float, as_positive_int

__all__ = ["gaussian_blob", "eight_gaussians", "twenty_five_gaussians", "two_moons", "swiss_roll", "ring", "digits",
           "rng_from", "transform_digits", "random_mixture", "random_mixture_spec"]


def rng_from(seed):
    """A ``np.random.Generator`` from an int, None or a Generator (returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def gaussian_blob(n, center=(3.0, 0.0), std=0.5, seed=None):
    """n samples of N(center, std² I), shape (n, d) with d = len(center)."""
    n = as_positive_int(n, "n")
    std = as_positive_float(std, "std")
    center = np.atleast_1d(np.asarray(center, dtype=np.float64))
    rng = rng_from(seed)
    return center + std * rng.standard_normal((n, center.size))


def eight_gaussians(n, radius=2.0, std=0.05, seed=None):
    """n samples from 8 equal Gaussians (std ``std``) centred on a circle of radius ``radius``.

    Samples are spread as evenly as possible over the 8 modes (mode ``i % 8`` for sample i).
    """
    n = as_positive_int(n, "n")
    radius = as_positive_float(radius, "radius")
    std = as_positive_float(std, "std")
    rng = rng_from(seed)
    angles = 2 * np.pi * (np.arange(n) % 8) / 8
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centers + std * rng.standard_normal((n, 2))


def twenty_five_gaussians(n, spacing=1.0, std=0.05, seed=None):
    """n samples from 25 equal Gaussians (std ``std``) on a 5 × 5 grid ``spacing · {−2, …, 2}²``.

    Samples are spread as evenly as possible over the modes (mode ``i % 25`` for sample i).
    """
    n = as_positive_int(n, "n")
    spacing = as_positive_float(spacing, "spacing")
    std = as_positive_float(std, "std")
    rng = rng_from(seed)
    k = np.arange(n) % 25
    centers = spacing * np.stack([k % 5 - 2.0, k // 5 - 2.0], axis=1)
    return centers + std * rng.standard_normal((n, 2))


def random_mixture_spec(family_seed):
    """The Gaussian mixture number ``family_seed`` of a seeded random family of 2-D targets.

    From ``np.random.default_rng([family_seed, 31])``: a number of modes k uniform in {2, …, 8};
    means uniform in the square [−2, 2]²; each covariance ``R diag(s₁², s₂²) Rᵀ`` with a uniform
    rotation R and standard deviations s uniform in [0.05, 0.5]; weights Dirichlet(2, …, 2).

    Returns a dict with ``means`` (k, 2), ``covs`` (k, 2, 2), ``weights`` (k,) and ``connected``:
    whether the modes form one cluster when two modes are linked if their means lie within
    ``2 (σ_i + σ_j)`` of each other (σ the mode's largest standard deviation), i.e. the density
    has no gap wider than about two standard deviations between groups of modes. This predicate
    is ours; it says which targets a generator of a connected latent can fill without leaving
    mass on bridges.
    """
    if isinstance(family_seed, bool) or not isinstance(family_seed, (int, np.integer)) or family_seed < 0:
        raise ValueError(f"family_seed must be an integer >= 0, got {family_seed!r}.")
    rng = np.random.default_rng([int(family_seed), 31])
    k = int(rng.integers(2, 9))
    means = rng.uniform(-2.0, 2.0, (k, 2))
    sds = rng.uniform(0.05, 0.5, (k, 2))
    angles = rng.uniform(0.0, np.pi, k)
    weights = rng.dirichlet(np.full(k, 2.0))
    covs = np.empty((k, 2, 2))
    for i in range(k):
        c, s_ = np.cos(angles[i]), np.sin(angles[i])
        R = np.array([[c, -s_], [s_, c]])
        covs[i] = R @ np.diag(sds[i] ** 2) @ R.T
    reach = sds.max(axis=1)
    linked = np.linalg.norm(means[:, None] - means[None], axis=2) <= 2.0 * (reach[:, None] + reach[None])
    from scipy.sparse.csgraph import connected_components

    n_groups = connected_components(linked, directed=False)[0]
    return {"means": means, "covs": covs, "weights": weights, "connected": bool(n_groups == 1)}


def random_mixture(n, family_seed=100, seed=None):
    """n samples of the Gaussian mixture ``family_seed`` of the random family
    (:func:`random_mixture_spec`); the mode of each sample is drawn by the weights."""
    n = as_positive_int(n, "n")
    spec = random_mixture_spec(family_seed)
    rng = rng_from(seed)
    modes = rng.choice(spec["weights"].size, size=n, p=spec["weights"])
    chol = np.linalg.cholesky(spec["covs"])
    return spec["means"][modes] + np.einsum("nij,nj->ni", chol[modes], rng.standard_normal((n, 2)))


def two_moons(n, noise=0.05, seed=None):
    """n samples of two interleaving half circles (scikit-learn's ``make_moons``, in numpy).

    The upper moon is the unit half circle ``(cos s, sin s)``, ``s ∈ [0, π]``, the lower one
    ``(1 − cos s, 1/2 − sin s)``; ``⌈n/2⌉`` and ``⌊n/2⌋`` points evenly spaced in s, plus Gaussian
    noise of std ``noise``. Centred at the origin (shifted by (−1/2, −1/4)).
    """
    n = as_positive_int(n, "n")
    noise = float(noise)
    rng = rng_from(seed)
    n_up = (n + 1) // 2
    n_down = n - n_up
    s_up, s_down = np.linspace(0, np.pi, n_up), np.linspace(0, np.pi, n_down)
    up = np.stack([np.cos(s_up), np.sin(s_up)], axis=1)
    down = np.stack([1 - np.cos(s_down), 0.5 - np.sin(s_down)], axis=1)
    out = np.concatenate([up, down]) + np.array([-0.5, -0.25])
    return out + noise * rng.standard_normal(out.shape) if noise > 0 else out


def swiss_roll(n, noise=0.05, scale=0.25, seed=None):
    """n samples of the 2-D swiss roll: ``s (cos s, sin s) · scale`` for ``s ~ 1.5π (1 + 2U)``.

    ``U`` uniform on [0, 1] (scikit-learn's ``make_swiss_roll`` projected on its (x, z) plane),
    plus Gaussian noise of std ``noise``; ``scale`` 0.25 gives a radius of about 3.5.
    """
    n = as_positive_int(n, "n")
    scale = as_positive_float(scale, "scale")
    rng = rng_from(seed)
    s = 1.5 * np.pi * (1 + 2 * rng.random(n))
    out = scale * s[:, None] * np.stack([np.cos(s), np.sin(s)], axis=1)
    return out + noise * rng.standard_normal(out.shape) if noise > 0 else out


def ring(n, radius=1.5, std=0.05, seed=None):
    """n samples near the circle of radius ``radius`` (uniform angle, radial noise ``std``)."""
    n = as_positive_int(n, "n")
    radius = as_positive_float(radius, "radius")
    rng = rng_from(seed)
    ang = 2 * np.pi * rng.random(n)
    r = radius + std * rng.standard_normal(n)
    return np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1)


def digits(split="train", n_held_out=500, seed=0):
    """scikit-learn's 8×8 handwritten digits (1,797 images, shipped with scikit-learn: no download).

    Parameters
    ----------
    split : {"train", "held_out", "all"}
        ``"held_out"`` is ``n_held_out`` images drawn once (by ``seed``), kept apart for
        evaluation; ``"train"`` the rest.
    n_held_out : int
        Size of the held-out split.
    seed : int
        Seed of the split.

    Returns
    -------
    x : ndarray, shape (n, 64)
        Pixel intensities scaled to [0, 1] (the raw data has 0 … 16).
    labels : ndarray of int, shape (n,)

    Raises
    ------
    ImportError
        Without scikit-learn (``pip install "w1flow[data]"``).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError('digits() needs scikit-learn: pip install "w1flow[data]".') from None
    if split not in ("train", "held_out", "all"):
        raise ValueError(f"split must be 'train', 'held_out' or 'all'; got {split!r}.")
    data = load_digits()
    x = np.ascontiguousarray(data.data, dtype=np.float64) / 16.0
    labels = np.asarray(data.target, dtype=np.int64)
    if split == "all":
        return x, labels
    n = x.shape[0]
    if not 0 < int(n_held_out) < n:
        raise ValueError(f"n_held_out must be between 1 and {n - 1}; got {n_held_out}.")
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(seed).choice(n, int(n_held_out), replace=False)] = True
    mask = held if split == "held_out" else ~held
    return x[mask], labels[mask]


#: The image transforms of :func:`transform_digits`.
DIGIT_TRANSFORMS = ("thicken", "blur", "rotate")


def transform_digits(x, kind="thicken", angle=20.0, sigma=0.7):
    """Restyle 8×8 digits (rows of 64 pixels in [0, 1]): the source domain of a translation task.

    Parameters
    ----------
    x : array_like, shape (n, 64)
        Images as :func:`digits` returns them.
    kind : {"thicken", "blur", "rotate"}
        ``"thicken"``: a grey dilation over 2×2 neighbourhoods (every stroke one pixel wider,
        each pixel the maximum of its block: the result is ≥ the image pixel by pixel);
        ``"blur"``: a Gaussian filter of width ``sigma`` pixels; ``"rotate"``: rotation by
        ``angle`` degrees about the centre (bilinear, zero outside), clipped to [0, 1].
    angle, sigma : float

    Returns
    -------
    ndarray, shape (n, 64)
    """
    from scipy import ndimage

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 64:
        raise ValueError(f"x must have shape (n, 64) (8×8 digits); got {x.shape}.")
    if kind not in DIGIT_TRANSFORMS:
        raise ValueError(f"kind must be one of {DIGIT_TRANSFORMS}; got {kind!r}.")
    imgs = x.reshape(-1, 8, 8)
    if kind == "thicken":
        out = ndimage.grey_dilation(imgs, size=(1, 2, 2))
    elif kind == "blur":
        out = ndimage.gaussian_filter(imgs, sigma=(0, float(sigma), float(sigma)))
    else:
        out = np.clip(ndimage.rotate(imgs, float(angle), axes=(2, 1), reshape=False, order=1, mode="constant"), 0, 1)
    return np.ascontiguousarray(out.reshape(-1, 64), dtype=np.float64)
