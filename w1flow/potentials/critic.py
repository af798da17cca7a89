"""A neural Kantorovich potential: a small MLP critic trained in Numba, warm-started along a flow.

The critic φ_θ approximates the Kantorovich potential by maximising the dual objective of W1
over (approximately) 1-Lipschitz networks:

.. math::  \\max_θ \\; Σ_i a_i φ_θ(x_i) − Σ_j b_j φ_θ(y_j)\\;[\\,−\\,λ\\, E_{\\hat x}(|∇φ_θ(\\hat x)| − 1)^2\\,].

Sign convention (the package's): φ is **high on the particles x and low on the data y**, i.e.
φ = −f for a WGAN critic f. Particles move with ``−∇φ``, toward the data.

Two ways to keep φ_θ 1-Lipschitz:

``lipschitz="gp"`` (WGAN-GP, Gulrajani et al. 2017)
    A two-sided gradient penalty on interpolates ``x̂ = ε x_i + (1 − ε) y_j``, ``ε ~ U[0, 1]``.
    Its parameter gradient needs the mixed derivatives ∂θ∂x φ, hand-derived in
    :mod:`w1flow.potentials._critic_kernels`. The Lipschitz constant is only *encouraged* to be
    1; :attr:`NeuralCriticPotential.lipschitz` estimates it from gradient norms.
``lipschitz="hard"`` (Anil et al. 2019, "Sorting out Lipschitz function approximation")
    GroupSort (MaxMin) activations and weight matrices kept exactly orthonormal by Björck
    iterations run to convergence after every Adam step, and a unit-norm output vector. The
    network is then 1-Lipschitz by construction; :meth:`CriticPotential.certified_lipschitz`
    returns the product of the layers' spectral norms (≤ 1 up to round-off).

Units: φ has the units of the coordinates (a 1-Lipschitz function of positions), so the dual
value estimates W1 in those units and ``−∇φ`` is a dimensionless unit-speed velocity.
"""

from __future__ import annotations

import contextlib
import numbers

import numpy as np

from ..lp import row_chunks
from .._validation import as_float, as_int, as_points, as_rng, as_seed, as_weights
from .base import Potential, PotentialOracle

__all__ = ["CriticPotential", "NeuralCriticPotential", "critic_lipschitz_estimate"]

_ACTIVATIONS = {"tanh": 0, "groupsort": 1, "maxmin": 1}
_CHUNK_STEPS = 256  # random numbers are drawn for at most this many steps at a time


def _kernels():
    # Imported lazily so that ``import w1flow`` does not pay for numba.
    from . import _critic_kernels

    return _critic_kernels


_BLAS_CONTROLLER = []  # [threadpoolctl.ThreadpoolController] or [None], built on first use


def _single_thread_blas():
    """Context manager limiting BLAS to one thread around the critic kernels.

    The kernels' products are small ``dgemm`` calls (numba's ``np.dot`` → scipy's BLAS): a
    single thread is fastest for them on a shared machine, where multithreaded OpenBLAS can
    stall for milliseconds when a core is busy. Uses ``threadpoolctl`` if it is installed (it
    comes with scikit-learn, ``pip install threadpoolctl`` otherwise); without it this is a
    no-op and the BLAS thread count is whatever the environment sets (e.g.
    ``OPENBLAS_NUM_THREADS=1``). Results are the same either way (OpenBLAS splits a product's
    output, not its sums, between threads), only the speed differs.
    """
    if not _BLAS_CONTROLLER:
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (load the BLAS numba calls)
            from threadpoolctl import ThreadpoolController

            _BLAS_CONTROLLER.append(ThreadpoolController())
        except Exception:  # threadpoolctl missing or unable to inspect the libraries
            _BLAS_CONTROLLER.append(None)
    ctl = _BLAS_CONTROLLER[0]
    if ctl is None:
        return contextlib.nullcontext()
    return ctl.limit(limits=1, user_api="blas")


def mlp_layout(sizes):
    """Offsets of W_l, b_l (l = 0 … L−1) of a dense MLP with layer widths ``sizes`` in one flat
    parameter vector, and its total size (the critic and the generators share this layout)."""
    offs, o = [], 0
    for l in range(len(sizes) - 1):
        offs.append(o)
        o += sizes[l + 1] * sizes[l]
        offs.append(o)
        o += sizes[l + 1]
    return offs, o


def _layout(sizes):
    """Offsets of W_l, b_l (l = 0 … L−1) and the output weights w in the flat parameter vector; total size."""
    offs, o = mlp_layout(sizes)
    return np.asarray(offs + [o], dtype=np.int64), o + sizes[-1]


def _views(theta, sizes, offs):
    """Weights ``[(W_l, b_l), …]`` and output vector ``w`` as views into ``theta``."""
    layers = []
    for l in range(len(sizes) - 1):
        W = theta[offs[2 * l]:offs[2 * l] + sizes[l + 1] * sizes[l]].reshape(sizes[l + 1], sizes[l])
        b = theta[offs[2 * l + 1]:offs[2 * l + 1] + sizes[l + 1]]
        layers.append((W, b))
    w = theta[offs[-1]:offs[-1] + sizes[-1]]
    return layers, w


def _certified(theta, sizes, offs):
    layers, w = _views(theta, sizes, offs)
    out = float(np.linalg.norm(w))
    for W, _ in layers:
        out *= float(np.linalg.norm(W, 2))
    return out


class NeuralCriticPotential(Potential):
    """A frozen neural potential φ_θ (returned by :class:`CriticPotential`).

    Attributes beyond :class:`Potential`:

    Attributes
    ----------
    y, b : ndarray
        The data and its weights.
    theta : ndarray
        Read-only copy of the flat parameter vector.
    w1 : float
        Dual value ``Σ a_i φ(x_i) − Σ b_j φ(y_j)`` on the measures it was trained on. A lower
        bound of W1 when φ is 1-Lipschitz; with the gradient penalty prefer
        :attr:`w1_normalized`.
    lipschitz : float
        Lipschitz constant: the certified bound (product of spectral norms) for the hard
        network, otherwise the largest ``|∇φ|`` over the particles, the data and interpolates
        between random particle/data pairs (an estimate from below).
    w1_normalized : float
        ``w1 / lipschitz``: the dual value of the rescaled, (estimated) 1-Lipschitz ``φ/L``.
    support_lipschitz, w1_lower_bound : float
        The exact Lipschitz constant of φ restricted to the supports (all pairs), and
        ``w1 / support_lipschitz``, a guaranteed lower bound of W1.
    status, message : str
        ``"converged"`` when training produced finite values, ``"nonfinite"`` otherwise.
    """

    def __init__(self, x, a, y, b, theta, sizes, offs, act, hard, status, message, info, unit_speed=False):
        self.x, self.a, self.y, self.b = x, a, y, b
        self.unit_speed = unit_speed
        self.theta = theta
        self.theta.setflags(write=False)
        self._sizes, self._offs, self._act, self.hard = sizes, offs, act, hard
        self.status, self.message = status, message
        self.info = info
        self._velocity = None
        self._lipschitz = None
        self.w1 = float("nan")
        if status == "converged":
            px = self.value(x)
            py = self.value(y)
            self.w1 = float(np.dot(a, px) - np.dot(b, py))
            if not np.isfinite(self.w1):
                self.status, self.message = "nonfinite", "the critic's values are not finite"

    # -- evaluation -------------------------------------------------------------------------
    def _eval(self, z, want_grad):
        K = _kernels()
        z = np.ascontiguousarray(z, dtype=np.float64)
        with _single_thread_blas():
            return K.critic_eval(self.theta, self._offs, self._sizes, self._act, z, want_grad)

    def value(self, z):
        """φ(z) for points of shape (k, d)."""
        return self._eval(z, False)[0]

    def gradient(self, z):
        """∇φ(z), shape (k, d)."""
        return self._eval(z, True)[1]

    @property
    def velocity(self):
        """``−∇φ`` at the particles, or with ``velocity="unit"`` its direction ``−∇φ/|∇φ|``.

        The exact W1 flow moves every particle at unit speed along its transport ray; a
        penalised critic's gradient norm drifts above 1 near the data (particles overshoot) and
        a hard critic's falls below 1 (particles crawl). The unit-speed velocity keeps the
        critic's direction and the exact flow's speed (0 where the gradient vanishes).
        """
        if self._velocity is None:
            V = -self.gradient(self.x)
            if self.unit_speed:
                norm = np.sqrt(np.einsum("ij,ij->i", V, V))
                V = np.divide(V, norm[:, None], out=np.zeros_like(V), where=norm[:, None] > 0)
            V.setflags(write=False)
            self._velocity = V
        return self._velocity

    def value_and_gradient(self, z):
        """``(φ(z), ∇φ(z))`` in one pass."""
        z = as_points(z, "z", dim=self.x.shape[1])
        return self._eval(z, True)

    # -- Lipschitz -------------------------------------------------------------------------
    def certified_lipschitz(self):
        """Product of the layers' spectral norms (``np.linalg.norm(W, 2)``) and ``|w|``.

        A guaranteed upper bound of the Lipschitz constant (tanh and MaxMin are 1-Lipschitz).
        For the hard network it is 1 up to round-off; for the penalised one it is usually loose.
        """
        return _certified(self.theta, self._sizes, self._offs)

    @property
    def lipschitz(self):
        """Lipschitz constant (certified for ``hard``, estimated from gradients otherwise).

        The estimate is the largest ``|∇φ|`` where the penalty acts and the particles travel:
        over the particles, the data and 2048 random interpolates ``ε x_i + (1 − ε) y_j``,
        refined by a short gradient ascent of ``|∇φ|²`` (finite differences, shrinking steps)
        from the 16 largest. An estimate from below of the Lipschitz constant there (not on the
        whole plane: far from the particles and the data the critic is unconstrained, and its
        gradient there moves no particle); tested not to miss a larger norm found by 50,000
        independent interpolates. The health monitor reads it after every step.
        """
        if self._lipschitz is None:
            if self.hard:
                self._lipschitz = self.certified_lipschitz()
            else:
                self._lipschitz = self._gradient_norm_max()
        return self._lipschitz

    def _gradient_norm_max(self, k=2048, top=16, iters=10):
        rng = np.random.default_rng(0)
        n, m = self.x.shape[0], self.y.shape[0]
        e = rng.random((k, 1))
        q = e * self.x[rng.integers(0, n, k)] + (1 - e) * self.y[rng.integers(0, m, k)]
        pts = np.concatenate([self.x, self.y, q])

        def sq_norms(z):
            g = self.gradient(z)
            return np.einsum("ij,ij->i", g, g)

        g2 = sq_norms(pts)
        best = float(g2.max())
        z = pts[np.argsort(g2)[-top:]]
        lo = np.minimum(self.x.min(axis=0), self.y.min(axis=0))
        hi = np.maximum(self.x.max(axis=0), self.y.max(axis=0))
        size = float(np.max(hi - lo)) or 1.0
        step, h = 0.02 * size, 1e-4 * size
        for _ in range(iters):  # ascend |∇φ|² from the largest (finite differences), shorter steps
            base = sq_norms(z)
            slope = np.stack([(sq_norms(z + h * unit) - base) / h for unit in np.eye(z.shape[1])], axis=1)
            norm = np.linalg.norm(slope, axis=1, keepdims=True)
            z_new = np.clip(z + step * slope / np.maximum(norm, 1e-300), lo, hi)
            g2n = sq_norms(z_new)
            up = g2n > base
            z[up] = z_new[up]
            best = max(best, float(g2n.max()))
            step *= 0.7
        return float(np.sqrt(best))

    @property
    def w1_normalized(self):
        """``w1 / lipschitz``: the dual value of ``φ / L``."""
        return self.w1 / self.lipschitz if self.lipschitz > 0 else float("nan")

    @property
    def support_lipschitz(self):
        """Exact Lipschitz constant of φ on the supports: ``max |φ(p) − φ(q)| / |p − q|``.

        Over all pairs of distinct points of ``supp μ ∪ supp μ_d`` (positive weights), in row
        chunks of at most 32 MB. This is the constant that matters for the dual bound: φ/L_supp
        is 1-Lipschitz on the supports and extends (McShane) to a 1-Lipschitz function on R^d
        with the same values there, so :attr:`w1_lower_bound` is a guaranteed lower bound of W1.
        """
        if getattr(self, "_support_lipschitz", None) is None:
            from scipy.spatial.distance import cdist

            pts = np.concatenate([self.x[self.a > 0], self.y[self.b > 0]])
            vals = self.value(pts)
            best = 0.0
            for sl in row_chunks(pts.shape[0], pts.shape[0]):
                D = cdist(pts[sl], pts)
                F = np.abs(vals[sl, None] - vals[None, :])
                pos = D > 0
                if np.any(pos):
                    best = max(best, float(np.max(F[pos] / D[pos])))
            self._support_lipschitz = best
        return self._support_lipschitz

    @property
    def w1_lower_bound(self):
        """``w1 / support_lipschitz``: a certified lower bound of the exact W1 (see above)."""
        L = self.support_lipschitz
        return self.w1 / L if L > 0 else float("nan")

    def __repr__(self):
        return (f"NeuralCriticPotential(n={self.x.shape[0]}, d={self.x.shape[1]}, "
                f"w1={self.w1:.6g}, status={self.status!r})")


class CriticPotential(PotentialOracle):
    """Oracle: a small MLP critic trained by Adam in Numba, kept and warm-started between calls.

    Each call ``oracle(x, a, y, b, t)`` continues training (a warm start) on

    .. math::  \\mathcal L(θ) = −\\Big(Σ_i α_i φ_θ(x_i) − Σ_j β_j φ_θ(y_j)\\Big)
                + λ \\frac1K Σ_k \\max\\big(|∇_x φ_θ(\\hat x_k)| − 1, 0\\big)^2,

    (α, β the weights, or uniform weights on minibatches drawn from ``a``, ``b``; the penalty
    only for ``lipschitz="gp"``) and returns the resulting :class:`NeuralCriticPotential`.
    φ is high on the particles and low on the data; the particle velocity is ``−∇φ(x_i)``, by
    default at unit speed.

    **The defaults are chosen by measurement** (``benchmarks/critic_validation.py --only
    flows``, ``docs/critic.md``): critic-driven Euler flows of 500 particles from N((3, 0),
    0.25 I) to 8 Gaussians, 25 Gaussians, two moons and a swiss roll, dt = 0.05 to T = 2 W1(0),
    3 seeds. With the 0.1 defaults (two-sided penalty, 10 updates per call, −∇φ) they ended at an
    exact W1 of 0.28–0.91; the hard critic at 0.14–0.38 (0.08–0.26 with 50 updates). With the
    one-sided penalty (Petzka et al., "On the regularization of Wasserstein GANs", ICLR 2018),
    the stopping rule and unit speed they end at 0.05–0.07, within 3× the exact Euler flow's W1
    plus 0.05; a held-out target and start, used by no tuning run, is in the docs.

    Parameters
    ----------
    hidden : sequence of int
        Hidden widths (1–3 layers of width 32–256 are sensible; even for GroupSort). The default
        (48, 48) flows as well as (64, 64) (final W1 0.052/0.079 against 0.049/0.077 on 8
        Gaussians and the swiss roll) in 18 s instead of 22 s at n = 500.
    activation : {"tanh", "groupsort"}, optional
        Hidden activation. Default: ``"tanh"`` for ``lipschitz="gp"``, ``"groupsort"`` (MaxMin
        on pairs) for ``lipschitz="hard"``.
    lipschitz : {"gp", "hard"}
        ``"gp"``: a gradient penalty with weight ``gp_lambda`` (Gulrajani et al., "Improved
        training of Wasserstein GANs", 2017). ``"hard"``: orthonormal weights (Björck after every
        step) and unit output vector, 1-Lipschitz by construction (Anil et al., "Sorting out
        Lipschitz function approximation", 2019).
    gp_lambda : float
        Penalty weight λ >= 0 (dimensionless, the WGAN-GP default 10). Ignored for ``"hard"``.
    penalty : {"one-sided", "two-sided"}
        ``"one-sided"``: penalise only gradient norms above 1 (the Lipschitz penalty, LP); the
        two-sided WGAN-GP penalty pushes norms up to 1 away from the data too, where the
        Kantorovich potential is flatter, and drove the 0.1 flows past their targets.
    penalty_points : {"interpolates", "all"}
        Where the penalty is evaluated: interpolates of random particle/data pairs, or those
        plus every particle and data point (measured: no better, twice the cost).
    lr : float
        Adam step size (in parameter units; the update of each parameter is at most about
        ``lr`` per step).
    betas : (float, float)
        Adam's decay rates (β1, β2) in [0, 1). WGAN-GP uses (0, 0.9) or (0.5, 0.9).
    n_critic : "auto" or int
        ``"auto"``: train each call until the objective (the dual for ``"hard"``, the penalised
        dual for ``"gp"``, averaged over a window of ``window`` updates) improves by less than
        ``tol`` (relative) from one window to the next, with at least ``min_critic`` and at most
        ``max_critic`` updates; the first call trains to convergence (the same rule over windows
        of ``10 · window`` updates, at least two of them, at most ``n_warmup`` updates). An int:
        that many updates per call (a fixed schedule).
    n_warmup : int
        The first call's updates (fixed schedule) or their cap (``"auto"``);
        0 means ``n_critic`` (fixed) or ``max_critic`` (``"auto"``).
    tol, window, min_critic, max_critic : float, int, int, int
        The stopping rule of ``n_critic="auto"`` (see above). The potential's ``info["steps"]``
        reports the updates used.
    velocity : {"unit", "gradient"}
        The particles' velocity: ``−∇φ/|∇φ|`` (``"unit"``, the exact flow's unit speed with the
        critic's direction) or ``−∇φ``. A penalised critic's gradient norm drifts above 1 near
        the data (particles overshoot), a hard critic's below 1 (they crawl). Unit speed keeps
        Euler's first and Heun's second order on a smooth frozen critic (tested).
    batch_size : int, optional
        Minibatch size for particles and data (drawn with probabilities ``a``, ``b``). Default
        (None): full batch, the exact weighted objective.
    gp_batch_size : int, optional
        Number of interpolates per step; default ``batch_size`` or ``max(n, m)``.
    seed : int, numpy.random.Generator or None
        Source of the initial weights, minibatches and interpolates. Same int seed and same
        calls ⇒ bitwise identical weights.
    adam_eps : float
        Adam's ε (added to ``sqrt(v̂)``).

    Attributes
    ----------
    counters : dict
        ``"evaluations"`` (calls), ``"critic_updates"`` (Adam steps), ``"lp_solves"`` (always 0).
    last_info : dict
        Means over the last training window of the loss, dual, penalty and the mean gradient
        norm on the penalty points, and the worst Björck residual.
    """

    exact_w1 = False

    #: Björck stops when ``max|WᵀW − I|`` is below this; a full SVD polar step is the fallback.
    bjorck_tol = 1e-12
    bjorck_maxiter = 100

    #: The network, Adam's moments and the random generator: checkpointed (state_dict).
    _state_attrs = ("_rng", "theta", "_m", "_v", "_step", "_sizes", "_offs", "last_info")

    def __init__(self, hidden=(48, 48), activation=None, lipschitz="gp", gp_lambda=10.0, lr=1e-3,
                 betas=(0.5, 0.9), n_critic="auto", n_warmup=1000, batch_size=None, gp_batch_size=None,
                 seed=None, adam_eps=1e-8, tol=1e-3, window=10, min_critic=10, max_critic=200,
                 penalty="one-sided", penalty_points="interpolates", velocity="unit"):
        super().__init__()
        self.counters["critic_updates"] = 0
        if isinstance(hidden, (numbers.Integral, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)) or len(hidden) == 0:
            raise TypeError(f"hidden must be a non-empty sequence of positive ints, got {hidden!r}.")
        self.hidden = tuple(as_int(h, "hidden", 1) for h in hidden)
        if lipschitz not in ("gp", "hard"):
            raise ValueError(f"lipschitz must be 'gp' or 'hard', got {lipschitz!r}.")
        self.lipschitz = lipschitz
        if activation is None:
            activation = "tanh" if lipschitz == "gp" else "groupsort"
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be 'tanh' or 'groupsort', got {activation!r}.")
        self.activation = "groupsort" if activation == "maxmin" else activation
        if self.activation == "groupsort" and any(h % 2 for h in self.hidden):
            raise ValueError(f"hidden widths must be even for GroupSort (pairs), got {self.hidden}.")
        self.gp_lambda = as_float(gp_lambda, "gp_lambda", 0.0)
        self.lr = as_float(lr, "lr", 0.0, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}.")
        self.betas = (as_float(betas[0], "betas[0]", 0.0, 1.0),
                      as_float(betas[1], "betas[1]", 0.0, 1.0))
        self.n_critic = n_critic if isinstance(n_critic, str) and n_critic == "auto" else \
            as_int(n_critic, "n_critic", 1)
        self.n_warmup = as_int(n_warmup, "n_warmup", 0)
        self.tol = as_float(tol, "tol", 0.0)
        self.window = as_int(window, "window", 1)
        self.min_critic = as_int(min_critic, "min_critic", 1)
        self.max_critic = as_int(max_critic, "max_critic", self.min_critic)
        if penalty not in ("two-sided", "one-sided"):
            raise ValueError(f"penalty must be 'two-sided' or 'one-sided', got {penalty!r}.")
        if penalty_points not in ("interpolates", "all"):
            raise ValueError(f"penalty_points must be 'interpolates' or 'all', got {penalty_points!r}.")
        if velocity not in ("gradient", "unit"):
            raise ValueError(f"velocity must be 'gradient' or 'unit', got {velocity!r}.")
        self.penalty, self.penalty_points, self.velocity = penalty, penalty_points, velocity
        self.batch_size = None if batch_size is None else as_int(batch_size, "batch_size", 1)
        self.gp_batch_size = None if gp_batch_size is None else as_int(gp_batch_size, "gp_batch_size", 1)
        self.adam_eps = as_float(adam_eps, "adam_eps", 0.0, low_open=True)
        self.seed = as_seed(seed)
        self._act = _ACTIVATIONS[self.activation]
        self._hard = lipschitz == "hard"
        self._clear()

    def settings(self):
        """The constructor options (the network, moments and generator are state, checkpointed)."""
        return {"hidden": self.hidden, "activation": self.activation, "lipschitz": self.lipschitz,
                "gp_lambda": self.gp_lambda, "lr": self.lr, "betas": self.betas, "n_critic": self.n_critic,
                "n_warmup": self.n_warmup, "batch_size": self.batch_size, "gp_batch_size": self.gp_batch_size,
                "seed": self.seed, "adam_eps": self.adam_eps, "tol": self.tol, "window": self.window,
                "min_critic": self.min_critic, "max_critic": self.max_critic, "penalty": self.penalty,
                "penalty_points": self.penalty_points, "velocity": self.velocity}

    # -- state ------------------------------------------------------------------------------
    def _clear(self):
        self._rng = as_rng(self.seed)
        self.theta = None
        self._m = self._v = None
        self._step = 0
        self._sizes = self._offs = None
        self.last_info = {}

    def reset(self):
        """Zero the counters and forget the network (re-seeded from an int ``seed``; a
        Generator ``seed`` continues its stream)."""
        super().reset()
        self._clear()

    @property
    def dim(self):
        """Input dimension of the network (None before the first call)."""
        return None if self._sizes is None else int(self._sizes[0])

    @property
    def n_params(self):
        return 0 if self.theta is None else int(self.theta.size)

    def _init_network(self, x, y):
        d = x.shape[1]
        sizes = [d, *self.hidden]
        self._sizes = np.asarray(sizes, dtype=np.int64)
        self._offs, n_par = _layout(sizes)
        theta = np.zeros(n_par)
        layers, w = _views(theta, sizes, self._offs)
        rng = self._rng
        # Centre the first layer's pre-activations on the data (data-dependent init of b_0).
        center = 0.5 * (x.mean(axis=0) + y.mean(axis=0))
        for l, (W, b) in enumerate(layers):
            fan_in = sizes[l]
            if self._hard:
                G = rng.standard_normal((max(W.shape), min(W.shape)))
                Qm, R = np.linalg.qr(G)
                Qm = Qm * np.sign(np.diag(R))  # uniform (Haar) orthonormal frame
                W[:] = Qm if W.shape[0] >= W.shape[1] else Qm.T
            else:
                W[:] = rng.standard_normal(W.shape) / np.sqrt(fan_in)
            if l == 0:
                b[:] = -W @ center
        w[:] = rng.standard_normal(w.shape) / np.sqrt(sizes[-1])
        if self._hard:
            w /= np.linalg.norm(w)
            self._project(theta)
        self.theta = theta
        self._m = np.zeros(n_par)
        self._v = np.zeros(n_par)
        self._step = 0

    def _project(self, theta):
        """Björck to convergence; SVD polar factor as a fallback."""
        K = _kernels()
        with _single_thread_blas():
            res = K.project_hard(theta, self._offs, self._sizes, self.bjorck_tol, self.bjorck_maxiter)
            if not res <= 10 * self.bjorck_tol:
                layers, w = _views(theta, self._sizes, self._offs)
                for W, _ in layers:
                    U, _, Vt = np.linalg.svd(W, full_matrices=False)
                    W[:] = U @ Vt
                res = K.project_hard(theta, self._offs, self._sizes, self.bjorck_tol,
                                     self.bjorck_maxiter)
        return res

    def layers(self):
        """Copies of the weights: ``([(W_0, b_0), …], w)`` (W_l has shape (H_{l+1}, H_l))."""
        if self.theta is None:
            return [], None
        layers, w = _views(self.theta, self._sizes, self._offs)
        return [(W.copy(), b.copy()) for W, b in layers], w.copy()

    def certified_lipschitz(self):
        """Product of the layers' spectral norms and ``|w|``: an upper bound on Lip(φ).

        ≤ 1 + 1e-6 for ``lipschitz="hard"``. Raises RuntimeError before the first call.
        """
        if self.theta is None:
            raise RuntimeError("the critic has no network yet: call the oracle first.")
        return _certified(self.theta, self._sizes, self._offs)

    # -- training ---------------------------------------------------------------------------
    def _draw(self, n, w, steps, size):
        rng = self._rng
        if np.all(w == w[0]):
            return rng.integers(0, n, size=(steps, size))
        return rng.choice(n, size=(steps, size), p=w)

    def train(self, x, a, y, b, n_steps):
        """Run ``n_steps`` Adam updates on the given measures (initialising if needed)."""
        K = _kernels()
        n, m = x.shape[0], y.shape[0]
        if self.theta is None:
            self._init_network(x, y)
        if self.batch_size is None:
            ix, cx = np.arange(n, dtype=np.int64)[None], a[None].copy()
            iy, cy = np.arange(m, dtype=np.int64)[None], b[None].copy()
        gp = (not self._hard) and self.gp_lambda > 0
        kgp = self.gp_batch_size or self.batch_size or max(n, m)
        supports = gp and self.penalty_points == "all"  # the penalty also on particles and data
        info = None
        done = 0
        while done < n_steps:
            s = min(_CHUNK_STEPS, n_steps - done)
            if self.batch_size is not None:
                B = self.batch_size
                ix, iy = self._draw(n, a, s, B), self._draw(m, b, s, B)
                cx = np.full((1, B), 1.0 / B)
                cy = cx
            if gp:
                gi, gj = self._draw(n, a, s, kgp), self._draw(m, b, s, kgp)
                geps = self._rng.random((s, kgp))
                if supports:  # ε = 1 on every particle, ε = 0 on every data point
                    gi = np.hstack([gi, np.broadcast_to(np.arange(n), (s, n)), np.zeros((s, m), np.int64)])
                    gj = np.hstack([gj, np.zeros((s, n), np.int64), np.broadcast_to(np.arange(m), (s, m))])
                    geps = np.hstack([geps, np.ones((s, n)), np.zeros((s, m))])
            else:
                gi = gj = np.zeros((1, 0), dtype=np.int64)
                geps = np.zeros((1, 0))
            with _single_thread_blas():
                info = K.critic_train(
                    self.theta, self._m, self._v, self._step, self._offs, self._sizes, self._act,
                    self._hard, x, y, ix, cx, iy, cy, np.ascontiguousarray(gi), np.ascontiguousarray(gj),
                    np.ascontiguousarray(geps), self.gp_lambda, self.lr,
                    self.betas[0], self.betas[1], self.adam_eps, self.bjorck_tol,
                    self.bjorck_maxiter, s, self.penalty == "one-sided",
                )
            self._step = int(info[0])
            done += s
            if self._hard and not info[5] <= 10 * self.bjorck_tol:
                info = (*info[:5], self._project(self.theta))
        self.counters["critic_updates"] += n_steps
        self.last_info = dict(zip(("step", "loss", "dual", "penalty", "grad_norm_penalised", "bjorck_residual"),
                                  info))
        return self.last_info

    def _fit(self, x, a, y, b, first):
        """Train for this call: the fixed schedule, or the stopping rule; returns (info, steps)."""
        if self.n_critic != "auto":
            steps = (self.n_warmup or self.n_critic) if first else self.n_critic
            return self.train(x, a, y, b, steps), steps
        window = self.window
        if first:  # train to convergence: the same rule over windows ten times as long
            window *= 10
            hi = self.n_warmup or self.max_critic
            lo = min(2 * window, hi)
        else:
            lo, hi = self.min_critic, self.max_critic
        done, prev, info = 0, None, None
        while done < hi:
            s = min(window, hi - done)
            info = self.train(x, a, y, b, s)
            done += s
            # the objective the critic maximises: the dual (hard: 1-Lipschitz by construction), or
            # the penalised dual; means over the window, so the interpolates' noise averages out
            obj = info["dual"] if self._hard else -info["loss"]
            if prev is not None and done >= lo and obj - prev <= self.tol * max(abs(obj), abs(prev)):
                break
            prev = obj
        return info, done

    def __call__(self, x, a, y, b, t=0.0):
        """Train (warm start) on particles ``(x, a)`` and data ``(y, b)``; return the potential."""
        x = as_points(x, "x")
        y = as_points(y, "y", dim=x.shape[1])
        a = as_weights(a, x.shape[0], "a")
        b = as_weights(b, y.shape[0], "b")
        if self._sizes is not None and x.shape[1] != self._sizes[0]:
            raise ValueError(
                f"x has dimension {x.shape[1]} but the critic was built for dimension "
                f"{int(self._sizes[0])}; call reset() to start a new network."
            )
        first = self.theta is None
        info, steps = self._fit(x, a, y, b, first)
        info = dict(info, steps=steps)
        self.counters["evaluations"] += 1
        ok = bool(np.all(np.isfinite(self.theta))) and np.isfinite(info["loss"])
        status = "converged" if ok else "nonfinite"
        pot = NeuralCriticPotential(x, a, y, b, self.theta.copy(), self._sizes, self._offs, self._act,
                                    self._hard, status, "", info, unit_speed=self.velocity == "unit")
        if ok:
            g = pot.gradient(x)
            info["grad_norm"] = float(a @ np.sqrt(np.einsum("ij,ij->i", g, g)))  # what the particles see
            pot.message = (f"{steps} critic updates (total {self._step}); mean loss {info['loss']:.6g}, "
                           f"penalty {info['penalty']:.3g}, mean |grad| at the particles {info['grad_norm']:.4g}")
        else:
            pot.message = "the critic's parameters became non-finite; lower lr"
        return pot


def critic_lipschitz_estimate(potential, points, n_pairs=2000, seed=None, grid_size=64):
    """Empirical Lipschitz report of a potential (meant for the gradient-penalty critic).

    Parameters
    ----------
    potential : Potential
        Anything with ``__call__`` (values) and ``grad``.
    points : array_like, shape (k, d)
        Reference points (e.g. particles and data stacked).
    n_pairs : int
        Random pairs of ``points`` for the difference quotients and interpolates.
    seed : int, Generator or None
    grid_size : int
        Grid points per axis on the bounding box for d <= 2; in higher d, ``grid_size**2``
        uniform points in the box.

    Returns
    -------
    dict
        ``pair_ratio`` (max ``|φ(u) − φ(v)|/|u − v|`` over pairs), ``grad_points``,
        ``grad_interpolates``, ``grad_grid`` (max ``|∇φ|`` at the points, at random interpolates
        of the pairs, on the box grid) and ``estimate`` (the largest of them). All are lower
        bounds of the true Lipschitz constant on the box.
    """
    pts = as_points(points, "points")
    rng = as_rng(seed)
    k, d = pts.shape
    i, j = rng.integers(0, k, n_pairs), rng.integers(0, k, n_pairs)
    keep = np.linalg.norm(pts[i] - pts[j], axis=1) > 1e-12
    i, j = i[keep], j[keep]
    u, v = pts[i], pts[j]
    ratio = np.abs(potential(u) - potential(v)) / np.linalg.norm(u - v, axis=1)
    e = rng.random((len(i), 1))
    q = e * u + (1 - e) * v

    def gmax(z):
        g = potential.grad(z)
        return float(np.sqrt(np.max(np.einsum("ij,ij->i", g, g))))

    lo, hi = pts.min(axis=0), pts.max(axis=0)
    if d <= 2:
        axes = [np.linspace(lo[c], hi[c], grid_size) for c in range(d)]
        grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    else:
        grid = lo + (hi - lo) * rng.random((grid_size**2, d))
    out = {
        "pair_ratio": float(ratio.max()) if ratio.size else 0.0,
        "grad_points": gmax(pts),
        "grad_interpolates": gmax(q) if len(q) else 0.0,
        "grad_grid": gmax(grid),
    }
    out["estimate"] = max(out.values())
    return out
