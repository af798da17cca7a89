"""A seeded Brownian path that can be queried at any time, the same at every step size.

Strong convergence of an SDE scheme is measured by running it at several step sizes **on the same
Brownian path** and comparing the endpoints. :class:`BrownianPath` is that path: ``W(t)`` is a
deterministic function of the seed and ``t``, built by Brownian-bridge refinement (Lévy's
construction, a "virtual Brownian tree" in the terms of Li et al. 2020 and diffrax), so a run with
``dt = 2^-k`` and a run with ``dt = 2^-(k+1)`` see increments that add up exactly (up to
round-off): the coarse increment over ``[t, t + 2h]`` is the sum of the two fine increments.

Construction. On each unit interval ``[k, k + 1]`` of time, ``W(k + 1) − W(k) ~ N(0, 1)``. The
value at the dyadic point ``k + i 2^{-l}`` (``i`` odd) is the bridge between its neighbours at
level ``l − 1``:

.. math::  W(k + i 2^{-l}) = \\tfrac12\\big(W(k + (i − 1) 2^{-l}) + W(k + (i + 1) 2^{-l})\\big)
           + \\sqrt{2^{-l}/2}\\; Z_{k,l,i},

with ``Z`` drawn from a generator seeded by ``(seed, k, l, i)`` only, so the value does not
depend on which other times were queried, or in which order. A time that is not dyadic at
level ``max_level`` (30 by default: 2^-30 ≈ 9.3e-10 time units) is linearly interpolated between
its two neighbouring nodes at that level: the variance of an increment over ``h`` is then short
by at most 2^-30/2, a relative 5e-6 at ``h = 1e-4``. Nodes and the values ``W(k)`` at integer
times are cached (least recently used first out) and every array kept counts against
``cache_bytes``: at most half of it holds ``W(k)`` at multiples of a stride that doubles as
time grows, the rest is the cache, so a run to any physical time stays within the budget.

Cost. A dyadic step size ``dt = 2^-k`` (and dyadic save times) makes every query a node at level
``k``, reached from cached ancestors: two draws of ``shape`` normals per step. Any other step
size descends to ``max_level``: about ``2·max_level`` draws per step (10 ms at 20,000 particles).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from ._validation import as_int, as_nonnegative_float

__all__ = ["BrownianPath"]


class BrownianPath:
    """A Brownian motion with values in ``R^shape``, seeded, queried at any time ``t >= 0``.

    Parameters
    ----------
    shape : tuple of int
        Shape of ``W(t)``, e.g. ``(n, m)``: n particles with m independent components each.
    seed : int
        Different seeds give independent paths; the same seed the same path.
    max_level : int
        Dyadic depth of the tree below each unit interval (times finer than ``2^-max_level``
        are interpolated).
    cache_bytes : int
        Memory budget of everything the path keeps (cached nodes and ``W(k)`` at integer times).
        With a budget of B arrays, ``W(k)`` costs at most ``2k/B`` draws once ``k`` was reached;
        0 keeps nothing, so every ``W(k)`` is recomputed from ``W(0)`` (k draws).

    Examples
    --------
    >>> W = BrownianPath((3, 1), seed=0)
    >>> dW = W.increment(0.25, 0.5)     # W(0.5) − W(0.25), shape (3, 1)
    >>> np.allclose(W.increment(0.25, 0.375) + W.increment(0.375, 0.5), dW)
    True
    """

    def __init__(self, shape, seed=0, max_level=30, cache_bytes=256 * 2**20):
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        self.shape = tuple(as_int(s, "shape", 1) for s in shape)
        self.seed = as_int(seed, "seed", 0)
        self.max_level = as_int(max_level, "max_level", 1)
        if self.max_level > 60:
            raise ValueError(f"max_level must be at most 60 (2^-60 time units); got {max_level}.")
        self.cache_bytes = as_int(cache_bytes, "cache_bytes", 0)
        self._nbytes = int(np.prod(self.shape)) * 8
        # W(k) at integers: W(0) = 0 and anchors W(k) at multiples of _stride (kept, at most half
        # the budget: the stride doubles when they would exceed it); other W(k) live in the LRU
        # cache with the nodes, under the key (k, 0, 0).
        self._anchors = {}
        self._max_anchors = self.cache_bytes // 2 // self._nbytes
        self._stride = 1
        self._top = 0  # the largest integer time reached
        self._cache = OrderedDict()

    def __call__(self, t):
        """``W(t)``, an array of shape ``self.shape`` (a new array)."""
        t = as_nonnegative_float(t, "t")
        k = int(math.floor(t))
        frac = t - k
        if frac == 0.0:
            return self._end(k).copy()
        scaled = math.ldexp(frac, self.max_level)
        lo = int(math.floor(scaled))
        memo = {}  # this query's nodes: each is computed once even when the cache keeps none
        if lo == scaled:  # dyadic at max_level: reduce to the coarsest level holding it
            return self._node(k, self.max_level, lo, memo).copy()
        left = self._node(k, self.max_level, lo, memo)
        right = self._node(k, self.max_level, lo + 1, memo)
        theta = scaled - lo
        return left + theta * (right - left)

    def increment(self, s, t):
        """``W(t) − W(s)`` (shape ``self.shape``), for ``0 <= s <= t``."""
        if t < s:
            raise ValueError(f"increment(s, t) needs s <= t; got s={s}, t={t}.")
        return self(t) - self(s)

    # -- the tree ---------------------------------------------------------------------------------
    def _normal(self, *key):
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=key)
        return np.random.default_rng(seq).standard_normal(self.shape)

    def _end(self, k):
        """W(k) at an integer time k: the same sum ``Σ_{j<k} ξ_j`` in the same order every time.

        It starts from the nearest stored W(j), j <= k (an anchor, or a cached value; W(0) = 0)
        and adds the unit increments ``ξ_j`` one by one, so the value is bitwise the same
        whichever j it starts from. Everything stored counts against ``cache_bytes``: anchors at
        multiples of a stride take at most half of it (the stride doubles, dropping every other
        anchor, when they would take more), so W(1e6) keeps a bounded number of arrays and a
        later W(k) costs at most ``stride`` draws.
        """
        j, w = k, None
        while j > 0:
            w = self._anchors.get(j)
            if w is None:
                w = self._cache.get((j, 0, 0))
            if w is not None:
                break
            j -= 1
        if w is None:
            w = np.zeros(self.shape)
        while j < k:
            w = w + self._normal(j, 0, 0)
            j += 1
            self._store_end(j, w)
        return w

    def _store_end(self, j, w):
        if self._max_anchors and j % self._stride == 0 and j > self._top:
            self._top = j
            self._anchors[j] = w
            while len(self._anchors) > self._max_anchors:
                self._stride *= 2
                self._anchors = {i: v for i, v in self._anchors.items() if i % self._stride == 0}
            if j in self._anchors:
                return
        self._remember((j, 0, 0), w)

    def _remember(self, key, value):
        """Keep ``value`` in the LRU cache within what the anchors leave of ``cache_bytes``."""
        room = self.cache_bytes - len(self._anchors) * self._nbytes
        if room >= self._nbytes:
            self._cache[key] = value
            while len(self._cache) * self._nbytes > room:
                self._cache.popitem(last=False)

    def _node(self, k, level, i, memo):
        """W at ``k + i 2^-level`` (0 <= i <= 2^level)."""
        while level > 0 and i % 2 == 0:  # the same point at a coarser level
            level, i = level - 1, i // 2
        if level == 0:
            return self._end(k + i)
        key = (k, level, i)
        hit = memo.get(key)
        if hit is None:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is not None:
            return hit
        left = self._node(k, level, i - 1, memo)
        right = self._node(k, level, i + 1, memo)
        value = 0.5 * (left + right) + math.sqrt(math.ldexp(0.5, -level)) * self._normal(k, level, i)
        memo[key] = value
        self._remember(key, value)
        return value

    def __repr__(self):
        return f"BrownianPath(shape={self.shape}, seed={self.seed})"
