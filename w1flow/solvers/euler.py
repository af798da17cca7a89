"""Forward Euler on particle flows (the W1-FE scheme of Malik & Huang, arXiv:2405.16351)."""

from __future__ import annotations

import numpy as np

from .._validation import as_bool, as_float
from .base import Solver, StepResult, W1Record, _check_tol

__all__ = ["Euler"]


class Euler(Solver):
    """Forward Euler, ``Y_{n+1} = Y_n + Δt V(Y_n)``: the paper's W1-FE scheme on particles.

    With the exact oracle, V is the plan velocity. With a fixed Δt the particles overshoot their
    targets and chatter near the data: W1 stalls at about Δt/2 (see :class:`CappedEuler`).

    Parameters
    ----------
    reuse_plan : bool
        With an exact oracle, carry the optimal plan over to the next step instead of solving a
        new LP whenever an O(n) check proves it still optimal: every plan row has one target
        and every particle moved by at most its remaining distance (W1 then drops by exactly
        Δt per step). A particle that overshoots costs an O(m) check of its dual constraints;
        a failed check or a split plan re-solves (:meth:`ExactKantorovichPotential.carry`). On
        generic clouds the trajectory and the W1 history equal the re-solve-every-step flow
        (``reuse_plan=False``) to round-off; see ``docs/performance.md`` for ties.
    certify : bool
        At save points, check that a carried-over plan is optimal (chunked O(nm) dual
        feasibility plus duality gap); a failure stops the run with status
        ``"certificate_failed"``.
    certify_tol : float, optional
        Tolerance of the certificate (default ``1e-9 · max |coordinate|``, relative to the problem's
        scale).
    split : bool
        Splitting mode for split plans (see the module docstring).
    min_mass : float
        In splitting mode, plan entries lighter than this fraction of the total mass are merged
        into the heaviest entry of their row instead of becoming sub-particles
        (:meth:`ExactKantorovichPotential.split`): without it, re-solved LPs breed sub-particles
        of round-off mass (a weighted 30-particle flow grew to 2,343 sub-particles, 2,167 of
        them lighter than 1e-15). 0 keeps every entry.
    """

    order = 1
    name = "euler"
    supports_split = True
    stability_limit = 2.0
    option_names = ("reuse_plan", "certify", "certify_tol", "split", "min_mass")

    def __init__(self, reuse_plan=True, certify=False, certify_tol=None, split=False, min_mass=1e-12):
        self.reuse_plan = as_bool(reuse_plan, "reuse_plan")
        self.certify = as_bool(certify, "certify")
        self.certify_tol = _check_tol(certify_tol)
        self.split = as_bool(split, "split")
        self.min_mass = as_float(min_mass, "min_mass", 0.0, 1.0)

    @property
    def needs_plan(self):
        """Splitting moves sub-particles along the plan: ``split=True`` needs an oracle with one."""
        return self.split

    def step(self, ctx, t, dt, x, a, state):
        """One Euler step along the field's velocity (the plan velocity for exact potentials).

        With ``split=True`` and a split plan, particles first become sub-particles along the
        plan. With ``reuse_plan`` and an exact oracle, the plan carried to the new positions
        (when provably optimal) comes back as ``field_at_end``.
        """
        field = ctx.field(x, a, t)
        if not field.success:
            return StepResult.failed(x, a, field)
        parent = None
        if self.split and field.is_split:
            field, parent = field.split(self.min_mass)
            x, a = field.x, field.a
        V = field.velocity
        x_new = x + dt * V
        carried = None
        if self.reuse_plan and ctx.exact and hasattr(field, "carry") and not field.is_split:
            carried = field.carry(x_new, dt, np.sqrt(np.einsum("ij,ij->i", V, V)))
        return StepResult(x_new, a, parent=parent, field_at_end=carried)

    def w1(self, ctx, state, t, x, a, certify=True):
        """With an exact oracle: the W1 of the field the next step starts from.

        That field is the carried plan when there is one (certified with ``certify=True``), or
        an LP solved here and remembered, so the next step does not solve it again.
        """
        if not ctx.exact:
            return None
        field = ctx.field(x, a, t)
        ctx.remember(field, t)
        if not field.success:
            return W1Record.of_field(field)
        if certify and self.certify and field.reused:  # every exact potential says if it was carried
            return W1Record.of_certificate(field.w1, field.certify(self.certify_tol))
        return W1Record.of_field(field)


# Public home of the classes: checkpoints, run fingerprints and pickles name a class by
# ``__module__.__qualname__``, which stays the module users import it from.
Euler.__module__ = "w1flow.solvers"
