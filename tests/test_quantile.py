"""The exact 1-D potential from CDFs (QuantilePotential) and the quantile closed forms: identities
against the LP, Kantorovich duality, the sign of φ', and the flow it drives."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import w1flow as wf
from conftest import examples, rand_weights
from w1flow import metrics
from w1flow.closed_forms import quantile_flow, quantile_flow_w1
from w1flow.potentials.exact import ExactPotential
from w1flow.potentials.quantile import QuantilePotential
from w1flow.solvers import CappedEuler


def test_quantile_potential_identities():
    rng = np.random.default_rng(11)
    x, y = 1.0 + rng.standard_normal((40, 1)), 0.5 * rng.standard_normal((55, 1))
    a, b = rand_weights(rng, 40), rand_weights(rng, 55)
    a[3] = 0.0
    a /= a.sum()
    q, e = QuantilePotential()(x, a, y, b), ExactPotential()(x, a, y, b)
    assert q.success and q.status == "optimal"
    assert q.w1 == pytest.approx(e.w1, rel=1e-12)
    assert a @ q(x) - b @ q(y) == pytest.approx(e.w1, rel=1e-12)  # KR duality
    z = np.linspace(-4, 5, 2001)
    assert np.max(np.abs(np.diff(q(z))) / np.diff(z)) <= 1 + 1e-9  # 1-Lipschitz
    pos = a > 0
    np.testing.assert_allclose(q.velocity[pos], e.velocity[pos], atol=1e-14)
    # φ' = sign(F_ν − F_μ) off the support: +1 (particles move left) where F_μ < F_ν
    zz = np.linspace(-3, 4, 301).reshape(-1, 1)
    Fm = np.array([a[x[:, 0] <= t].sum() for t in zz[:, 0]])
    Fn = np.array([b[y[:, 0] <= t].sum() for t in zz[:, 0]])
    sgn = np.sign(np.where(np.abs(Fn - Fm) < 1e-12, 0.0, Fn - Fm))
    np.testing.assert_array_equal(q.grad(zz)[:, 0], sgn)
    with pytest.raises(ValueError, match="1-D only"):
        QuantilePotential()(np.zeros((3, 2)), None, np.ones((4, 2)), None)


@settings(deadline=None, max_examples=examples(10))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), m=st.integers(2, 30),
       weighted=st.booleans())
def test_quantile_flow_matches_exact_lp_flow(seed, n, m, weighted):
    """Euler with the quantile oracle reproduces the exact LP flow's W1 history (same plan)."""
    rng = np.random.default_rng(seed)
    x0, y = 1.5 + rng.standard_normal(n), rng.standard_normal(m)
    a = rand_weights(rng, n) if weighted else None
    b = rand_weights(rng, m) if weighted else None
    prob = wf.W1Flow(y, b)
    rq = wf.simulate(prob, x0, 2.0, 0.1, weights=a, potential=QuantilePotential())
    re = wf.simulate(prob, x0, 2.0, 0.1, weights=a, potential=ExactPotential())
    assert rq.success and re.success
    np.testing.assert_allclose(rq.w1, re.w1, rtol=0, atol=1e-12)
    # the closed form of the (splitting) capped flow
    rc = wf.simulate(prob, x0, 4.0, 0.25, weights=a, potential=QuantilePotential(),
                     solver=CappedEuler(split=True))
    np.testing.assert_allclose(rc.w1, quantile_flow_w1(x0, a, y, b, rc.ts), atol=1e-12)
    z, w, _ = quantile_flow(x0, a, y, b, 4.0)
    assert metrics.w1(z, rc.x_final, w, rc.a_final) <= 1e-12
