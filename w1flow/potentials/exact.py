"""The exact Kantorovich potential from the POT linear program.

Given the LP duals ``(u, v)`` with ``u_i + v_j <= |x_i − y_j|`` (tight on the plan's support),
the potential is extended to all of R^d by the c-transform (McShane extension)

.. math::  φ(z) = \\min_j \\big(|z − y_j| − v_j\\big),

which is 1-Lipschitz, equals ``u_i`` at the particles and ``−v_j`` at the data, and satisfies
``Σ a_i φ(x_i) − Σ b_j φ(y_j) = W1``.

The particles' velocity comes from the **optimal plan** G:

.. math::  V_i = Σ_j \\frac{G_{ij}}{a_i} \\frac{y_j − x_i}{|y_j − x_i|}

with zero-length terms dropped. This is ``−∇_{x_i} W1 / a_i``. At a particle the c-transform has a
kink (the simplex basis makes every particle tight with at least two data points), so its
gradient there is an arbitrary subgradient; :meth:`ExactKantorovichPotential.grad` is meant for
points off the particles. Zero-weight particles carry no plan mass; they are passive tracers and
move with ``−∇φ`` of the extension.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial.distance import cdist

from ..lp import (CHUNK_BYTES, DEFAULT_MEMORY_BUDGET, METHODS, LPResult, certify_plan, check_memory, choose_method,
                  default_certificate_tol, method_for, plan_cost, resolves_incrementally, row_chunks, solve, unit_directions)
from ..lp import line_lp  # noqa: F401  (its home was this module; w1flow.lp.line_lp now)
from ..lp.solver import dense_fallback
from ..lp.costs import c_transform  # its home is w1flow.lp.costs (the sparse LP's start uses it too)
from .._validation import as_bool, as_bool_or_auto, as_int, validate_measures
from .base import Potential, PotentialOracle

__all__ = ["ExactPotential", "ExactKantorovichPotential", "plan_velocity", "c_transform", "unit_directions"]

logger = logging.getLogger(__name__)


def plan_velocity(x, a, y, rows, cols, mass):
    """Plan velocity ``V_i = Σ_j (G_ij/a_i)(y_j − x_i)/|y_j − x_i|`` from a sparse plan.

    Zero-length terms (a particle sitting on its target) are dropped; rows with ``a_i = 0``
    get 0 (the caller decides what tracers do).
    """
    n, d = x.shape
    e, _ = unit_directions(x[rows], y[cols])
    # G_ij / a_i, with a_i taken as the plan's row sum (equal up to round-off): a row with one
    # target then gets exactly 1, so unit-speed motion on a dyadic grid stays exact.
    row_mass = np.bincount(rows, weights=mass, minlength=n)
    scale = np.zeros_like(mass)
    rm = row_mass[rows]
    pos = (rm > 0) & (a[rows] > 0)
    scale[pos] = mass[pos] / rm[pos]
    V = np.empty((n, d))
    for k in range(d):
        V[:, k] = np.bincount(rows, weights=scale * e[:, k], minlength=n)
    return V


def _merge_light_entries(rows, cols, mass, min_mass):
    """The plan with entries lighter than ``min_mass`` added to the heaviest entry of their row."""
    light = mass < min_mass
    if not np.any(light):
        return rows, cols, mass
    order = np.lexsort((-mass, rows))  # by row, heaviest first
    head = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
    heaviest = np.empty(int(rows.max()) + 1, dtype=np.int64)
    heaviest[rows[head]] = head
    drop = light & (np.arange(mass.size) != heaviest[rows])  # a row's heaviest entry always stays
    merged = mass.copy()
    np.add.at(merged, heaviest[rows[drop]], mass[drop])
    keep = ~drop
    return rows[keep], cols[keep], merged[keep]


class ExactKantorovichPotential(Potential):
    """Kantorovich potential of an exact W1 LP (value, gradient, plan velocity, plan, W1).

    Use :class:`ExactPotential` to construct it. Attributes beyond :class:`Potential`:

    Attributes
    ----------
    y, b : ndarray
        The data and its weights.
    u, v : ndarray
        LP duals (φ(x_i) = u_i, φ(y_j) = −v_j).
    plan_rows, plan_cols, plan_mass : ndarray
        The plan in sparse (COO) form.
    lp : LPResult
        The raw LP result.
    """

    def __init__(self, x, a, y, b, lp: LPResult, max_memory=DEFAULT_MEMORY_BUDGET, reused=False):
        self.x, self.a, self.y, self.b = x, a, y, b
        self.lp = lp
        self.max_memory = max_memory
        #: True when the plan was carried over from an earlier LP (see :meth:`moved`), not solved here.
        self.reused = reused
        self.u, self.v = lp.u, lp.v
        self.plan_rows, self.plan_cols, self.plan_mass = lp.rows, lp.cols, lp.mass
        self.w1 = lp.cost
        self.status = lp.status
        self.message = lp.message
        self._velocity = None

    # -- the plan ---------------------------------------------------------------------------
    @property
    def plan(self):
        """Dense optimal plan G, shape (n, m). Use :attr:`plan_sparse` for large problems.

        Raises :class:`~w1flow.MemoryBudgetError` beyond the potential's memory budget.
        """
        check_memory(self.x.shape[0], self.y.shape[0], self.max_memory, "the dense plan", n_matrices=1)
        G = np.zeros((self.x.shape[0], self.y.shape[0]))
        G[self.plan_rows, self.plan_cols] = self.plan_mass
        return G

    @property
    def plan_sparse(self):
        """The optimal plan as a ``scipy.sparse.coo_array`` (at most n + m − 1 nonzeros)."""
        from scipy.sparse import coo_array

        shape = (self.x.shape[0], self.y.shape[0])
        return coo_array((self.plan_mass, (self.plan_rows, self.plan_cols)), shape=shape)

    @property
    def row_counts(self):
        """Number of plan targets of each particle (0 for zero-weight particles)."""
        return np.bincount(self.plan_rows, minlength=self.x.shape[0])

    @property
    def is_split(self):
        """True if some particle sends its mass to more than one data point."""
        return bool(np.any(self.row_counts > 1))

    @property
    def target_index(self):
        """Index of each particle's plan target, or −1 if it has none or several."""
        counts = self.row_counts
        out = np.full(self.x.shape[0], -1, dtype=np.int64)
        single = counts[self.plan_rows] == 1
        out[self.plan_rows[single]] = self.plan_cols[single]
        return out

    def moved(self, x_new, u_new):
        """The same plan and data duals ``v`` at new particle positions, with particle duals ``u_new``.

        O(n + nnz): no LP. The caller is responsible for the plan still being optimal at
        ``x_new`` (for instance, every particle moved along its ray by at most its remaining
        distance, with ``u_new = u − displacement``); :meth:`certify` checks it.
        """
        lp = LPResult(rows=self.plan_rows, cols=self.plan_cols, mass=self.plan_mass,
                      u=np.ascontiguousarray(u_new), v=self.v,
                      cost=plan_cost(x_new, self.y, self.plan_rows, self.plan_cols, self.plan_mass),
                      result_code=1, status="optimal",
                      message="optimal (plan reused)")
        return ExactKantorovichPotential(x_new, self.a, self.y, self.b, lp, max_memory=self.max_memory,
                                         reused=True)

    # -- operations on the plan -------------------------------------------------------------
    def cost_at(self, x):
        """``Σ_k G_k |x_{r_k} − y_{c_k}|``: the cost of this plan with the particles at ``x``, O(nnz)."""
        return plan_cost(x, self.y, self.plan_rows, self.plan_cols, self.plan_mass)

    def split(self, min_mass=0.0):
        """Split every particle along the plan into sub-particles with one target each.

        Particle i becomes one sub-particle of mass ``G_ij`` at ``x_i`` per plan entry; zero-weight
        particles (not in the plan) are kept as tracers with weight 0. Sub-particles stay next to
        their parents (stable order).

        Parameters
        ----------
        min_mass : float
            Plan entries lighter than this (a fraction of the total mass 1) are merged into the
            heaviest entry of their row, so that no sub-particle of round-off mass is created
            (re-solved LPs split sub-particles into pieces of about 1e-18 when their masses
            match the data's only to round-off). Row masses, hence the total mass, are kept; the
            plan moves by at most ``min_mass`` per merged entry. 0 keeps every entry.

        Returns
        -------
        potential : ExactKantorovichPotential
            The same potential on the sub-particles: its plan gives each sub-particle its own
            target (``plan_rows`` are the sub-particles with mass), the particle duals are the
            parents' ``u_i``, the data duals are unchanged. Its :attr:`velocity` is the unit
            vector toward each sub-particle's target (tracers: ``−∇φ``).
        parent : ndarray of int
            Index of each sub-particle's parent.
        """
        rows, cols, mass = _merge_light_entries(self.plan_rows, self.plan_cols, self.plan_mass, min_mass)
        tracers = np.flatnonzero(self.a == 0)
        parent = np.concatenate([rows, tracers])
        target = np.concatenate([cols, np.full(tracers.size, -1)])
        a_sub = np.concatenate([mass, np.zeros(tracers.size)])
        order = np.argsort(parent, kind="stable")  # keep sub-particles next to their parents
        parent, target, a_sub = parent[order], target[order], a_sub[order]
        x_sub = np.ascontiguousarray(self.x[parent])
        p_rows = np.flatnonzero(target >= 0)
        p_cols, p_mass = target[p_rows], a_sub[p_rows]
        lp = LPResult(rows=p_rows, cols=p_cols, mass=p_mass, u=self.u[parent], v=self.v,
                      cost=plan_cost(x_sub, self.y, p_rows, p_cols, p_mass), result_code=self.lp.result_code,
                      status=self.status, message=self.message)
        pot = ExactKantorovichPotential(x_sub, a_sub, self.y, self.b, lp, max_memory=self.max_memory,
                                        reused=self.reused)
        return pot, parent

    def rays(self):
        """Each particle's transport ray at this potential: target point, unit direction, length.

        A particle goes to its plan target; a zero-weight tracer to the data point of its
        c-transform minimum (the ray of ``−∇φ``). Needs a plan with one target per row
        (:meth:`split` first otherwise).

        Returns
        -------
        target : ndarray, shape (n, d)
        direction : ndarray, shape (n, d)
            Unit vectors (0 for particles on their target).
        length : ndarray, shape (n,)
            ``|x_i − target_i|``.
        """
        if self.is_split:
            raise ValueError("the plan splits some particles' mass, so a particle has no single ray; "
                             "call split() first.")
        target_idx = self.target_index
        target = np.empty_like(self.x)
        has = target_idx >= 0
        target[has] = self.y[target_idx[has]]
        _, j = c_transform(self.x[~has], self.y, self.v)  # tracers: the c-transform argmin of φ
        target[~has] = self.y[j]
        direction, length = unit_directions(self.x, target)
        return target, direction, length

    def carry(self, x_new, h, speed):
        """This plan at ``x_new`` after one Euler step of length ``h``, when provably optimal; else None.

        Every plan row must have a single target. A particle that moved by ``h·speed_i <= r_i``
        (``r_i`` its distance to its target) stays on its ray with ``u_i − h·speed_i``: the duals
        stay feasible (triangle inequality) and tight on the plan. A particle that overshot
        (``h > r_i``) gets ``u_i = |x_i' − y_j| − v_j``, and its row ``u_i + v_k <= |x_i' − y_k|`` is
        checked over all k (O(m) per overshooting particle, chunked); any violation returns None
        (re-solve). Other constraints are unchanged or follow from the triangle inequality, so a
        returned plan is optimal (to round-off) at ``x_new``.

        Parameters
        ----------
        x_new : ndarray, shape (n, d)
            Positions after the step.
        h : float
            The step length (time).
        speed : ndarray, shape (n,)
            ``|V_i|`` of each particle during the step (0 for particles at rest).

        Returns
        -------
        ExactKantorovichPotential or None
            With ``reused=True``.
        """
        rows, cols, y, v = self.plan_rows, self.plan_cols, self.y, self.v
        r = np.sqrt(np.einsum("ij,ij->i", self.x[rows] - y[cols], self.x[rows] - y[cols]))
        u_new = self.u - h * speed  # particles moved by h·|V_i| (0 for arrived ones)
        over = (r > 0) & (h > r)
        if np.any(over):
            i, j = rows[over], cols[over]
            m = y.shape[0]
            # small chunks: late in a flow most steps fail this check, usually in the first chunk
            for sl in row_chunks(i.size, m, chunk_bytes=min(CHUNK_BYTES, 8 * 256 * m)):
                D = cdist(x_new[i[sl]], y)
                D -= v[None, :]
                idx = np.arange(D.shape[0])
                own = D[idx, j[sl]].copy()
                D[idx, j[sl]] = np.inf
                if m > 1 and np.any(D.min(1) < own):
                    return None  # another data point is now closer in the c-transform: re-solve
                u_new[i[sl]] = own
        lp = LPResult(rows=rows, cols=cols, mass=self.plan_mass, u=u_new, v=v,
                      cost=plan_cost(x_new, y, rows, cols, self.plan_mass), result_code=1, status="optimal",
                      message="optimal (plan reused, no LP)")
        return ExactKantorovichPotential(x_new, self.a, y, self.b, lp, max_memory=self.max_memory, reused=True)

    def certify(self, tol=None):
        """Prove this plan optimal: dual feasibility of ``(u, v)`` and a zero duality gap, to ``tol``.

        Chunked O(nm) time, bounded memory (:func:`~w1flow.lp.certify_plan`). ``tol`` defaults
        to :func:`default_certificate_tol` of the particles and the data.

        Returns
        -------
        Certificate
        """
        if tol is None:
            tol = default_certificate_tol(self.x, self.y)
        return certify_plan(self.x, self.a, self.y, self.b, self.plan_rows, self.plan_cols, self.plan_mass,
                            self.u, self.v, tol)

    # -- values and velocities ------------------------------------------------------------------
    def value(self, z):
        return c_transform(z, self.y, self.v)[0]

    def gradient(self, z):
        _, j = c_transform(z, self.y, self.v)
        e, _ = unit_directions(self.y[j], z)  # ∇|z − y_j| = (z − y_j)/|z − y_j|
        return e

    @property
    def velocity(self):
        """Plan velocity of the particles, shape (n, d); tracers (a_i = 0) use −∇φ."""
        if self._velocity is None:
            V = plan_velocity(self.x, self.a, self.y, self.plan_rows, self.plan_cols, self.plan_mass)
            tracers = self.a == 0
            if np.any(tracers):
                V[tracers] = -self.gradient(self.x[tracers])
            V.setflags(write=False)
            self._velocity = V
        return self._velocity


class ExactPotential(PotentialOracle):
    """Oracle: the exact Kantorovich potential from POT's network simplex (:func:`w1flow.lp.solve`).

    Parameters
    ----------
    num_itermax : int, optional
        Pivot cap of the network simplex (POT's, and w1flow's for the sparse LP); by default it
        grows with n·m (at least 1e6).
    max_memory : float or None
        Budget in bytes for the dense cost and plan matrices (default 4 GiB). Beyond it (and
        from ``n·m = 10⁶`` on) the default ``method="auto"`` solves the sparse LP; ``method="dense"`` raises a
        :class:`~w1flow.MemoryBudgetError` naming the scalable alternatives.
    method : {"auto", "dense", "sparse", "incremental"}
        How the LPs are solved (:func:`w1flow.lp.solve`). ``"auto"`` (default): on the line the
        monotone plan with duals from the CDFs (no LP); in d ≥ 2 each LP from scratch is the dense one below ``n·m = 10⁶`` (:data:`~w1flow.lp.SPARSE_MIN_PAIRS`)
        when its matrices fit ``max_memory``, else the certified sparse one (the monotone plan
        on the line), which is 1.1-7x faster from there on; a re-solve of the same masses and data (an uncapped flow's
        next step) starts from the previous optimal basis when ``n·m >= 40 000``
        (:data:`~w1flow.lp.INCREMENTAL_MIN_PAIRS`) or the cold LP is sparse, else it is the dense
        LP again (the dense LP's basis is kept from the second LP of the same masses and data on,
        so an oracle whose data change at every call never pays for one). ``"dense"``: POT's dense LP for every solve, :class:`~w1flow.MemoryBudgetError`
        past ``max_memory`` — bitwise the results of w1flow 0.1's default. ``"sparse"``: the
        certified sparse LP for every solve. ``"incremental"``: as ``"auto"``, with every re-solve
        from the previous basis whatever the size. Every answer is certified or reported as not
        optimal; the incremental re-solve may pick another optimal plan than the dense LP at near
        ties (another exact flow, ``docs/performance.md``). Under ``"auto"`` and
        ``"incremental"`` a dense LP that fails (POT's simplex can cycle on tie-heavy clouds, e.g.
        points on a few positions of a line) is solved again by the sparse path with the same
        ``num_itermax`` (counted in ``counters["fallbacks"]``, both named in the message); under
        ``"dense"`` its failure is the result.
    incremental : bool, optional
        The 0.1 keyword (not with ``method``): re-solve from the previous solve's optimal **basis**
        with w1flow's own network simplex (:mod:`w1flow.lp.netsimplex`) whenever the masses and
        data are unchanged and d > 1: the old basis stays feasible after the particles move, so a
        re-solve after an Euler step needs a few hundred pivots on a sparse arc list instead of a
        dense LP. Every warm solve is **certified** over all n·m pairs (a fused O(nm) pass finds
        any violated pair, which joins the arcs, until none is left); a solve that hits its pivot
        cap or fails the certificate falls back to the LP from scratch (counted in
        ``counters["fallbacks"]``). Near ties it may pick a different optimal vertex than a cold
        ``ot.emd``, like plan reuse does (``docs/performance.md``). The first solve, and every
        fallback, is the dense LP (or the sparse one, with ``sparse``).
    sparse : bool or "auto", optional
        The 0.1 keyword (not with ``method``): solve without any n × m matrix: a coarse-to-fine
        start (an exact LP between k-d leaves of 4 points, itself solved this way when it has more
        than 2048 leaves a side, refined by north-west corner rules) made optimal by the same
        certified network simplex with column generation (:func:`w1flow.lp.sparse.coarse_basis`).
        Memory is O((n + m)·arcs per node) plus one dense coarse LP of at most 2048 a side, so it
        runs far past the dense budget (``docs/performance.md``: n = 10⁴ in about 0.6 GB where the
        dense LP needs 4.2 GB). A solve that is not certified returns a potential with status
        ``"not_certified"``, never an unproven plan. On the line it is the monotone plan with
        duals from the CDFs (:func:`~w1flow.lp.line_lp`, no LP). ``"auto"`` is ``method="auto"``
        (from ``n·m = 10⁶`` pairs, or past ``max_memory``); ``False`` raises :class:`~w1flow.MemoryBudgetError`
        there. Given either 0.1 keyword, the options are those of 0.1 (``sparse=False`` and
        ``incremental=False`` by default) and give its results: ``sparse=False,
        incremental=False`` is ``method="dense"``, ``sparse=True`` is ``method="sparse"``. A W1
        history recorded with LPs (``SaveAt(w1="lp")``, multi-stage solvers) uses the same path
        (:meth:`own_lp`). Numpy booleans are accepted; 0 and 1 are not.
    warm_start : bool
        Start each solve from the previous solve's duals (POT's ``potentials_init``) when the
        problem sizes match. It is an option of the dense LP: with ``warm_start=True`` the default
        ``method="auto"`` means ``"dense"`` (no incremental re-solve, as in 0.1); it refuses
        ``method="sparse"``/``"incremental"`` and ``sparse``/``incremental=True``. Off by default:
        it speeds up an isolated re-solve after one Euler step about 1.7x, but in a flow the gain
        is within timing noise, and near ties it can return a different optimal vertex than a
        cold solve, so flows are no longer bitwise reproducible against the cold reference
        (``docs/performance.md``).

    Attributes
    ----------
    counters : dict
        ``evaluations`` (calls), LPs solved from scratch (``lp_solves`` dense, ``sparse_solves``), ``warm_solves``,
        ``fallbacks`` (warm solves not certified, solved again from scratch; and, under ``"auto"``,
        dense LPs that failed and were solved again by the sparse path, as
        :func:`w1flow.lp.solver.dense_fallback` says) and ``pivots``.
    last_sparse_stats : dict or None
        The last sparse LP from scratch (d ≥ 2): its start (``coarse_shape``, ``coarse_seconds``,
        ``levels``, ``leaf``, ``basis_seconds``) and every field of its
        :class:`~w1flow.lp.netsimplex.WarmSolveStats` (pivots, rounds, passes, arcs, the
        certificate's ``max_violation`` and ``gap`` in units of length, times per phase, violated
        rows and worst violation pass by pass, prunes). None before the first one.

    Notes
    -----
    In 1-D the plan is the monotone (quantile) coupling; elsewhere it is the vertex the
    network simplex returns. The LP result is checked: a non-optimal solve gives a potential
    whose ``status`` is not ``"optimal"``, and :func:`~w1flow.simulate` stops on it.
    """

    exact_w1 = True
    provides_plan = True
    _state_attrs = ("_last_duals", "_basis", "_last_data", "last_sparse_stats")  # checkpointed (state_dict)

    def __init__(self, num_itermax=None, max_memory=DEFAULT_MEMORY_BUDGET, warm_start=False, incremental=None,
                 sparse=None, method="auto"):
        super().__init__()
        self.warm_start = as_bool(warm_start, "warm_start")
        self.incremental = None if incremental is None else as_bool(incremental, "incremental")
        self.sparse = None if sparse is None else as_bool_or_auto(sparse, "sparse")
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}.")
        self.method = method
        if self.incremental is not None or self.sparse is not None:  # the 0.1 keywords, with their meaning
            if method != "auto":
                raise ValueError(f"method={method!r} and the 0.1 keywords sparse=/incremental= are two ways to "
                                 "choose the solver; pass one of them.")
            self._cold = method_for(bool(self.sparse) if self.sparse != "auto" else "auto")
            self._resolve = bool(self.incremental)
        elif self.warm_start and method == "auto":  # POT's dense LP from the previous duals, as in 0.1
            self._cold, self._resolve = "dense", False
        else:
            self._cold = {"incremental": "auto"}.get(method, method)
            self._resolve = {"auto": "auto", "incremental": True}.get(method, False)
        if self.warm_start and self._cold != "dense":
            raise ValueError("warm_start=True starts POT's dense solver; it does not combine with sparse=True or "
                             "'auto', or method='sparse' (use incremental=True to re-solve the sparse LP from its "
                             "basis).")
        if self.warm_start and self._resolve:
            raise ValueError("warm_start=True and incremental=True (or method='incremental') are two ways to start "
                             "a re-solve; choose one (incremental=True re-solves from the previous basis and is the "
                             "faster one).")
        self._last_duals = None
        self._basis = None
        self._last_data = None  # (a, y, b) of the last LP from scratch under method="auto" (see _incremental_lp)
        self.last_sparse_stats = None
        self.counters.update({"warm_solves": 0, "sparse_solves": 0, "pivots": 0, "fallbacks": 0})
        self.num_itermax = None if num_itermax is None else as_int(num_itermax, "num_itermax", 1)
        self.max_memory = max_memory

    def __call__(self, x, a, y, b, t=0.0):
        """Solve the LP between particles ``(x, a)`` and data ``(y, b)``; return the potential."""
        x, a, y, b = validate_measures(x, a, y, b)
        self.counters["evaluations"] += 1
        method = self._method(x, y)
        if x.shape[1] > 1 and (self._incremental_at(x, y, method) or method == "sparse"):
            return ExactKantorovichPotential(x, a, y, b, self._incremental_lp(x, a, y, b, method),
                                             max_memory=self.max_memory)
        init = None
        if self.warm_start and self._last_duals is not None:
            u0, v0 = self._last_duals
            if u0.shape[0] == x.shape[0] and v0.shape[0] == y.shape[0]:
                init = (u0, v0)
        lp = self._cold_lp(x, a, y, b, method, potentials_init=init)
        if self.warm_start and lp.success:
            self._last_duals = (lp.u, lp.v)
        return ExactKantorovichPotential(x, a, y, b, lp, max_memory=self.max_memory)

    def _method(self, x, y):
        """``"dense"`` or ``"sparse"``: this oracle's LP from scratch at this problem size."""
        return choose_method(self._cold, x.shape[0], y.shape[0], self.max_memory, x.shape[1])

    def _incremental_at(self, x, y, method):
        """True when this oracle re-solves this problem from the previous basis (``method``: the
        cold LP's, from :meth:`_method`)."""
        if self._resolve == "auto":
            return resolves_incrementally(x.shape[0], y.shape[0], method)
        return self._resolve

    def _cold_lp(self, x, a, y, b, method, potentials_init=None, keep_basis=False):
        """The LP from scratch by ``method`` (dense or sparse), counted; a failure is logged. Under
        ``"auto"`` a dense LP that fails is solved again by the sparse path (counted as a fallback)."""
        lp = solve(x, a, y, b, method=method, max_memory=self.max_memory, num_itermax=self.num_itermax,
                   potentials_init=potentials_init, keep_basis=keep_basis)
        if method == "dense" and not lp.success and self._cold == "auto":
            self.counters["lp_solves"] += 1
            self.counters["fallbacks"] += 1
            lp, method = dense_fallback(x, a, y, b, lp, self.num_itermax), "sparse"
        if method == "sparse":
            self.counters["sparse_solves"] += 1
            if x.shape[1] > 1:  # (the line's monotone plan is no simplex)
                self.counters["pivots"] += lp.stats.pivots
                self.last_sparse_stats = dict(lp.info, **lp.stats.as_dict())
        else:
            self.counters["lp_solves"] += 1
        if not lp.success:
            logger.warning(lp.message)
        return lp

    def _incremental_lp(self, x, a, y, b, method):
        """The LP from the kept basis when it belongs to this problem (certified), else from scratch."""
        basis = self._basis
        if basis is not None and basis.matches(a, y, b):
            lp = solve(x, a, y, b, method="incremental", basis=basis)
            self.counters["warm_solves"] += 1
            self.counters["pivots"] += lp.stats.pivots
            if lp.success:
                return lp.plain()
            self.counters["fallbacks"] += 1
            logger.info("warm-started re-solve not certified (%s); solving from scratch", lp.message)
        self._basis = None
        keep = self._incremental_at(x, y, method)
        if keep and self._resolve == "auto" and method == "dense":
            # "auto" keeps the dense LP's basis (which costs up to 0.6x the LP at n = 200) only for a
            # re-solve: when the last LP from scratch had these masses and data (an uncapped flow's
            # second LP), not for an oracle whose data change at every call (a generator's batches)
            last = self._last_data
            again = last is not None and all(u.shape == w.shape and np.array_equal(u, w) for u, w in zip(last, (a, y, b)))
            if not again:
                self._last_data = (a.copy(), y.copy(), b.copy())
            keep = again
        lp = self._cold_lp(x, a, y, b, method, keep_basis=keep)
        if keep and lp.success:
            self._basis = lp.basis
        return lp.plain()

    def own_lp(self, x, a, y, b):
        """W1 between validated clouds by this oracle's own matrix-free LP path, or None.

        What a W1 history asks for (:class:`~w1flow.SaveAt`): when this oracle's LP from scratch
        is the sparse one (``method="sparse"``, ``sparse=True``, or ``"auto"`` past
        ``max_memory``) the certified sparse LP in d > 1 (from the kept basis when this oracle
        re-solves from one, which it updates, as an evaluation of the oracle would), the
        monotone plan on the line. None when this oracle solves the dense LP, which the caller
        solves itself. Counted in :attr:`counters` like every LP of the oracle.

        Returns
        -------
        LPResult or None
            A failed solve has a status other than ``"optimal"`` (never raised).
        """
        if self._method(x, y) != "sparse":
            return None
        if x.shape[1] == 1:
            return self._cold_lp(x, a, y, b, "sparse")
        return self._incremental_lp(x, a, y, b, "sparse")

    def settings(self):
        return {"num_itermax": self.num_itermax, "max_memory": self.max_memory, "warm_start": self.warm_start,
                "incremental": self.incremental, "sparse": self.sparse, "method": self.method}

    def reset(self):
        """Forget the warm-start duals and the kept basis, and zero the counters."""
        super().reset()
        self._last_duals = None
        self._basis = None
        self._last_data = None
        self.last_sparse_stats = None
