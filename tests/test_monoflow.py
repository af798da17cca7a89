"""MonoFlow and the JS flow on particles: the log-ratio classifier (its logit is log p/q, with the
pooled-loss correction's sign tested), its gradient against the exact one for Gaussians, the
velocity h'(log r) ∇ log r against an exact ratio, and a flow that reaches the data."""

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import multivariate_normal as mvn

from w1flow import SaveAt, metrics, simulate
from w1flow.density_ratio import LogRatioEstimator
from w1flow.monoflow import JSFlow, MonoFlow

MU_Q, S_Q = np.array([1.0, 0.0]), 1.2  # particles ~ N(MU_Q, S_Q² I); data ~ N(0, I)


def log_r(z):
    # (scipy squeezes one point to a scalar)
    return np.atleast_1d(mvn.logpdf(z, np.zeros(2), np.eye(2)) - mvn.logpdf(z, MU_Q, S_Q**2 * np.eye(2)))


def grad_log_r(z):
    return -z + (z - MU_Q) / S_Q**2


def _samples(n, m, seed=0):
    rng = np.random.default_rng(seed)
    return MU_Q + S_Q * rng.standard_normal((n, 2)), rng.standard_normal((m, 2)), 0.5 * MU_Q + 0.8 * rng.standard_normal((400, 2))


@pytest.mark.parametrize("balance", ["classes", pytest.param("pooled", marks=pytest.mark.slow)])
def test_the_logit_is_the_log_ratio_also_with_four_times_more_data(balance):
    """M = 4N: the pooled loss's optimum is log r + log 4 = log r + 1.39; the estimator subtracts
    it. With the sign flipped the mean error would be 2 log 4 = 2.77."""
    x, y, z = _samples(1000, 4000)
    fit = LogRatioEstimator(balance=balance).fit(x, None, y)
    assert fit.status == "converged"
    err = fit(z) - log_r(z)
    assert abs(err.mean()) < 0.15 and np.sqrt(np.mean(err**2)) < 0.25
    # the gradient (what moves particles) to 30 % in root mean square over the bulk
    gerr = np.linalg.norm(fit.grad(z) - grad_log_r(z), axis=1)
    assert np.sqrt(np.mean(gerr**2)) < 0.3 * np.sqrt(np.mean(np.linalg.norm(grad_log_r(z), axis=1) ** 2))


def test_particle_weights_count_as_sample_weights():
    # half the particles carry all the weight: the fit sees only them
    x, y, z = _samples(1000, 1000, seed=1)
    far = x + np.array([6.0, 0.0])
    both = np.concatenate([x, far])
    w = np.concatenate([np.full(1000, 1e-3), np.zeros(1000)])
    fit = LogRatioEstimator().fit(both, w, y)
    err = fit(z) - log_r(z)
    assert abs(err.mean()) < 0.2


class _Exact:
    """A stand-in estimator returning the exact Gaussian log ratio (to test the flow's wiring)."""

    status, message, success = "converged", "exact", True

    def fit(self, x, a, y, b):
        return self

    def __call__(self, z):
        return log_r(z)

    def grad(self, z):
        return grad_log_r(z)


def test_the_velocity_is_h_prime_of_log_r_times_its_gradient():
    x, y, _ = _samples(50, 60)
    a = np.full(50, 1 / 50)
    js = JSFlow(y, ratio=_Exact()).field(x, a, 0.0)
    np.testing.assert_allclose(js.velocity, expit(log_r(x))[:, None] * grad_log_r(x), rtol=1e-13, atol=1e-13)
    cube = MonoFlow(y, h=lambda s: 1.0 + s**2, ratio=_Exact()).field(x, a, 0.0)
    np.testing.assert_allclose(cube.velocity, (1 + log_r(x) ** 2)[:, None] * grad_log_r(x), rtol=1e-13, atol=1e-13)


def test_a_failed_fit_stops_the_run_with_its_status():
    x, y, _ = _samples(30, 30)
    res = simulate(MonoFlow(y, h=lambda s: np.ones_like(s), ratio=LogRatioEstimator(max_iter=1)), x, 1.0, 0.1)
    assert res.status == "ratio_failed" and "L-BFGS" in res.message and res.n_steps == 0


@pytest.mark.slow
def test_the_kl_flow_with_a_learned_ratio_brings_particles_to_the_data():
    x, y, _ = _samples(300, 300, seed=2)
    res = simulate(MonoFlow(y, h=lambda s: np.ones_like(s)), x, 2.0, 0.1, saveat=SaveAt(every=20))
    assert res.success
    assert res.w1[-1] < 0.4 * res.w1[0]  # the exact W1 to the data, recorded as for every flow with data
    before, after = metrics.w2(x, y), metrics.w2(res.x_final, y)
    assert after < 0.6 * before, (before, after)


@pytest.mark.parametrize("name", ["reverse_kl", "forward_kl", "js", "vanilla_gan", "pearson", "hellinger",
                                  "non_saturating"])
def test_table_names_give_their_rescaling_and_the_potential_is_minus_h(name):
    from w1flow.divergences import monoflow_h

    entry = monoflow_h(name)
    x, y, _ = _samples(40, 50)
    a = np.full(40, 1 / 40)
    pot = MonoFlow(y, h=name, ratio=_Exact()).field(x, a, 0.0)
    s = log_r(x)
    np.testing.assert_allclose(pot.velocity, entry.dh(s)[:, None] * grad_log_r(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pot(x), -entry.h(s), rtol=1e-12, atol=1e-12)  # φ = −h(log r)
    # −∇φ is the velocity: a central difference of φ off the particles
    z, e = x[:3] + 0.1, 1e-6
    fd = np.array([[(pot(z[i:i + 1] + e * np.eye(2)[k]) - pot(z[i:i + 1] - e * np.eye(2)[k]))[0] / (2 * e)
                    for k in range(2)] for i in range(3)])
    np.testing.assert_allclose(-pot.grad(z), -fd, rtol=1e-6, atol=1e-6)


def test_an_unknown_name_or_a_bad_oracle_is_refused():
    y = np.zeros((3, 2))
    with pytest.raises((ValueError, KeyError), match="nope"):
        MonoFlow(y, h="nope")
    with pytest.raises(TypeError, match="ratio must be an estimator"):
        MonoFlow(y, ratio=3)


def test_flows_record_their_own_functional_at_save_points(tmp_path):
    """W2Flow records the exact W2 (checked against POT's emd2 on cdist costs); a MonoFlow the plug-in
    estimate Σ a_i f(r(x_i)) of its f-divergence (checked with an exact ratio); plots draw them."""
    import ot
    from scipy.spatial.distance import cdist

    from w1flow import W2Flow
    from w1flow.divergences import monoflow_h
    from w1flow.plotting import plot_functional

    x, y, _ = _samples(30, 40)
    w2 = simulate(W2Flow(y), x, 0.6, 0.1, saveat=SaveAt(every=2))
    ref = [np.sqrt(ot.emd2(np.full(30, 1 / 30), np.full(40, 1 / 40), cdist(z, y, "sqeuclidean"))) for z in w2.xs]
    np.testing.assert_allclose(w2.functional, ref, rtol=1e-12, atol=1e-12)
    assert w2.n_field_evals == w2.n_steps + 1  # the save points reuse the fields the steps need (one at t1)
    kl = simulate(MonoFlow(y, h="forward_kl", ratio=_Exact()), x, 0.3, 0.1)
    f = monoflow_h("forward_kl").f
    np.testing.assert_allclose(kl.functional, [np.mean(f(np.exp(log_r(z)))) for z in kl.xs], rtol=1e-12)
    assert kl.functional_name == "D_f estimate (forward_kl)"
    fig = plot_functional({"W2-FE": w2}, path=tmp_path / "f.png")
    assert fig.axes[0].get_yscale() == "log" and (tmp_path / "f.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="has no functional"):
        plot_functional({"ode": simulate(MonoFlow(y, h=lambda s: np.ones_like(s), ratio=_Exact()), x, 0.1, 0.1)})
