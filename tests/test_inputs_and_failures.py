"""Bad input is refused with a message naming the argument; LP failures are never silent."""

import numpy as np
import pytest

from w1flow import (Checkpoint, CappedEuler, Euler, ExactPotential, MemoryBudgetError, SaveAt, W1Flow, metrics,
                    simulate)
from w1flow.lp import default_num_itermax, pairwise_distances, solve_w1_lp

Y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
X = np.array([[3.0, 0.0], [3.0, 1.0], [4.0, 0.5]])


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(x0=np.array([[np.nan, 0.0]] * 3)), ValueError, "x0 contains"),
        (dict(x0=np.array([[np.inf, 0.0]] * 3)), ValueError, "x0 contains"),
        (dict(x0=np.zeros((0, 2))), ValueError, "x0 is empty"),
        (dict(x0=np.zeros((3, 2, 1))), ValueError, "x0 must have shape"),
        (dict(x0=np.zeros((3, 3))), ValueError, "x0 has dimension 3 but problem.target has dimension 2"),
        (dict(x0="abc"), TypeError, "x0"),
        (dict(weights=[0.5, -0.1, 0.6]), ValueError, "weights must be non-negative"),
        (dict(weights=[0.0, 0.0, 0.0]), ValueError, "weights have zero total mass"),
        (dict(weights=[0.5, 0.5]), ValueError, r"weights must have shape \(3,\)"),
        (dict(weights=[0.5, np.nan, 0.5]), ValueError, "weights contains NaN"),
        (dict(dt=0.0), ValueError, "dt must be > 0"),
        (dict(dt=-1.0), ValueError, "dt must be > 0"),
        (dict(dt=np.nan), ValueError, "dt must be finite"),
        (dict(t1=-1.0), ValueError, "t1 must be >= 0"),
        (dict(solver="euler"), TypeError, "solver must be a Solver"),
        (dict(potential=3), TypeError, "potential must be a potential oracle"),
        (dict(saveat=dict(every=10)), TypeError, "saveat must be a SaveAt"),
        (dict(checkpoint=3), TypeError, "checkpoint path must be a str or a Path"),
    ],
)
def test_simulate_rejects_bad_input(kwargs, exc, match):
    args = dict(problem=W1Flow(Y), x0=X, t1=1.0, dt=0.1)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        simulate(**args)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: SaveAt(every=0), ValueError, r"\bevery must be >= 1"),
        (lambda: SaveAt(every=1.5), TypeError, r"\bevery must be an integer"),
        (lambda: SaveAt(every=2, ts=[1.0]), ValueError, "every= or ts="),
        (lambda: SaveAt(ts=[-1.0]), ValueError, r"\bts must hold finite times"),
        (lambda: SaveAt(ts=[np.nan]), ValueError, r"\bts must hold finite times"),
        (lambda: SaveAt(w1="exact"), ValueError, r"\bw1 must be 'auto', 'lp' or None"),
        (lambda: Checkpoint("run.ckpt", every=0), ValueError, r"\bevery must be >= 1"),
        (lambda: Checkpoint("run.ckpt", resume="yes"), TypeError, r"\bresume must be True or False"),
        (lambda: Euler(split="yes"), TypeError, r"\bsplit must be True or False"),
        (lambda: simulate(W1Flow(Y), X, 1.0, 0.1, saveat=SaveAt(ts=[2.0])), ValueError, r"after t1"),
    ],
)
def test_specs_reject_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize(
    "target, weights, exc, match",
    [
        (np.zeros((0, 2)), None, ValueError, "target is empty"),
        ([[0.0, np.nan]], None, ValueError, "target contains"),
        (Y, [1.0, -1.0, 1.0], ValueError, "target_weights must be non-negative"),
        (Y, [0.0, 0.0, 0.0], ValueError, "target_weights have zero total mass"),
        (None, None, TypeError, "target"),
    ],
)
def test_problem_rejects_bad_target(target, weights, exc, match):
    with pytest.raises(exc, match=match):
        W1Flow(target, weights)


def test_conversions_are_documented_and_harmless():
    """Lists, ints, float32 and non-contiguous input become float64 and give the same flow."""
    ref = simulate(W1Flow(Y), X, 1.0, 0.25)
    strided = np.zeros((3, 4))
    strided[:, ::2] = X
    assert not strided[:, ::2].flags.c_contiguous
    variants = [X.tolist(), X.astype(np.float32), np.asfortranarray(X), strided[:, ::2]]
    for xv in variants:
        res = simulate(W1Flow(Y.tolist()), xv, 1.0, 0.25)
        assert res.xs[0].dtype == np.float64 and res.xs[0].flags.c_contiguous
        np.testing.assert_allclose(res.w1, ref.w1, atol=1e-6)
    ints = simulate(W1Flow([[0, 0], [1, 0], [0, 1]]), [[3, 0], [3, 1], [4, 0]], 1.0, 0.25)
    assert ints.success and ints.xs[0].dtype == np.float64


def test_unnormalised_weights_warn_and_are_normalised():
    with pytest.warns(UserWarning, match="weights sum to 3"):
        res = simulate(W1Flow(Y), X, 0.5, 0.25, weights=[1.0, 1.0, 1.0])
    np.testing.assert_allclose(res.weights[0], 1 / 3)
    ref = simulate(W1Flow(Y), X, 0.5, 0.25)
    np.testing.assert_allclose(res.w1, ref.w1, atol=1e-14)


def test_zero_weight_tracers_move_without_changing_w1():
    x = np.vstack([X, [[5.0, 5.0]]])
    res = simulate(W1Flow(Y), x, 1.0, 0.25, weights=[1 / 3, 1 / 3, 1 / 3, 0.0])
    ref = simulate(W1Flow(Y), X, 1.0, 0.25)
    np.testing.assert_allclose(res.w1, ref.w1, atol=1e-12)
    moved = np.linalg.norm(res.x_final[3] - x[3])
    assert moved == pytest.approx(1.0)  # unit speed along −∇φ of the extension
    assert np.all(np.isfinite(res.x_final))


def test_particles_on_data_points_and_duplicates_give_no_nan():
    y = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # duplicated target point
    x = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # coincident particles, on the data
    res = simulate(W1Flow(y), x, 1.0, 0.25)
    assert res.success and np.all(res.w1 == 0) and np.all(np.isfinite(res.x_final))
    np.testing.assert_array_equal(res.x_final, x)


def test_n_equals_one_and_t1_zero():
    res = simulate(W1Flow([[0.0, 0.0]]), [[3.0, 4.0]], 6.0, 1.0, solver=CappedEuler())
    np.testing.assert_allclose(res.w1, [5, 4, 3, 2, 1, 0, 0], atol=1e-14)
    res0 = simulate(W1Flow(Y), X, 0.0, 0.1)
    assert res0.success and res0.n_steps == 0 and len(res0.ts) == 1


def test_last_step_lands_exactly_on_t1_and_snapshots_include_ends():
    res = simulate(W1Flow(Y), X, 1.0, 0.3, saveat=SaveAt(every=2))
    assert res.ts[0] == 0.0 and res.ts[-1] == 1.0
    assert res.n_steps == 4
    np.testing.assert_allclose(res.ts, [0.0, 0.6, 1.0])


def test_num_itermax_grows_with_size():
    assert default_num_itermax(10, 10) >= 10**6
    assert default_num_itermax(4000, 4000) > 10**8


def test_non_optimal_lp_shows_in_status_and_stops_simulate():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)) + 3, rng.normal(size=(60, 2))
    oracle = ExactPotential(method="dense", num_itermax=5)
    pot = oracle(x, np.full(60, 1 / 60), y, np.full(60, 1 / 60))
    assert pot.status == "max_iter_reached" and not pot.success
    assert "numItermax=5" in pot.message
    # "auto": the dense LP fails, the sparse LP with the same cap too; both are named
    pot = ExactPotential(num_itermax=5)(x, np.full(60, 1 / 60), y, np.full(60, 1 / 60))
    assert pot.status == "not_certified" and not pot.success
    assert "numItermax=5" in pot.message and "not certified" in pot.message
    for method in ("dense", "auto"):
        for solver in (Euler(), CappedEuler()):
            res = simulate(W1Flow(y), x, 1.0, 0.1, solver=solver, potential=ExactPotential(method=method, num_itermax=5))
            assert res.status == "lp_failed" and not res.success
            assert "result_code=3" in res.message
            assert res.n_steps == 0


def test_costs_from_direct_differences_are_exact_near_coincidence():
    import ot

    rng = np.random.default_rng(1)
    y = rng.normal(size=(200, 2)) * 10
    x = y + 1e-9 * rng.normal(size=y.shape)
    direct = pairwise_distances(x, y)
    exact = np.linalg.norm(x[:, None] - y[None], axis=-1)
    assert np.max(np.abs(direct - exact)) < 1e-15
    gram = ot.dist(x, y, metric="euclidean")
    assert np.max(np.abs(gram - exact)) > 1e-9  # the trap this package avoids
    assert metrics.w1(y, y) == 0.0


def test_memory_budget_guard():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    with pytest.raises(MemoryBudgetError, match="memory budget"):
        solve_w1_lp(x, np.full(300, 1 / 300), x, np.full(300, 1 / 300), max_memory=1e5)
    with pytest.raises(MemoryBudgetError, match="sliced"):
        simulate(W1Flow(x), x + 1, 1.0, 0.5, potential=ExactPotential(max_memory=1e5, method="dense"))  # (G3)


def test_callback_can_stop_the_run():
    res = simulate(W1Flow(Y), X, 2.0, 0.1, callback=lambda t, x, a: t >= 0.5 - 1e-12)
    assert res.status == "callback" and res.ts[-1] == pytest.approx(0.5)
    assert len(res.w1) == len(res.ts) == len(res.xs)


def test_keyboard_interrupt_returns_partial_result():
    def cb(t, x, a):
        if t > 0.35:
            raise KeyboardInterrupt

    res = simulate(W1Flow(Y), X, 2.0, 0.1, callback=cb)
    assert res.status == "interrupted"
    assert res.ts[-1] == pytest.approx(0.4)
    assert len(res.w1) == len(res.ts)


def test_metrics_known_values():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    shift = np.array([0.3, -1.2, 2.0])
    assert metrics.w1(x, x + shift) == pytest.approx(np.linalg.norm(shift), abs=1e-12)
    assert metrics.w2(x, x + shift) == pytest.approx(np.linalg.norm(shift), abs=1e-12)
    y = rng.normal(size=(40, 3))
    s = metrics.sliced_w1(x, y, n_projections=100, seed=0)
    assert 0 < s <= metrics.w1(x, y)
    assert s == metrics.sliced_w1(x, y, n_projections=100, seed=0)
    # 1-D: the exact integral of |F − G|
    assert metrics.w1([0.0, 1.0], [2.0, 4.0]) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="x has dimension 3 but y has dimension 2"):
        metrics.w1(x, y[:, :2])


def test_explicit_uniform_weights_keep_permutation_plans():
    """np.full(n, 1/n)-style weights sum to 1 ± 1e-15: kept as given, so plans stay permutations."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(100, 2)) + 2, rng.normal(size=(100, 2))
    w = np.full(100, 0.01)
    assert w.sum() != 1.0
    res = simulate(W1Flow(y, w), x, 1.0, 0.25, solver=CappedEuler(), weights=w)
    ref = simulate(W1Flow(y), x, 1.0, 0.25, solver=CappedEuler())
    assert res.success
    np.testing.assert_allclose(res.w1, ref.w1, atol=1e-13)


def test_field_evaluations_are_counted_without_an_oracle():
    from w1flow.problems import MeanFieldODE

    res = simulate(MeanFieldODE(lambda x, a, t: -x), np.ones((3, 2)), 1.0, 0.25)
    assert res.n_field_evals == 4 and res.n_lp_solves == 0 and res.w1 is None
    np.testing.assert_allclose(res.x_final, 0.75**4)


@pytest.mark.parametrize("scale", [1e-160, 1e-200, 1e160, 1e200])
def test_coordinates_whose_squared_differences_leave_float64_are_refused(scale):
    """Distances are built from squared direct differences: past 1e150 they overflow (the LP then
    failed with a RuntimeError), below 1e-140 they vanish (W1 came back 0.0 at 1e-170, 1.7e-4 off at
    1e-160: wrong answers). Refused with the fix named, by every exact entry point."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 2)) * scale, rng.normal(size=(5, 2)) * scale
    with pytest.raises(ValueError, match="Rescale both clouds"):
        metrics.w1(x, y)
    with pytest.raises(ValueError, match="x and y have coordinates"):
        metrics.w2(x, y)
    with pytest.raises(ValueError, match="Rescale both clouds"):
        ExactPotential()(x, None, y, None)
    with pytest.raises(ValueError, match="Rescale both clouds"):
        simulate(W1Flow(y), x, 0.2, 0.1, solver=Euler())


@pytest.mark.parametrize("scale", [1e-120, 1e120])
def test_w1_is_homogeneous_up_to_the_edges_of_the_coordinate_range(scale):
    import ot
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(20, 3)) + 0.5
    ref = ot.emd2(np.full(30, 1 / 30), np.full(20, 1 / 20), cdist(x, y))
    assert abs(metrics.w1(x * scale, y * scale) / scale - ref) <= 1e-12 * ref
    assert metrics.w1(np.zeros((3, 2)), np.zeros((2, 2))) == 0.0  # all-zero clouds are fine
