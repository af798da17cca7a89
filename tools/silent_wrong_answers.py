"""The silent wrong answers of w1flow 0.1, run against whichever w1flow is importable.

Usage::

    python tools/silent_wrong_answers.py                 # this checkout
    PYTHONPATH=/path/to/old/checkout python tools/silent_wrong_answers.py

Each case prints what the library returned. In w1flow 0.1 every case ended with status
"success" (or an unrelated label) on a wrong answer; now each is refused, flagged or right. The
cases use the 0.1 keywords, which the current version still accepts, so one script runs on both.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import warnings

import numpy as np

warnings.simplefilter("ignore")
import w1flow as wf  # noqa: E402
from w1flow.datasets import eight_gaussians, gaussian_blob  # noqa: E402


def _try(fn):
    try:
        return fn()
    except Exception as exc:  # the outcome we report
        return f"refused: {type(exc).__name__}: {str(exc)[:110]}"


def _stop_at(k):
    calls = []

    def cb(t, x, a):
        calls.append(t)
        if len(calls) == k:
            raise KeyboardInterrupt

    return cb


def kuramoto(K):
    omega = np.linspace(-1, 1, 40)

    def drift(x, a, t):
        th = x[:, 0]
        return (omega + K * (a[None, :] * np.sin(th[None, :] - th[:, None])).sum(axis=1))[:, None]

    return drift


def case_resume_other_drift(tmp):
    th0 = np.random.default_rng(3).uniform(-np.pi, np.pi, (40, 1))
    ck = os.path.join(tmp, "k.ckpt")
    wf.simulate(wf.MeanFieldODE(kuramoto(2.0)), th0, 2.0, 0.01, solver=wf.RK4(), checkpoint=ck,
                checkpoint_every=10, callback=_stop_at(50))
    ref3 = wf.simulate(wf.MeanFieldODE(kuramoto(3.0)), th0, 2.0, 0.01, solver=wf.RK4())

    def resume():
        r = wf.simulate(wf.MeanFieldODE(kuramoto(3.0)), th0, 2.0, 0.01, solver=wf.RK4(), checkpoint=ck, resume=True)
        return f"status {r.status}; max |x - run with K=3| = {np.abs(r.x_final - ref3.x_final).max():.3g}"
    return _try(resume)


def _w1_case(seed=0, n=30):
    rng = np.random.default_rng(seed)
    return gaussian_blob(n, seed=rng), eight_gaussians(n, seed=rng)


def case_resume_other_oracle(tmp):
    x, y = _w1_case()
    ck = os.path.join(tmp, "o.ckpt")
    wf.simulate(wf.W1Flow(y), x, 1.0, 0.05, checkpoint=ck, checkpoint_every=5, callback=_stop_at(7))
    return _try(lambda: "status " + wf.simulate(wf.W1Flow(y), x, 1.0, 0.05, checkpoint=ck, resume=True,
                                                potential=wf.EntropicPotential(0.5)).status)


def case_resume_other_solver_options(tmp):
    x, y = _w1_case()
    ck = os.path.join(tmp, "s.ckpt")
    wf.simulate(wf.W1Flow(y), x, 1.0, 0.05, solver=wf.Euler(), checkpoint=ck, checkpoint_every=5,
                callback=_stop_at(7))
    return _try(lambda: "status " + wf.simulate(wf.W1Flow(y), x, 1.0, 0.05, checkpoint=ck, resume=True,
                                                solver=wf.Euler(reuse_plan=False)).status)


def case_drift_writes_into_x(tmp):
    def sneaky(x, a, t):
        v = -x.copy()
        x *= 0.5  # the drift shrinks the live state
        return v

    return _try(lambda: "status {0.status}; x_final {0.x_final[0]} (the ODE's answer is e^-1 = 0.368)".format(
        wf.simulate(wf.MeanFieldODE(sneaky), np.ones((1, 1)), 1.0, 0.01)))


class Backwards(wf.CappedEuler):
    def step(self, ctx, t, dt, x, a, state, field=None):
        res = super().step(ctx, t, dt, x, a, state)
        # a transient fault: off the rays for t in (0.35, 0.65], back on them afterwards
        return dataclasses.replace(res, x=2 * state.start - res.x) if 0.35 < t + dt <= 0.65 else res


def case_monitors_only_at_save_points(tmp):
    x, y = _w1_case()
    out = []
    for every in (1, 20):
        r = wf.simulate(wf.W1Flow(y), x, 2.0, 0.1, solver=Backwards(), save_every=every)
        out.append(f"save_every={every}: {r.status}")
    return "; ".join(out)


def case_scale_w2(tmp):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((25, 2)) + 2, rng.standard_normal((21, 2))
    ref = wf.simulate(wf.W2Flow(y), x, 1.0, 0.1, record_w1=False)
    c = 1e-8
    r = wf.simulate(wf.W2Flow(c * y), c * x, 1.0, 0.1, record_w1=False)
    err = np.abs(r.x_final - c * ref.x_final).max() / (c * np.abs(ref.x_final).max())
    return f"status {r.status}; relative error vs c x (run at scale 1) = {err:.3g}"


def case_scale_w1(tmp):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((25, 2)) + 2, rng.standard_normal((21, 2))
    ref = wf.simulate(wf.W1Flow(y), x, 2.0, 0.1, solver=wf.Euler(reuse_plan=False))
    c = 1e-14
    r = wf.simulate(wf.W1Flow(c * y), c * x, c * 2.0, c * 0.1, solver=wf.Euler(reuse_plan=False))
    err = np.abs(r.w1 - c * ref.w1).max() / (c * ref.w1[0])
    return f"status {r.status}; relative W1 error vs c W1 (run at scale 1) = {err:.3g}"


class WrongPlan(wf.ExactPotential):
    def __call__(self, x, a, y, b, t=0.0):
        pot = super().__call__(x, a, y, b, t)
        cols = pot.plan_cols.copy()
        cols[[0, 1]] = cols[[1, 0]]
        pot.plan_cols = cols
        pot._velocity = None
        return pot


def case_certificate_scale(tmp):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 2)) + 1, rng.standard_normal((30, 2))
    c = 1e-8
    r = wf.simulate(wf.W1Flow(c * y), c * x, c * 0.5, c * 0.1, solver=wf.CappedEuler(certify=True), potential=WrongPlan())
    return f"a wrong plan at scale 1e-8 with certify=True: status {r.status}"


def case_sinkhorn_docs_flow(tmp):
    x, y = gaussian_blob(30, center=(3, 0), std=0.5, seed=1), eight_gaussians(30, seed=2)
    r = wf.simulate(wf.W1Flow(y), x, 6.0, 0.05, potential=wf.EntropicPotential(0.1), save_every=10)
    on = wf.simulate(wf.W1Flow(y), y.copy(), 1.0, 0.05, potential=wf.EntropicPotential(0.1))
    return (f"blob: status {r.status} at t = {r.ts[-1]:.3g}, W1 {r.w1[-1]:.3g}; particles on the data: status "
            f"{on.status} after {on.n_steps} steps")


def case_split_round_off(tmp):
    rng = np.random.default_rng(0)
    x, y = gaussian_blob(30, center=(3, 0), std=0.5, seed=1), eight_gaussians(30, seed=2)
    a = rng.uniform(0.2, 1, 30)
    a /= a.sum()
    r = wf.simulate(wf.W1Flow(y), x, 6.0, 0.05, weights=a, split=True)
    return f"status {r.status}; {r.a_final.size} sub-particles, {int(np.sum(r.a_final < 1e-15))} lighter than 1e-15"


def case_w2_dt3(tmp):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 2)) + 3, rng.standard_normal((10, 2))
    return _try(lambda: "status {0.status}; max |x| = {1:.3g}".format(
        r := wf.simulate(wf.W2Flow(y), x, 30.0, 3.0), np.abs(r.x_final).max()))


def case_tiny_t1(tmp):
    r = wf.simulate(wf.MeanFieldODE(lambda x, a, t: np.ones_like(x)), np.zeros((2, 1)), 1e-14, 0.1)
    return f"status {r.status}; {r.n_steps} steps; final time {r.ts[-1]:.3g} (t1 = 1e-14)"


def case_flat_array_rule(tmp):
    y = np.array([[0.0, 0.0], [1.0, 1.0]])
    pot = wf.ExactPotential()(y + 2, None, y, None)
    a = _try(lambda: f"pot([3., 4.]) -> {np.shape(pot([3.0, 4.0]))} (one point)")
    b = _try(lambda: f"simulate(x0=[3., 4.]) -> status {wf.simulate(wf.W1Flow(y), [3.0, 4.0], 1.0, 0.1).status}")
    return f"{a}; {b}"


def case_meanfield_counters(tmp):
    r = wf.simulate(wf.MeanFieldODE(lambda x, a, t: -x), np.ones((200, 3)), 1.0, 0.01, solver=wf.RK4())
    return f"n_field_evals {r.n_field_evals}, timings['field'] {r.timings['field']:.3g} s"



# found by fuzzing the defaults (2026-12-06); 0.1 and 0.2 before that day returned these as successes
def case_w1_at_scale_1e_170(tmp):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 2)), rng.standard_normal((4, 2))
    ref = wf.metrics.w1(x, y)
    return f"metrics.w1 at scale 1e-170 / (1e-170 * W1 at scale 1) = {wf.metrics.w1(1e-170 * x, 1e-170 * y) / (1e-170 * ref)}"


def case_line_zero_weight_gets_mass(tmp):
    a = np.array([0.2805323, 0.08702778, 0.42385535, 0.01187311, 0.19671145, 0.0, 0.0])
    a /= a.sum()
    rows, _, mass = wf.lp.monotone_plan(np.arange(7.0), a, np.array([0.5, 2.5, 7.0]), np.full(3, 1 / 3))
    return f"mass on the zero-weight particles 5, 6 of the 1-D plan: {mass[rows >= 5].sum():.3g}"


def case_line_plan_loses_a_piece(tmp):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 6, (774, 1)).astype(float), rng.integers(0, 6, (602, 1)) + 0.5
    G = wf.ExactPotential()(x, None, y, None).plan
    return f"largest row-marginal error of the dense 1-D plan: {np.abs(G.sum(1) - 1 / 774).max():.3g} (weights 1/774 = 0.00129)"

CASES = [v for k, v in sorted(globals().items()) if k.startswith("case_")]


def main():
    print(f"w1flow {wf.__version__} from {os.path.dirname(wf.__file__)}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            print(f"- {case.__name__[5:]}: {_try(lambda: case(tmp))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
