"""Per-particle parameters (MeanFieldODE(drift, params=...)): the drift gets row i with particle
i, through splitting (the parent map), resumed checkpoints and saved results; bad parameters are
refused with the argument named."""

import numpy as np
import pytest

from conftest import stop_after

from w1flow import RK4, Checkpoint, CheckpointError, Euler, FlowResult, MeanFieldODE, SaveAt, simulate
from w1flow.solvers import Solver, StepResult
from w1flow.interactions import KuramotoCoupling

N = 40


def _omega():
    return np.random.default_rng(5).normal(0.0, 1.0, N)


def _theta0():
    return np.random.default_rng(3).uniform(-np.pi, np.pi, (N, 1))


def test_parameters_reach_the_drift_in_particle_order():
    omega = _omega()
    coupling = KuramotoCoupling(1.5)
    with_params = MeanFieldODE(lambda th, w, t, p: p["omega"][:, None] + coupling(th, w, t) * np.cos(t),
                               params={"omega": omega})
    closure = MeanFieldODE(lambda th, w, t: omega[:, None] + coupling(th, w, t) * np.cos(t))
    r1 = simulate(with_params, _theta0(), 1.0, 0.05, solver=RK4())
    r2 = simulate(closure, _theta0(), 1.0, 0.05, solver=RK4())
    assert r1.success and r1.x_final.tobytes() == r2.x_final.tobytes()
    # a shuffled ensemble with its parameters shuffled the same way is the same ensemble
    perm = np.random.default_rng(0).permutation(N)
    r3 = simulate(MeanFieldODE(with_params.drift, params={"omega": omega[perm]}), _theta0()[perm], 1.0, 0.05,
                  solver=RK4())
    np.testing.assert_allclose(r3.x_final, r1.x_final[perm], rtol=0, atol=1e-13)
    np.testing.assert_array_equal(r1.params_at(-1)["omega"], omega)


class _SplitInTwo(Solver):
    """A test solver whose init splits every particle into two half-mass copies (reversed order,
    so the parent map is not monotone), then takes Euler steps."""

    name = "split-in-two"

    def init(self, ctx, t0, dt0, x, a):
        n = x.shape[0]
        parent = np.concatenate([np.arange(n)[::-1], np.arange(n)])
        return StepResult(x[parent], a[parent] / 2.0, parent=parent)

    def step(self, ctx, t, dt, x, a, state):
        f = ctx.field(x, a, t)
        return StepResult(x + dt * f.velocity, a)


def test_parameters_follow_particles_through_splitting():
    rates = np.linspace(0.5, 2.0, 6)
    x0 = np.arange(6.0)[:, None]
    # each particle moves at its own constant speed: x(t) = x0 + t * rate of its parent
    prob = MeanFieldODE(lambda x, w, t, p: np.broadcast_to(p, x.shape).copy(), params=rates[:, None])
    res = simulate(prob, x0, 1.0, 0.25, solver=_SplitInTwo())
    assert res.success and res.xs[-1].shape[0] == 12
    parent = res.parents[-1]
    np.testing.assert_allclose(res.x_final[:, 0], x0[parent, 0] + rates[parent], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(res.params_at(-1)[:, 0], rates[parent])


def test_resume_with_the_same_parameters_is_bitwise_and_other_parameters_are_refused(tmp_path):
    coupling = KuramotoCoupling(2.0)

    def drift(th, w, t, p):
        return p[:, :1] + p[:, 1:] * coupling(th, w, t)

    params = np.column_stack([_omega(), np.linspace(0.5, 1.5, N)])
    ck = tmp_path / "run.ckpt"
    part = simulate(MeanFieldODE(drift, params=params), _theta0(), 1.0, 0.01, solver=RK4(),
                    checkpoint=Checkpoint(ck, every=10), callback=stop_after(30))
    assert part.status == "interrupted"
    other = params.copy()
    other[7, 1] += 1e-9
    with pytest.raises(CheckpointError, match=r"problem\.params"):
        simulate(MeanFieldODE(drift, params=other), _theta0(), 1.0, 0.01, solver=RK4(),
                 checkpoint=Checkpoint(ck, resume=True))
    done = simulate(MeanFieldODE(drift, params=params), _theta0(), 1.0, 0.01, solver=RK4(),
                    checkpoint=Checkpoint(ck, resume=True))
    ref = simulate(MeanFieldODE(drift, params=params), _theta0(), 1.0, 0.01, solver=RK4())
    assert done.success and done.x_final.tobytes() == ref.x_final.tobytes()


def test_saved_results_keep_the_parameters(tmp_path):
    prob = MeanFieldODE(lambda x, w, t, p: -p["k"][:, None] * x, params={"k": np.linspace(1, 2, 5),
                                                                        "kind": np.arange(5) % 2 == 0})
    res = simulate(prob, np.ones((5, 1)), 0.2, 0.1, saveat=SaveAt(every=1))
    back = FlowResult.load(res.save(tmp_path / "r"))
    assert back.params.keys() == {"k", "kind"} and back.params["kind"].dtype == bool
    np.testing.assert_array_equal(back.params_at(1)["k"], np.linspace(1, 2, 5))


def test_the_user_array_is_copied_and_the_drift_cannot_write_parameters():
    k = np.ones(4)
    prob = MeanFieldODE(lambda x, w, t, p: -p[:, None] * x, params=k)
    k[:] = 100.0  # changing the caller's array later does not change the problem
    res = simulate(prob, np.ones((4, 1)), 0.1, 0.1)
    np.testing.assert_allclose(res.x_final, 0.9)

    def writes(x, w, t, p):
        p[0] = 5.0
        return -x

    with pytest.raises(ValueError, match="read-only"):
        simulate(MeanFieldODE(writes, params=np.ones(4)), np.ones((4, 1)), 0.1, 0.1)


@pytest.mark.parametrize("params, match", [
    (np.ones(3), r"params have 3 rows but x0 has 4 particles"),
    ({"a": np.ones(4), "b": np.ones(3)}, r"every params field needs one row per particle"),
    (2.0, r"params is a scalar"),
    (np.array(["a", "b", "c", "d"]), r"params must be a numeric"),
    ({"1x": np.ones(4)}, r"params keys must be names"),
    ({}, r"params is an empty dict"),
    (np.array([1.0, np.nan, 0, 0]), r"params has non-finite values"),
])
def test_bad_parameters_are_refused_with_the_argument_named(params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        simulate(MeanFieldODE(lambda x, w, t, p: -x, params=params), np.ones((4, 1)), 0.1, 0.1, solver=Euler())
