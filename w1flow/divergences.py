r"""f-divergences and MonoFlow rescalings (Yi, Zhu & Liu, arXiv:2302.01075, ICML 2023).

Conventions: ``p`` is the data density, ``q`` the model density, :math:`r = p/q` (so
:math:`\log r > 0` where the data is under-covered) and :math:`u = q/p = 1/r`.

* f-divergence: :math:`D_f(p\|q) = \int q\, f(p/q)\,dx`, :math:`f` convex, :math:`f(1) = 0`.
* Its Wasserstein-2 gradient flow moves particles with
  :math:`v = \nabla h(\log r) = h'(\log r)\,\nabla\log r` where
  :math:`h(\log r) = r f'(r) - f(r)` and :math:`h'(\log r) = r^2 f''(r) \ge 0`.
* MonoFlow: the same velocity for *any* increasing :math:`h`. Conversely
  :math:`f_h''(r) = h'(\log r)/r^2` defines a convex :math:`f_h` whose flow it is.
* PDE (u-form): :math:`\partial_t q = -\nabla\cdot(q v) = \nabla\cdot(p\,\nabla\Phi_h(u))` with
  :math:`\Phi_h'(u) = h'(-\log u) > 0`. Derivation: :math:`\nabla\log r = -\nabla u/u`, so
  :math:`q v = p u\,h'(-\log u)(-\nabla u/u) = -p\,\Phi_h'(u)\nabla u = -p\,\nabla\Phi_h(u)`.

Every formula in the table below is our own derivation (each is checked numerically in
``tests/test_divergences.py``: :math:`h' = r^2 f''` by finite differences,
:math:`h = r f' - f`, :math:`f(1) = 0`, convexity, :math:`\Phi' = h'(-\log u)`). That the MonoFlow
paper has such a table, and its exact text, is **not** verified (only the paper's abstract, Su's
derivation and the public MonoFlow code were read). Two normalisation choices are ours:

* ``"js"`` is the standard Jensen-Shannon divergence
  :math:`\mathrm{JS} = \tfrac12\mathrm{KL}(p\|m) + \tfrac12\mathrm{KL}(q\|m)`, :math:`m = (p+q)/2`
  (bounded by :math:`\log 2`), so :math:`h' = \tfrac12\sigma`. The MonoFlow notebook's "JS" is
  twice this (:math:`h' = \sigma`, the same flow as ``"vanilla_gan"``).
* ``"vanilla_gan"`` is the GAN value :math:`2\mathrm{JS} - \log 4` itself, so its
  :math:`f(1) = -\log 4` (not 0): on unit-mass densities it is :math:`\ge -\log 4`, with
  equality iff q = p. Then :math:`h = rf' - f = \mathrm{softplus}` exactly, without a constant.
* :math:`\Phi_h` is defined up to an additive constant; closed forms are the simplest
  antiderivatives, numerical ones are normalised by :math:`\Phi_h(1) = 0`.

Total variation :math:`\mathrm{TV} = \tfrac12\int|p - q|` is an f-divergence
(:math:`f = \tfrac12|r - 1|`) but not smooth, so it has no MonoFlow entry; see
:func:`total_variation`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.special import expit, xlogy

__all__ = [
    "MonoFlowEntry",
    "DIVERGENCES",
    "monoflow_h",
    "f_divergence",
    "total_variation",
    "integrate_log",
]

logger = logging.getLogger(__name__)

Array = np.ndarray
_LOG2 = float(np.log(2.0))

# 20-point Gauss-Legendre rule on [0, 1]; panels of length <= 0.5 in log u make the quadrature
# error of the smooth integrands below ~1e-15 relative (measured against the closed forms)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W
_PANEL = 0.5


def integrate_log(fun: Callable[[Array, Array], Array], L) -> Array:
    r"""Vectorised :math:`\int_0^{L} \mathrm{fun}(y, L)\,dy` for an array of upper limits ``L``.

    Composite 20-point Gauss-Legendre with panels of length at most 0.5 (accurate to ~1e-14
    relative for the smooth integrands of this module). ``fun(y, L)`` receives broadcast arrays
    of nodes and the matching upper limits (the limit enters :math:`f_h`'s integrand).
    """
    L = np.asarray(L, dtype=float)
    if not np.all(np.isfinite(L)):
        raise ValueError("integrate_log: the upper limits must be finite (u or r must be > 0 and finite)")
    n_pan = max(1, int(np.ceil(np.max(np.abs(L), initial=0.0) / _PANEL)))
    width = L / n_pan
    k = np.arange(n_pan)
    # nodes: shape L.shape + (n_pan, 20)
    y = (k[:, None] + _GL_X[None, :]) * width[..., None, None]
    vals = fun(y, np.broadcast_to(L[..., None, None], y.shape))
    return width * np.einsum("...kj,j->...", vals, _GL_W)


@dataclass(frozen=True)
class MonoFlowEntry:
    r"""One MonoFlow rescaling :math:`h` (and, for table entries, its f-divergence).

    Parameters
    ----------
    name : str
        Identifier (``DIVERGENCES`` key for table entries).
    h : callable
        :math:`h(s)`, :math:`s = \log r`, vectorised; increasing.
    dh : callable
        :math:`h'(s) > 0`, vectorised.
    f : callable or None
        :math:`f(r)` of the f-divergence whose Wasserstein gradient flow this is (closed form);
        ``None`` for user-supplied :math:`h` (then :meth:`f_of` integrates
        :math:`f_h'' = h'(\log r)/r^2` numerically).
    phi : callable or None
        Closed form of :math:`\Phi_h(u)` (any antiderivative of :math:`h'(-\log u)`); ``None``
        means :meth:`potential` integrates it numerically.
    integrand : callable or None
        ``integrand(p, q)`` = :math:`q f(p/q)` written stably for densities that may vanish
        (used by :func:`f_divergence`).
    description : str
        The maths in one line, with its provenance tag.
    """

    name: str
    h: Callable[[Array], Array]
    dh: Callable[[Array], Array]
    f: Callable[[Array], Array] | None = None
    phi: Callable[[Array], Array] | None = None
    integrand: Callable[[Array, Array], Array] | None = field(default=None, repr=False)
    description: str = ""

    def phi_prime(self, u) -> Array:
        r""":math:`\Phi_h'(u) = h'(-\log u)`, the diffusivity of the u-form PDE (``u > 0``)."""
        u = np.asarray(u, dtype=float)
        return self.dh(-np.log(u))

    def potential(self, u) -> Array:
        r""":math:`\Phi_h(u)`: the closed form if known, else
        :math:`\int_0^{\log u} h'(-y)\,e^{y}\,dy` (so :math:`\Phi_h(1) = 0`), by quadrature in
        the :math:`\log u` variable."""
        u = np.asarray(u, dtype=float)
        if self.phi is not None:
            return self.phi(u)
        return integrate_log(lambda y, L: self.dh(-y) * np.exp(y), np.log(u))

    def f_of(self, r) -> Array:
        r""":math:`f(r)`: the closed form if known, else the convex :math:`f_h` with
        :math:`f_h(1) = f_h'(1) = 0` and :math:`f_h''(r) = h'(\log r)/r^2`, i.e.
        :math:`f_h(r) = \int_0^{\log r} (r - e^{y})\,h'(y)\,e^{-y}\,dy`."""
        r = np.asarray(r, dtype=float)
        if self.f is not None:
            return self.f(r)
        return integrate_log(lambda y, L: (np.exp(L) - np.exp(y)) * self.dh(y) * np.exp(-y), np.log(r))


def _softplus(s):
    return np.logaddexp(0.0, s)


def _log1p_u(u):
    return np.log1p(u)


# --- stable integrands q f(p/q); xlogy(0, .) = 0 gives the finite limits where p or q vanish ---

def _int_reverse_kl(p, q):
    return xlogy(q, q) - xlogy(q, p)          # q log(q/p); +inf where p = 0 < q


def _int_forward_kl(p, q):
    return xlogy(p, p) - xlogy(p, q)          # p log(p/q); +inf where q = 0 < p


def _int_js(p, q):
    m = p + q                                 # 2 x mixture; m = 0 only where p = q = 0 (then 0)
    return 0.5 * (xlogy(p, p) + xlogy(q, q) - xlogy(m, m)) + _LOG2 * 0.5 * m


def _int_vanilla(p, q):
    m = p + q
    return xlogy(p, p) + xlogy(q, q) - xlogy(m, m)   # q f(p/q), f = r log r - (r+1) log(r+1)


def _int_pearson(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (p - q) ** 2 / q
    return np.where(q > 0, out, np.where(p > 0, np.inf, 0.0))


def _int_neyman(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (p - q) ** 2 / p
    return np.where(p > 0, out, np.where(q > 0, np.inf, 0.0))


def _int_hellinger(p, q):
    return (np.sqrt(p) - np.sqrt(q)) ** 2


def _int_non_saturating(p, q):
    m = p + q
    return xlogy(m, m) - xlogy(m, 2.0 * p)    # (p+q) log((p+q)/(2p)) = 2 m log(m/p)


def _entry(name, f, h, dh, phi, integrand, description):
    return MonoFlowEntry(name=name, f=f, h=h, dh=dh, phi=phi, integrand=integrand, description=description)


#: The table (our derivation, see above); keys are the names accepted by :func:`monoflow_h` and
#: :func:`f_divergence`.
DIVERGENCES: dict[str, MonoFlowEntry] = {e.name: e for e in [
    _entry("reverse_kl",
           f=lambda r: -np.log(r),
           h=lambda s: s - 1.0,
           dh=lambda s: np.ones_like(np.asarray(s, dtype=float)),
           phi=lambda u: np.asarray(u, dtype=float) * 1.0,
           integrand=_int_reverse_kl,
           description="KL(q||p): f = -log r, h = s - 1, h' = 1, Phi = u (linear Fokker-Planck, Langevin)"),
    _entry("forward_kl",
           f=lambda r: xlogy(r, r),
           h=lambda s: np.exp(s),
           dh=lambda s: np.exp(s),
           phi=lambda u: np.log(u),
           integrand=_int_forward_kl,
           description="KL(p||q): f = r log r, h = e^s, h' = e^s, Phi = log u"),
    _entry("js",
           f=lambda r: 0.5 * (xlogy(r, r) - xlogy(r + 1.0, (r + 1.0) / 2.0)),
           h=lambda s: 0.5 * (_softplus(s) - _LOG2),
           dh=lambda s: 0.5 * expit(s),
           phi=lambda u: 0.5 * _log1p_u(u),
           integrand=_int_js,
           description="JS (standard, <= log 2): f = (r log r - (r+1) log((r+1)/2))/2, h' = sigma(s)/2, "
                       "Phi = log(1+u)/2"),
    _entry("vanilla_gan",
           f=lambda r: xlogy(r, r) - xlogy(r + 1.0, r + 1.0),
           h=_softplus,
           dh=expit,
           phi=_log1p_u,
           integrand=_int_vanilla,
           description="GAN value 2 JS - log 4: f = r log r - (r+1) log(r+1), h = softplus, h' = sigma, "
                       "Phi = log(1+u) (Huang-Zhang JS flow)"),
    _entry("pearson",
           f=lambda r: (r - 1.0) ** 2,
           h=lambda s: np.exp(2.0 * s) - 1.0,
           dh=lambda s: 2.0 * np.exp(2.0 * s),
           phi=lambda u: -2.0 / u,
           integrand=_int_pearson,
           description="Pearson chi^2(p||q): f = (r-1)^2, h = e^{2s} - 1, h' = 2 e^{2s}, Phi = -2/u"),
    _entry("neyman",
           f=lambda r: (r - 1.0) ** 2 / r,
           h=lambda s: 2.0 - 2.0 * np.exp(-s),
           dh=lambda s: 2.0 * np.exp(-s),
           phi=lambda u: np.asarray(u, dtype=float) ** 2,
           integrand=_int_neyman,
           description="Neyman chi^2 = chi^2(q||p): f = (r-1)^2/r, h' = 2 e^{-s}, Phi = u^2 "
                       "(porous-medium type)"),
    _entry("hellinger",
           f=lambda r: (np.sqrt(r) - 1.0) ** 2,
           h=lambda s: np.exp(0.5 * s) - 1.0,
           dh=lambda s: 0.5 * np.exp(0.5 * s),
           phi=lambda u: np.sqrt(u),
           integrand=_int_hellinger,
           description="squared Hellinger: f = (sqrt r - 1)^2, h = e^{s/2} - 1, h' = e^{s/2}/2, Phi = sqrt u"),
    _entry("non_saturating",
           f=lambda r: xlogy(1.0 + r, (1.0 + r) / (2.0 * r)),
           h=lambda s: -_softplus(-s) + _LOG2 - 1.0,
           dh=lambda s: expit(-s),
           phi=lambda u: np.asarray(u, dtype=float) - _log1p_u(u),
           integrand=_int_non_saturating,
           description="2 KL((p+q)/2 || p) = KL(q||p) - 2 JS: f = (1+r) log((1+r)/(2r)), h = log sigma(s) + log 2 - 1, "
                       "h' = sigma(-s), Phi = u - log(1+u) (non-saturating generator loss)"),
]}


def _check_increasing(name: str, h, dh) -> None:
    """Refuse an h whose derivative is not positive, or does not match h, on s in [-30, 30]."""
    s = np.linspace(-30.0, 30.0, 6001)
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.asarray(dh(s), dtype=float)
        hv = np.asarray(h(s), dtype=float)
    if d.shape != s.shape or hv.shape != s.shape:
        raise ValueError(f"monoflow_h({name!r}): h and h' must be vectorised (array in, same-shape array out)")
    if not np.all(np.isfinite(d)) or not np.all(d > 0):
        bad = s[~(np.isfinite(d) & (d > 0))][0]
        raise ValueError(f"monoflow_h({name!r}): h'(s) must be finite and > 0 (h increasing); it is "
                         f"{float(np.asarray(dh(np.array([bad])))[0])!r} at s = {bad:g}")
    # h' must be the derivative of h: compare increments of h with the trapezoidal integral of h'
    # where both are of moderate size (an inconsistent pair would give a velocity field that is
    # not the gradient of the loss h)
    ok = np.isfinite(hv) & (np.abs(hv) < 1e12)
    ok = ok[1:] & ok[:-1]
    dh_int = 0.5 * (d[1:] + d[:-1]) * np.diff(s)
    dhv = np.diff(hv)
    err = np.abs(dhv - dh_int)[ok]
    scale = (np.abs(dh_int) + 1e-300)[ok]
    if err.size and np.max(err / scale) > 1e-3:
        raise ValueError(f"monoflow_h({name!r}): h' does not match the derivative of h "
                         f"(relative mismatch {np.max(err / scale):.2g}); pass (h, h') consistently")


def monoflow_h(spec, name: str | None = None) -> MonoFlowEntry:
    r"""The MonoFlow entry for a table name, an entry, or a user's increasing :math:`h`.

    Parameters
    ----------
    spec : str, MonoFlowEntry or (callable, callable)
        A key of :data:`DIVERGENCES`; an entry (returned as is); or ``(h, dh)``: vectorised
        :math:`h(s)` and :math:`h'(s)` with :math:`h' > 0`. For a user pair, positivity of
        :math:`h'` and the consistency of the pair are checked numerically on
        :math:`s \in [-30, 30]`, :math:`\Phi_h` is computed by quadrature and
        :math:`f_h` (the divergence the flow descends) by :math:`f_h'' = h'(\log r)/r^2`.
    name : str, optional
        Name for a user pair (default ``"custom"``).

    Returns
    -------
    MonoFlowEntry

    Examples
    --------
    >>> e = monoflow_h((np.arcsinh, lambda s: 1 / np.sqrt(1 + s**2)), name="arcsinh")
    >>> float(e.potential(np.array([1.0]))[0])
    0.0
    """
    if isinstance(spec, MonoFlowEntry):
        return spec
    if isinstance(spec, str):
        try:
            return DIVERGENCES[spec]
        except KeyError:
            raise ValueError(f"monoflow_h: unknown name {spec!r}; use one of {sorted(DIVERGENCES)} "
                             "or pass (h, dh) callables") from None
    if isinstance(spec, tuple) and len(spec) == 2 and all(callable(c) for c in spec):
        h, dh = spec
        nm = name or "custom"
        _check_increasing(nm, h, dh)
        return MonoFlowEntry(name=nm, h=h, dh=dh, description="user h (Phi and f_h by quadrature)")
    raise TypeError("monoflow_h: spec must be a table name, a MonoFlowEntry, or a pair (h, dh) of "
                    f"vectorised callables; got {type(spec).__name__}")


def _densities(p, q, dx):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"p and q must be 1-D arrays of the same length (cell averages); got shapes {p.shape}, {q.shape}")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))) or np.any(p < 0) or np.any(q < 0):
        raise ValueError("p and q must be finite and >= 0 (cell averages of densities)")
    dx = float(dx)
    if not (np.isfinite(dx) and dx > 0):
        raise ValueError(f"dx must be a positive cell width; got {dx!r}")
    return p, q, dx


def f_divergence(name, p, q, dx) -> float:
    r""":math:`D_f(p\|q) = \sum_i \Delta x\, q_i f(p_i/q_i)` on a 1-D grid of cell averages.

    Parameters
    ----------
    name : str or MonoFlowEntry
        A table entry (see :data:`DIVERGENCES`); user entries have no closed-form integrand.
    p, q : array_like
        Cell averages of the data and model densities (>= 0, same length).
    dx : float
        Cell width.

    Returns
    -------
    float
        The divergence; ``inf`` where it is infinite (e.g. KL(q||p) with q > 0 = p). The
        integrands are written with ``xlogy`` so that cells with p = 0 or q = 0 contribute their
        finite limit (0 for 0 log 0) instead of nan.
    """
    e = monoflow_h(name)
    if e.integrand is None:
        raise ValueError(f"f_divergence: entry {e.name!r} has no closed-form integrand; use a table name "
                         f"({sorted(DIVERGENCES)})")
    p, q, dx = _densities(p, q, dx)
    return float(dx * np.sum(e.integrand(p, q)))


def total_variation(p, q, dx) -> float:
    r""":math:`\mathrm{TV}(p, q) = \tfrac12\sum_i \Delta x\,|p_i - q_i|` (the f-divergence of
    :math:`f = \tfrac12|r - 1|`)."""
    p, q, dx = _densities(p, q, dx)
    return float(0.5 * dx * np.sum(np.abs(p - q)))
