"""Functions named by the example configs of this folder (``drift = "functions.py:mean_reverting"``).

A config names a function as ``"file.py:name"`` (relative to the config's folder) or
``"package.module:name"``; see :mod:`w1flow.config`.
"""

import numpy as np


def mean_reverting(x, w, t):
    """Attraction to the ensemble mean, ``b(x; μ) = −(x − E_μ[X])``."""
    return -(x - w @ x)


def rotation(x, w, t):
    """Attraction to the mean plus a rotation about it (a 2-D mean-field drift)."""
    d = x - w @ x
    return -d + np.stack([-d[:, 1], d[:, 0]], axis=1)


def harmonic_trap(q, v, w, t):
    """Particles in a harmonic trap, attracted to their mean: ``A(q) = −q − (q − E[q])``."""
    return -q - (q - w @ q)
