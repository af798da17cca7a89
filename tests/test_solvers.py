"""Every Solver subclass, through simulate: its fitted order equals ``solver.order`` on a smooth
time-dependent mean-field ODE with a closed form; solvers that are exact along their flow
(CappedEuler) reproduce an independent closed form to round-off instead. Also the contract:
steps never mutate their inputs, capability flags are honoured before any work."""

import numpy as np
import ot
import pytest
from scipy.linalg import expm
from scipy.spatial.distance import cdist

from conftest import generic_cloud, rand_weights
from w1flow import MeanFieldODE, SaveAt, W1Flow, simulate, solvers
from w1flow.convergence import fit_order


def _public_solvers():
    out, todo = [], [solvers.Solver]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__ == "w1flow.solvers" and not sub.__name__.startswith("_"):
                out.append(sub)
    return sorted(out, key=lambda c: c.__name__)


SOLVERS = _public_solvers()

# dY_i = A (Y_i − E[Y]) + cos(t)·u, E[Y] = Σ a_i Y_i: the mean moves by sin(t)·u and deviations
# by e^{tA}. Time enters the drift, so a method whose stage times are wrong loses its order.
A = np.array([[-0.6, 0.9, 0.1], [-0.8, -0.3, 0.4], [0.2, -0.5, -0.2]])
U = np.array([1.0, -0.5, 0.25])


def _drift(x, a, t):
    return (x - a @ x) @ A.T + np.cos(t) * U


def _exact(x0, a, t):
    mean = a @ x0
    return mean + np.sin(t) * U + (x0 - mean) @ expm(t * A).T


def test_the_registry_holds_every_solver():
    assert {c.__name__ for c in SOLVERS} == {"Euler", "CappedEuler", "Heun", "RK4"}


@pytest.mark.parametrize("solver_cls", [c for c in SOLVERS if not c().needs_plan], ids=lambda c: c.__name__)
def test_fitted_order_equals_the_declared_order(solver_cls, rng):
    x0 = rng.standard_normal((25, 3))
    a = rand_weights(rng, 25)
    T = 1.3
    dts = 0.2 / 2.0 ** np.arange(5)
    errors = []
    for dt in dts:
        res = simulate(MeanFieldODE(_drift), x0, T, dt, solver=solver_cls(), weights=a, saveat=SaveAt(every=10**6))
        assert res.success
        errors.append(np.max(np.linalg.norm(res.x_final - _exact(x0, a, T), axis=1)))
    slope, _, used, _ = fit_order(dts, errors, roundoff=1e-11)
    assert used.sum() >= 4, errors
    assert abs(slope - solver_cls.order) < 0.15, (solver_cls.__name__, slope, errors)


@pytest.mark.parametrize("solver_cls", [c for c in SOLVERS if c().needs_plan], ids=lambda c: c.__name__)
def test_exact_solvers_reproduce_an_independent_closed_form(solver_cls, rng):
    """Capped flow: each particle at unit speed toward its LP target, stopping there."""
    n, d = 30, 2
    x0, y = generic_cloud(rng, n, d, shift=2.0), generic_cloud(rng, n, d)
    C = cdist(x0, y)
    G = ot.emd(np.full(n, 1 / n), np.full(n, 1 / n), C)  # a permutation on a generic cloud
    target = y[np.argmax(G, axis=1)]
    length = np.linalg.norm(target - x0, axis=1)
    for dt in (0.3, 0.1, 0.037):
        for T in (0.5, 1.7, length.max() + dt):
            res = simulate(W1Flow(y), x0, T, dt, solver=solver_cls())
            s = np.minimum(T, length)[:, None]
            expected = x0 + s * (target - x0) / length[:, None]
            assert np.max(np.abs(res.x_final - expected)) <= 1e-13 * (1 + np.abs(x0).max())
            w1_ref = ot.emd2(np.full(n, 1 / n), np.full(n, 1 / n), cdist(res.x_final, y))
            assert res.w1[-1] == pytest.approx(w1_ref, abs=1e-12)


@pytest.mark.parametrize("solver_cls", SOLVERS, ids=lambda c: c.__name__)
def test_steps_never_mutate_their_inputs(solver_cls, rng):
    x0, y = generic_cloud(rng, 12, 2, shift=2.0), generic_cloud(rng, 12, 2)
    seen = []

    def callback(t, x, a):  # the driver hands the solver's arrays on: keep them and compare later
        seen.append((x, x.copy(), a, a.copy()))

    res = simulate(W1Flow(y), x0, 1.0, 0.1, solver=solver_cls(), callback=callback)
    assert res.success and len(seen) == 10
    for x, x_copy, a, a_copy in seen:
        assert np.array_equal(x, x_copy) and np.array_equal(a, a_copy)


def test_capability_flags_are_honoured_before_any_work():
    calls = []

    def drift(x, a, t):
        calls.append(t)
        return -x

    for cls in SOLVERS:
        if cls().needs_plan:
            with pytest.raises(TypeError, match="needs a potential with an optimal plan"):
                simulate(MeanFieldODE(drift), np.ones((3, 2)), 1.0, 0.1, solver=cls())
        if not cls.supports_split:
            with pytest.raises(ValueError, match="does not support split=True"):
                cls(split=True)
    assert calls == []
    flagged = [c.__name__ for c in SOLVERS if c.w1_nonincreasing]
    assert flagged == ["CappedEuler"]


def test_replace_changes_options_and_validates_them():
    e = solvers.Euler(reuse_plan=False)
    e2 = e.replace(split=True)
    assert e2.split and not e2.reuse_plan and not e.split
    with pytest.raises(TypeError, match="no option"):
        e.replace(spilt=True)
    with pytest.raises(TypeError, match=r"\bcertify must be True or False"):
        e.replace(certify="yes")
    assert solvers.Heun().replace(split=False).options == {}


# ---------------------------------------------------------------------------------------------
# The contract's value objects
# ---------------------------------------------------------------------------------------------
class _Field:
    def __init__(self, status, message="why", w1=1.5, reused=False):
        self.status, self.message, self.w1, self.reused = status, message, w1, reused

    @property
    def success(self):
        return self.status == "optimal"


def test_a_failed_step_returns_its_inputs_with_the_fields_status():
    x, a, state = np.ones((2, 1)), np.full(2, 0.5), object()
    out = solvers.StepResult.failed(x, a, _Field("max_iter_reached", "POT gave up"), state)
    assert out.x is x and out.a is a and out.state is state and out.parent is None
    assert (out.status, out.message, out.ok) == ("max_iter_reached", "POT gave up", False)
    assert out.field_at_end is None and out.error is None
    assert solvers.StepResult(x, a).ok


def test_solver_defaults():
    assert solvers.Euler().options == {"reuse_plan": True, "certify": False, "certify_tol": None, "split": False,
                                       "min_mass": 1e-12}
    assert solvers.CappedEuler().options == {"certify": False, "certify_tol": None, "split": False,
                                             "min_mass": 1e-12}
    assert not solvers.Euler().needs_plan and solvers.Euler(split=True).needs_plan and solvers.CappedEuler().needs_plan


def test_euler_with_splitting_needs_an_oracle_with_a_plan(rng):
    from w1flow import EntropicPotential, W1Flow, simulate

    x, y = generic_cloud(rng, 6, 2) + 2, generic_cloud(rng, 5, 2)
    with pytest.raises(TypeError, match=r"^Euler\(.*split=True.*\) needs a potential with an optimal plan"):
        simulate(W1Flow(y), x, 0.1, 0.1, solver=solvers.Euler(split=True), potential=EntropicPotential(0.5))


def test_a_failed_euler_step_returns_its_inputs():
    class _Ctx:
        exact = True

        def field(self, x, a, t):
            return _Field("max_iter_reached", "no plan")

    x, a = np.zeros((3, 2)), np.full(3, 1 / 3)
    for solver in (solvers.Euler(), solvers.Euler(split=True)):
        out = solver.step(_Ctx(), 0.0, 0.1, x, a, None)
        assert out.x is x and out.a is a and (out.status, out.message) == ("max_iter_reached", "no plan")


@pytest.mark.parametrize("solver", [solvers.Heun(), solvers.RK4()])
def test_a_runge_kutta_step_whose_later_stage_fails_returns_its_inputs(solver):
    class _Ctx:
        calls = 0

        def field(self, x, a, t):
            self.calls += 1
            f = _Field("optimal" if self.calls == 1 else "max_iter_reached", "stage failed")
            f.velocity = np.ones_like(x)
            return f

    x, a = np.zeros((3, 2)), np.full(3, 1 / 3)
    out = solver.step(_Ctx(), 0.0, 0.1, x, a, None)
    assert out.x is x and out.a is a and (out.status, out.message) == ("max_iter_reached", "stage failed")


def test_w1_records_of_fields_and_certificates():
    fresh = solvers.W1Record.of_field(_Field("optimal", "optimal", w1=2.5))
    assert (fresh.w1, fresh.status, fresh.message, fresh.from_lp, fresh.success) == (2.5, "optimal", "optimal", True,
                                                                                     True)
    carried = solvers.W1Record.of_field(_Field("optimal", "carried", w1=2.0, reused=True))
    assert carried.from_lp is False and carried.w1 == 2.0 and carried.message == "carried"
    from w1flow.potentials.base import Potential

    class Plain(Potential):  # a potential that says nothing about reuse came from its own solve
        w1, message = 2.5, "optimal"

    assert solvers.W1Record.of_field(Plain()).from_lp is True
    bad = solvers.W1Record.of_field(_Field("infeasible", "no", w1=3.0))
    assert np.isnan(bad.w1) and (bad.status, bad.message, bad.success) == ("infeasible", "no", False)

    class Cert:
        def __init__(self, ok):
            self.ok, self.message = ok, f"certificate {'passed' if ok else 'failed'}"

    good = solvers.W1Record.of_certificate(1.25, Cert(True))
    assert (good.w1, good.status, good.message, good.success) == (1.25, "optimal", "certificate passed", True)
    assert isinstance(good.certificate, Cert) and good.certificate.ok and good.from_lp is False
    worse = solvers.W1Record.of_certificate(1.5, Cert(False))
    assert (worse.w1, worse.status, worse.message, worse.success) == (1.5, "certificate_failed",
                                                                      "certificate failed", False)
    assert not worse.certificate.ok


# ---------------------------------------------------------------------------------------------
# Options: every bad value is refused with the option's name; settings round-trip
# ---------------------------------------------------------------------------------------------
_BAD = {bool: ["maybe", 2], "tol": [0.0, -1e-3, "x"], "fraction": [-0.1, 1.5, float("nan")]}


@pytest.mark.parametrize("solver_cls", SOLVERS, ids=lambda c: c.__name__)
def test_every_bad_option_names_itself(solver_cls):
    for name, value in solver_cls().options.items():
        kind = "tol" if name == "certify_tol" else "fraction" if name == "min_mass" else type(value)
        for bad in _BAD[kind]:
            with pytest.raises((TypeError, ValueError), match=rf"\b{name}\b"):
                solver_cls(**{name: bad})
    if not solver_cls.supports_split:
        with pytest.raises(ValueError, match=rf"^{solver_cls.__name__} does not support split=True"):
            solver_cls(split=True)
        with pytest.raises(TypeError, match=r"\bsplit must be True or False"):
            solver_cls(split="no")


@pytest.mark.parametrize("oracle", ["ExactPotential", "EntropicPotential", "QuantilePotential", "CriticPotential"])
def test_oracle_settings_are_its_constructor_keywords(oracle):
    import inspect

    import w1flow

    cls = getattr(w1flow, oracle)
    o = cls(reg=0.05) if oracle == "EntropicPotential" else cls()
    params = set(inspect.signature(cls).parameters) - {"kwargs"}
    assert set(o.settings()) == params
    assert cls(**o.settings()).settings() == o.settings()


# ---------------------------------------------------------------------------------------------
# The context's memo: a hit only for the same arrays (by content) at the same time
# ---------------------------------------------------------------------------------------------
def test_the_memo_hits_only_the_same_state(rng):
    from w1flow import ExactPotential

    x, y = generic_cloud(rng, 6, 2), generic_cloud(rng, 6, 2)
    a = np.full(6, 1 / 6)
    ctx = solvers.SolverContext(W1Flow(y).with_potential(ExactPotential()))
    f = ctx.field(x, a, 0.5)
    ctx.remember(f, 0.5)
    assert ctx.field(x.copy(), a.copy(), 0.5) is f and ctx.n_fields == 1  # same content: a hit
    for xx, aa, t in [(x + 1e-12, a, 0.5), (x[:5], a[:5] / a[:5].sum(), 0.5), (x, a, 0.25),
                      (x, np.r_[a[:5] * 0.5, 1 - 2.5 / 6], 0.5)]:
        assert ctx.recall(xx, aa, t) is None
    n = ctx.n_fields
    g = ctx.field(x + 1e-12, a, 0.5)
    assert g is not f and ctx.n_fields == n + 1


# ---------------------------------------------------------------------------------------------
# Euler's W1 records: the certificate only where a carried plan was asked to prove itself
# ---------------------------------------------------------------------------------------------
def test_euler_certifies_carried_plans_only_when_asked(rng):
    from w1flow import ExactPotential

    n = 12
    x, y = generic_cloud(rng, n, 2), generic_cloud(rng, n, 2) + 3.0
    a = np.full(n, 1 / n)
    ctx = solvers.SolverContext(W1Flow(y).with_potential(ExactPotential()))
    for certify, tol in [(False, None), (True, None), (True, 1e-4)]:
        s = solvers.Euler(certify=certify, certify_tol=tol)
        out = s.init(ctx, 0.0, 0.1, x, a)
        fresh = s.w1(ctx, out.state, 0.0, out.x, out.a)
        assert fresh.certificate is None and fresh.from_lp  # a solved LP needs no certificate
        nxt = s.step(ctx, 0.0, 0.1, out.x, out.a, out.state)
        ctx.remember(nxt.field_at_end, 0.1)
        assert nxt.field_at_end.reused  # far from the data: the plan is carried
        rec = s.w1(ctx, nxt.state, 0.1, nxt.x, nxt.a)
        ref = ot.emd2(a, a, cdist(nxt.x, y), numItermax=10**7)
        assert abs(rec.w1 - ref) <= 1e-12 * ref
        if certify:
            assert rec.certificate.ok and rec.success
            expect = tol if tol is not None else 1e-9 * max(np.abs(nxt.x).max(), np.abs(y).max())
            assert rec.certificate.tol == expect
        else:
            assert rec.certificate is None and not rec.from_lp
        assert s.w1(ctx, nxt.state, 0.1, nxt.x, nxt.a, certify=False).certificate is None


def test_a_certifying_euler_runs_with_oracles_that_have_no_plan(rng):
    from w1flow import EntropicPotential

    x, y = rng.standard_normal((20, 2)), rng.standard_normal((20, 2)) + 2
    res = simulate(W1Flow(y), x, 0.3, 0.1, solver=solvers.Euler(certify=True),
                   potential=EntropicPotential(reg=0.05), saveat=SaveAt(every=1))
    assert res.success and res.w1.size == 4
    ref = ot.emd2(np.full(20, 0.05), np.full(20, 0.05), cdist(res.x_final, y))
    assert abs(res.w1[-1] - ref) <= 1e-12 * ref  # an LP of the saving, not the oracle's estimate


def test_a_certifying_euler_runs_with_the_exact_quantile_oracle(rng):
    from w1flow import QuantilePotential

    x, y = rng.standard_normal((30, 1)), rng.standard_normal((30, 1)) + 2
    res = simulate(W1Flow(y), x, 0.3, 0.1, solver=solvers.Euler(certify=True),
                   potential=QuantilePotential(), saveat=SaveAt(every=1))
    assert res.success
    ref = ot.wasserstein_1d(res.x_final[:, 0], y[:, 0])
    assert abs(res.w1[-1] - ref) <= 1e-12


def test_reprs_evaluate_to_equivalent_objects():
    import w1flow

    ns = vars(w1flow)
    objs = [solvers.Euler(reuse_plan=False, certify=True, certify_tol=1e-6, split=True, min_mass=1e-9),
            solvers.CappedEuler(split=True), solvers.Heun(), solvers.RK4(),
            w1flow.ExactPotential(num_itermax=10**7, max_memory=None, warm_start=True),
            w1flow.EntropicPotential(reg=0.05, max_iter=500, anderson=0), w1flow.QuantilePotential(),
            w1flow.CriticPotential(hidden=(8,), n_critic=7, seed=3)]
    for o in objs:
        text = repr(o)
        assert text.startswith(type(o).__name__ + "(")
        twin = eval(text, dict(ns))
        assert type(twin) is type(o)
        assert (twin.options == o.options) if isinstance(o, solvers.Solver) else (twin.settings() == o.settings())


def test_exact_oracle_reset_forgets_its_warm_start(rng):
    from w1flow import ExactPotential

    x, y = generic_cloud(rng, 10, 2), generic_cloud(rng, 10, 2)
    a = np.full(10, 0.1)
    o = ExactPotential(warm_start=True)
    o(x, a, y, a)
    assert o.counters["lp_solves"] == 1 and o._last_duals is not None
    o.reset()
    assert o.counters["lp_solves"] == 0 and o._last_duals is None


def test_the_stability_limit_scales_with_the_problems_decay_rate():
    class FastDecay(MeanFieldODE):
        decay_rate = 4.0  # dY/dt = -4 Y: Euler contracts for dt < 2/4

    prob = FastDecay(lambda x, a, t: -4.0 * x)
    x0 = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"^dt=0\.6 is unstable for FastDecay with Euler.*use dt < 0\.5"):
        simulate(prob, x0, 1.2, 0.6, solver=solvers.Euler())
    res = simulate(prob, x0, 1.2, 0.4, solver=solvers.Euler())
    np.testing.assert_allclose(res.x_final, (1 - 1.6) ** 3 * x0, rtol=1e-14)


def test_the_result_names_its_solver_and_splitting(rng):
    x, y = generic_cloud(rng, 6, 2) + 2, generic_cloud(rng, 6, 2)
    plain = simulate(W1Flow(y), x, 0.2, 0.1, solver=solvers.Euler())
    split = simulate(W1Flow(y), x, 0.2, 0.1, solver=solvers.Euler(split=True), weights=rand_weights(rng, 6))
    assert (plain.solver, plain.split) == ("euler", False) and (split.solver, split.split) == ("euler", True)
    assert simulate(W1Flow(y), x, 0.2, 0.1, solver=solvers.CappedEuler()).solver == "capped_euler"
