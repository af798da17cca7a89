"""Results do not depend on the unit of length: simulate(W1Flow(c·y), c·x0, c·t1, c·dt) is c times
the run at (t1, dt) for c from 1e-12 to 1e8 (exact, quantile and entropic oracles; W2Flow without
rescaling time), and the certificate judges a wrong plan wrong at every scale."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

import ot
from conftest import generic_cloud, rand_weights
from w1flow import (CappedEuler, EntropicPotential, Euler, ExactPotential, QuantilePotential, SaveAt, W1Flow, W2Flow,
                    metrics, simulate)

SCALES = [1e-12, 1e-8, 1e-4, 1.0, 1e4, 1e8]


def _clouds(d, seed=0):
    rng = np.random.default_rng(seed)
    return generic_cloud(rng, 25, d, shift=2.0), generic_cloud(rng, 21, d), rand_weights(rng, 25)


def _same_up_to_scale(run, ref, c):
    assert run.status == ref.status == "success", (run.message, ref.message)
    assert run.n_steps == ref.n_steps
    np.testing.assert_allclose(run.ts, c * ref.ts, rtol=1e-13, atol=0)
    scale = c * (1 + np.abs(ref.xs[0]).max())
    assert run.x_final.shape == ref.x_final.shape
    assert np.max(np.abs(run.x_final - c * ref.x_final)) <= 1e-11 * scale
    np.testing.assert_allclose(run.a_final, ref.a_final, rtol=0, atol=1e-15)  # masses are unit-free
    if ref.w1 is not None:
        assert np.max(np.abs(run.w1 - c * ref.w1)) <= 1e-11 * scale


@pytest.mark.parametrize("c", SCALES)
@pytest.mark.parametrize("oracle, d, solver", [
    ("exact", 2, Euler()), ("exact", 2, Euler(reuse_plan=False)), ("exact", 2, CappedEuler(certify=True, split=True)),
    ("exact", 3, Euler(split=True)), ("quantile", 1, Euler()), ("quantile", 1, CappedEuler(split=True)),
    ("entropic", 2, Euler()),
])
def test_w1_flows_do_not_depend_on_the_unit_of_length(c, oracle, d, solver):
    x, y, a = _clouds(d)
    make = {"exact": lambda s: ExactPotential(), "quantile": lambda s: QuantilePotential(),
            "entropic": lambda s: EntropicPotential(0.3 * s)}[oracle]
    ref = simulate(W1Flow(y, potential=make(1.0)), x, 2.5, 0.1, solver=solver, weights=a, saveat=SaveAt(every=5))
    run = simulate(W1Flow(c * y, potential=make(c)), c * x, c * 2.5, c * 0.1, solver=solver, weights=a,
                   saveat=SaveAt(every=5))
    _same_up_to_scale(run, ref, c)


@pytest.mark.parametrize("c", SCALES)
def test_w2_flow_does_not_depend_on_the_unit_of_length(c):
    x, y, a = _clouds(2)
    ref = simulate(W2Flow(y), x, 2.0, 0.1, weights=a, saveat=SaveAt(every=4, w1=None))
    run = simulate(W2Flow(c * y), c * x, 2.0, 0.1, weights=a, saveat=SaveAt(every=4, w1=None))
    assert run.success and run.n_steps == ref.n_steps
    np.testing.assert_array_equal(run.ts, ref.ts)  # the W2 flow's time has no unit of length
    assert np.max(np.abs(run.x_final - c * ref.x_final)) <= 1e-11 * c * (1 + np.abs(x).max())
    # and against an independent W2 (POT on squared distances built here): the flow contracts W2
    w2_0 = np.sqrt(ot.emd2(a, np.full(21, 1 / 21), cdist(c * x, c * y, "sqeuclidean") / c**2)) * c
    assert metrics.w2(run.x_final, c * y, run.a_final) < w2_0


@pytest.mark.parametrize("c", SCALES)
def test_exact_w1_and_w2_metrics_match_an_independent_lp_at_every_scale(c):
    x, y, a = _clouds(2)
    b = np.full(21, 1 / 21)
    ref_w1 = ot.emd2(a, b, cdist(x, y))  # at scale 1
    ref_w2 = np.sqrt(ot.emd2(a, b, cdist(x, y, "sqeuclidean")))
    assert metrics.w1(c * x, c * y, a, b) == pytest.approx(c * ref_w1, rel=1e-12)
    assert metrics.w2(c * x, c * y, a, b) == pytest.approx(c * ref_w2, rel=1e-12)


class _WrongPlan(ExactPotential):
    """Swaps the targets of two particles: a feasible plan that is not optimal."""

    def __call__(self, x, a, y, b, t=0.0):
        pot = super().__call__(x, a, y, b, t)
        cols = pot.plan_cols.copy()
        cols[[0, 1]] = cols[[1, 0]]
        pot.plan_cols = cols
        pot._velocity = None
        return pot


@pytest.mark.parametrize("c", SCALES)
@pytest.mark.parametrize("solver", [CappedEuler(certify=True), Euler(certify=True)])
def test_the_certificate_refuses_a_wrong_plan_at_every_scale(c, solver, rng):
    x, y = generic_cloud(rng, 30, 2, shift=1.0), generic_cloud(rng, 30, 2)
    bad = simulate(W1Flow(c * y), c * x, c * 0.5, c * 0.1, solver=solver, potential=_WrongPlan())
    assert bad.status == "certificate_failed", bad.message
    good = simulate(W1Flow(c * y), c * x, c * 0.5, c * 0.1, solver=solver)
    assert good.success, good.message
