"""Pairwise interaction drifts for :class:`~w1flow.MeanFieldODE`, in Numba, without N×N matrices.

A pairwise mean-field drift is

    b(x_i) = Σ_j w_j g(x_j − x_i),

with ``g`` a function of the difference of two particles' states. It covers the usual models:

* Kuramoto oscillators (phases θ, 1-D): ``g(d) = K sin(d)`` — :func:`kuramoto_kernel`, and the
  O(N) form through the order parameter, :class:`KuramotoCoupling`;
* Cucker–Smale flocking on the stacked state ``(x, v)`` (2·dim coordinates):
  ``g(dx, dv) = (0, K ψ(|dx|) dv)``, ``ψ(r) = (1 + r²)^(−β)`` — :func:`cucker_smale_kernel`;
* attraction–repulsion with the Morse potential ``U(r) = C_r e^(−r/l_r) − C_a e^(−r/l_a)``:
  ``g(d) = U'(|d|) d/|d|`` (the force −∇U on particle i from particle j) — :func:`morse_kernel`;
* any other: a Numba function ``g(diff, params, out)`` writing ``g(diff)`` into ``out``.

:class:`PairwiseInteraction` evaluates the sum in O(N²) time and O(N·d) memory, rows in
parallel (each row is written by one thread: no shared reduction). The loop is compiled once per
kernel and process (it closes over the kernel so that the kernel is inlined; closures are not
cached on disk, so the first call of a process compiles, about a second).
"""

from __future__ import annotations

import numba
import numpy as np

from .threads import ThreadChoice

__all__ = ["PairwiseInteraction", "KuramotoCoupling", "kuramoto_kernel", "cucker_smale_kernel", "morse_kernel"]


@numba.njit(cache=True)
def kuramoto_kernel(diff, params, out):
    """``K sin(d)`` coordinate-wise; ``params = (K,)``."""
    for k in range(diff.shape[0]):
        out[k] = params[0] * np.sin(diff[k])


@numba.njit(cache=True)
def cucker_smale_kernel(diff, params, out):
    """Velocity alignment on the state ``(x, v)``: ``(0, K (1 + |dx|²)^(−β) dv)``; ``params = (K, β)``.

    The state has 2·dim coordinates, positions first.
    """
    dim = diff.shape[0] // 2
    r2 = 0.0
    for k in range(dim):
        r2 += diff[k] * diff[k]
    psi = params[0] * (1.0 + r2) ** (-params[1])
    for k in range(dim):
        out[k] = 0.0
        out[dim + k] = psi * diff[dim + k]


@numba.njit(cache=True)
def morse_kernel(diff, params, out):
    """Morse force ``U'(r) d/r``, ``U(r) = C_r e^(−r/l_r) − C_a e^(−r/l_a)``; ``params = (C_a, l_a, C_r, l_r)``.

    ``U'(r) > 0`` (attraction toward j) where the attraction dominates; 0 at ``r = 0``.
    """
    r2 = 0.0
    for k in range(diff.shape[0]):
        r2 += diff[k] * diff[k]
    r = np.sqrt(r2)
    if r == 0.0:
        for k in range(diff.shape[0]):
            out[k] = 0.0
        return
    ca, la, cr, lr = params[0], params[1], params[2], params[3]
    du = -cr / lr * np.exp(-r / lr) + ca / la * np.exp(-r / la)
    for k in range(diff.shape[0]):
        out[k] = du * diff[k] / r


_COMPILED = {}

#: The choice of threads for the O(N²) loop (:class:`w1flow.threads.ThreadChoice`): on a machine
#: where another process keeps a core busy, a parallel region per drift evaluation can wait a
#: scheduler time slice each (docs/performance.md, "On a busy machine").
DRIFT_THREADS = ThreadChoice()


def _loop(kernel):
    """The O(N²) loop specialised to ``kernel`` (compiled once per kernel and process)."""
    loop = _COMPILED.get(kernel)
    if loop is None:
        @numba.njit(parallel=True)
        def loop(x, w, params):
            n, d = x.shape
            out = np.zeros((n, d))
            for i in numba.prange(n):  # row i is written by one thread only
                diff = np.empty(d)
                val = np.empty(d)
                for j in range(n):
                    for k in range(d):
                        diff[k] = x[j, k] - x[i, k]
                    kernel(diff, params, val)
                    for k in range(d):
                        out[i, k] += w[j] * val[k]
            return out

        _COMPILED[kernel] = loop
    return loop


class PairwiseInteraction:
    """The drift ``b(x_i) = Σ_j w_j g(x_j − x_i)`` as a callable ``drift(x, weights, t)``.

    Parameters
    ----------
    kernel : numba function
        ``g(diff, params, out)``: writes ``g(diff)`` (shape (d,)) into ``out``; ``diff`` is
        ``x_j − x_i``. Built-ins: :func:`kuramoto_kernel`, :func:`cucker_smale_kernel`,
        :func:`morse_kernel`.
    params : sequence of float
        Passed to the kernel (e.g. ``(K,)`` for Kuramoto).
    scale : float
        A factor on the whole sum (default 1).

    Examples
    --------
    >>> from w1flow import MeanFieldODE, RK4, simulate
    >>> from w1flow.interactions import PairwiseInteraction, morse_kernel
    >>> drift = PairwiseInteraction(morse_kernel, params=(1.0, 1.0, 0.5, 0.5))
    >>> res = simulate(MeanFieldODE(drift), x0, 1.0, 0.01, solver=RK4())  # doctest: +SKIP
    """

    def __init__(self, kernel, params=(), scale=1.0):
        if not isinstance(kernel, numba.core.registry.CPUDispatcher):
            raise TypeError("kernel must be a numba.njit function g(diff, params, out), e.g. "
                            f"w1flow.interactions.morse_kernel; got {kernel!r}.")
        self.kernel = kernel
        self.params = np.ascontiguousarray(np.atleast_1d(np.asarray(params, dtype=np.float64)))
        self.scale = float(scale)

    def __call__(self, x, weights, t):
        x = np.ascontiguousarray(x, dtype=np.float64)
        w = np.ascontiguousarray(weights, dtype=np.float64)
        pairs = x.shape[0] * x.shape[0]
        with DRIFT_THREADS(pairs) as rec:  # all threads or one, whichever its timing finds faster
            out = _loop(self.kernel)(x, w, self.params)
            rec.work = pairs
        if self.scale != 1.0:
            out *= self.scale
        return out

    def __repr__(self):
        return f"PairwiseInteraction({self.kernel.__name__}, params={self.params.tolist()}, scale={self.scale})"


class KuramotoCoupling:
    """The Kuramoto coupling ``K Σ_j w_j sin(θ_j − θ_i)`` in O(N), through the order parameter.

    With ``r e^{iψ} = Σ_j w_j e^{iθ_j}``, the sum is ``K r sin(ψ − θ_i)`` (the same as
    ``PairwiseInteraction(kuramoto_kernel, (K,))`` to round-off). Phases are a 1-D state.
    """

    def __init__(self, K):
        self.K = float(K)

    def order_parameter(self, theta, weights):
        """``r e^{iψ} = Σ_j w_j e^{iθ_j}`` (a complex number; ``r`` in [0, 1] measures synchrony)."""
        theta = np.asarray(theta, dtype=np.float64).reshape(-1)
        return complex(np.dot(weights, np.exp(1j * theta)))

    def __call__(self, x, weights, t):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 1:
            raise ValueError(f"KuramotoCoupling needs phases of shape (n, 1), got {x.shape}.")
        z = self.order_parameter(x[:, 0], weights)
        # Im(z e^{-iθ}) = Σ_j w_j sin(θ_j − θ_i), without the cancellation of r sin(ψ − θ)
        return self.K * (z.imag * np.cos(x) - z.real * np.sin(x))

    def __repr__(self):
        return f"KuramotoCoupling(K={self.K})"
