"""Synthetic point clouds, reproducible with ``seed`` (an int or ``np.random.Generator``)."""

from __future__ import annotations

import numpy as np

from ._validation import as_positive_float, as_positive_int

__all__ = ["gaussian_blob", "eight_gaussians", "rng_from"]


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
