"""McKean–Vlasov SDEs: the Brownian path, and the orders of Euler–Maruyama and Milstein.

Strong errors compare runs at dt and dt/2 on the *same* Brownian path (the problem's seeded
path), root mean square over the particles at T, and the order is fitted on these successive
differences; the reference is the N-particle system itself, so the O(1/N) gap to the
McKean–Vlasov law does not enter. The weak order is fitted on successive differences of the
second moment, coupled the same way, over N·R = 4·10⁴ samples (R independent ensembles in one
run, told apart by a per-particle parameter), and its limit is checked against the closed form.
Every step size satisfies λ·dt <= 0.1 (asymptotic range); hypothesis is derandomised over
bounded parameter boxes, so the tests are deterministic.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import stop_after

from w1flow import (RK4, BrownianPath, Checkpoint, Euler, EulerMaruyama, McKeanVlasovSDE, MeanFieldODE, Milstein,
                    SaveAt, simulate)

FINAL = SaveAt(every=10**9)  # keep only the initial and final states


def _fit(dts, errs):
    return float(np.polyfit(np.log(dts), np.log(errs), 1)[0])


def _strong_order(sde, solver, x0, ks, T=1.0):
    xs = [simulate(sde, x0, T, 2.0**-k, solver=solver, saveat=FINAL, monitors=None).x_final for k in ks]
    errs = [np.sqrt(np.mean((xs[i] - xs[i + 1]) ** 2)) for i in range(len(xs) - 1)]
    return _fit([2.0**-k for k in ks[:-1]], errs)


# -- the Brownian path --------------------------------------------------------------------------
def test_coarse_increments_are_sums_of_fine_ones_and_queries_do_not_depend_on_order():
    W = BrownianPath((50, 2), seed=4)
    fine = sum(W.increment(j / 64, (j + 1) / 64) for j in range(64, 128))
    np.testing.assert_allclose(fine, W.increment(1.0, 2.0), rtol=0, atol=1e-13)
    ts = [0.3, 1.75, 0.125, 2.0, 0.3000001, 5.5]
    a = [W(t) for t in ts]
    fresh = BrownianPath((50, 2), seed=4, cache_bytes=0)  # nothing cached: every value recomputed
    b = [fresh(t) for t in reversed(ts)][::-1]
    for u, v in zip(a, b):
        assert u.tobytes() == v.tobytes()
    assert not np.array_equal(BrownianPath((50, 2), seed=5)(1.0), W(1.0))


def _arrays_held(obj, seen=None):
    """Bytes of every ndarray reachable from ``obj``'s attributes (lists, dicts, tuples included)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(_arrays_held(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_arrays_held(v, seen) for v in obj)
    if isinstance(obj, BrownianPath):
        return sum(_arrays_held(v, seen) for v in vars(obj).values())
    return 0


def test_long_physical_time_stays_within_cache_bytes_and_is_reproducible():
    """Issue [S]: W(k) at integer times was kept outside cache_bytes (W(1e6): 10^6 arrays); a run to
    a long time must hold at most cache_bytes, with W(t) bitwise the documented sum of seeded
    unit increments whichever values were kept."""
    budget = 64 * 10 * 8  # 64 arrays of shape (10,)
    W = BrownianPath((10,), seed=3, cache_bytes=budget)
    w = W(3000.0)
    assert _arrays_held(W) <= budget
    ref = np.zeros(10)  # the construction: W(k) = Σ_{j<k} ξ_j, ξ_j seeded by (seed, j, 0, 0), in order
    for j in range(3000):
        ref = ref + np.random.default_rng(np.random.SeedSequence(entropy=3, spawn_key=(j, 0, 0))).standard_normal(10)
    assert w.tobytes() == ref.tobytes()
    mid = W(1234.375)  # back in time after the long query: recomputed from what was kept
    assert _arrays_held(W) <= budget
    assert mid.tobytes() == BrownianPath((10,), seed=3)(1234.375).tobytes()
    steps = [W(3000.0 + k / 8) for k in range(1, 33)]  # a run going on: still within the budget
    assert _arrays_held(W) <= budget
    fresh = BrownianPath((10,), seed=3, cache_bytes=0)
    assert steps[-1].tobytes() == fresh(3004.0).tobytes() and _arrays_held(fresh) == 0
    # the cost rule: half the budget (32 arrays) holds W(k) at multiples of a stride, so after
    # W(3000) the stride is at most 2·3000/32 and W at an integer time costs at most that many draws
    draws = []
    normal = W._normal
    W._normal = lambda *key: draws.append(key) or normal(*key)
    assert W(1234.0).tobytes() == BrownianPath((10,), seed=3)(1234.0).tobytes()
    assert 0 < len(draws) <= 2 * 3000 / 32


@pytest.mark.parametrize("s, t", [(0.0, 1.0), (0.25, 0.375), (0.1, 0.3), (2.3, 2.31), (0.5, 3.0)])
def test_increments_have_the_brownian_law(s, t):
    W = BrownianPath((40000,), seed=11)
    d = W.increment(s, t)
    h = t - s
    # sample variance of 40,000 normals: relative standard error sqrt(2/40000) = 0.7 %
    assert abs(d.var() / h - 1.0) < 0.035
    assert abs(d.mean()) < 4 * np.sqrt(h / 40000)
    # independent increments on disjoint intervals, and W(t) − W(s) independent of W(s)
    before = W(s)
    if s > 0:
        assert abs(np.corrcoef(before, d)[0, 1]) < 0.02


def test_times_between_the_finest_nodes_are_interpolated_linearly():
    W = BrownianPath((5,), seed=2, max_level=3)  # nodes every 1/8
    np.testing.assert_allclose(W(1 / 16), 0.5 * (W(0.0) + W(1 / 8)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(W(0.3), W(0.25) + 0.4 * (W(0.375) - W(0.25)), rtol=0, atol=1e-15)


def test_bad_path_arguments_are_named():
    with pytest.raises(ValueError, match="seed must be >= 0"):
        BrownianPath((3,), seed=-1)
    with pytest.raises(ValueError, match=r"increment\(s, t\) needs s <= t"):
        BrownianPath((3,)).increment(1.0, 0.5)
    with pytest.raises(ValueError, match=r"\bt\b"):
        BrownianPath((3,))(-0.1)


# -- the problem and its refusals ------------------------------------------------------------------
def _ou(sigma=0.7, seed=3):
    # mean-field OU with a time-dependent forcing (Runge–Kutta-style time nodes are exercised)
    return McKeanVlasovSDE(lambda x, w, t: -x + 0.5 * (w @ x - x) + np.sin(2.0 * t), sigma, seed=seed)


def test_deterministic_solvers_refuse_an_sde_and_sde_schemes_refuse_an_ode():
    x0 = np.zeros((5, 1))
    for solver in (Euler(), RK4()):
        with pytest.raises(TypeError, match="would drop its noise"):
            simulate(_ou(), x0, 0.1, 0.05, solver=solver)
    with pytest.raises(TypeError, match="has no noise"):
        simulate(MeanFieldODE(lambda x, w, t: -x), x0, 0.1, 0.05, solver=EulerMaruyama())
    calls = []
    with pytest.raises(TypeError, match="diffusion_dx"):  # refused before any work
        simulate(McKeanVlasovSDE(lambda x, w, t: calls.append(t) or -x, lambda x, w, t: x), x0, 0.1, 0.05,
                 solver=Milstein())
    assert calls == []
    with pytest.raises(ValueError, match="noise_dim"):
        McKeanVlasovSDE(lambda x, w, t: -x, lambda x, w, t: x, noise="general")
    with pytest.raises(ValueError, match=r"must return an array of shape \(5, 1\)"):
        simulate(McKeanVlasovSDE(lambda x, w, t: -x, lambda x, w, t: np.ones((3, 1))), x0, 0.1, 0.05,
                 solver=EulerMaruyama())


def test_a_per_particle_diffusion_vector_is_refused_not_transposed():
    """Issue [S]: a diffusion of shape (n,) with n == d was broadcast along the coordinates (σ_k for
    coordinate k instead of σ_i for particle i). 1-D outputs are refused; (n, 1) is per particle."""
    n = d = 3
    x0 = np.zeros((n, d))
    sig = np.array([0.1, 1.0, 10.0])
    for name, solver, kw in [
            ("diffusion", EulerMaruyama(), dict(diffusion=lambda x, w, t: sig)),
            ("diffusion_dx", Milstein(), dict(diffusion=lambda x, w, t: np.ones((n, d)), diffusion_dx=lambda x, w, t: sig))]:
        sde = McKeanVlasovSDE(lambda x, w, t: 0.0 * x, seed=2, **kw)
        with pytest.raises(ValueError, match=rf"{name}\(x, weights, t\) returned an array of shape \(3,\).*\(n, 1\)"):
            simulate(sde, x0, 0.25, 0.25, solver=solver)
    sde = McKeanVlasovSDE(lambda x, w, t: 0.0 * x, lambda x, w, t: sig[:, None], seed=2)
    res = simulate(sde, x0, 0.25, 0.25, solver=EulerMaruyama(), saveat=FINAL)
    dw = BrownianPath((n, d), seed=2)(0.25)  # an independent path object: particle i moves by σ_i dW_i
    np.testing.assert_allclose(res.x_final, sig[:, None] * dw, rtol=1e-15)


def test_general_noise_with_a_diagonal_matrix_is_diagonal_noise():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(30, 2))
    drift = lambda x, w, t: -(x - w @ x)  # noqa: E731
    diag = McKeanVlasovSDE(drift, lambda x, w, t: 0.3 + 0.1 * x, seed=7)
    gen = McKeanVlasovSDE(drift, lambda x, w, t: (0.3 + 0.1 * x)[:, :, None] * np.eye(2)[None], noise="general",
                          noise_dim=2, seed=7)
    r1 = simulate(diag, x0, 0.5, 0.0625, solver=EulerMaruyama())
    r2 = simulate(gen, x0, 0.5, 0.0625, solver=EulerMaruyama())
    np.testing.assert_allclose(r1.x_final, r2.x_final, rtol=0, atol=1e-14)
    assert not np.allclose(r1.x_final, simulate(diag.with_seed(8), x0, 0.5, 0.0625, solver=EulerMaruyama()).x_final)


def test_general_noise_multiplies_each_particles_brownian_vector():
    """One Euler–Maruyama step with σ (n, d, m), m = 3 ≠ d = 2, against the formula written out."""
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=(6, 2))
    mix = rng.normal(size=(2, 3))
    sde = McKeanVlasovSDE(lambda x, w, t: -x, lambda x, w, t: x[:, :, None] * mix[None], noise="general",
                          noise_dim=3, seed=5)
    dt = 0.125
    res = simulate(sde, x0, dt, dt, solver=EulerMaruyama())
    dw = BrownianPath((6, 3), seed=5)(dt)  # an independent path object with the same seed
    expected = np.array([[x0[i, k] - dt * x0[i, k] + sum(x0[i, k] * mix[k, j] * dw[i, j] for j in range(3))
                          for k in range(2)] for i in range(6)])
    np.testing.assert_allclose(res.x_final, expected, rtol=0, atol=1e-14)


def test_the_same_seed_is_the_same_run_and_a_resumed_run_is_bitwise(tmp_path):
    x0 = np.random.default_rng(1).normal(size=(200, 1))
    ref = simulate(_ou(), x0, 1.0, 2.0**-6, solver=EulerMaruyama())
    assert ref.x_final.tobytes() == simulate(_ou(), x0, 1.0, 2.0**-6, solver=EulerMaruyama()).x_final.tobytes()
    ck = tmp_path / "sde.ckpt"
    part = simulate(_ou(), x0, 1.0, 2.0**-6, solver=EulerMaruyama(), checkpoint=Checkpoint(ck, every=8),
                    callback=stop_after(20))
    assert part.status == "interrupted"
    with pytest.raises(Exception, match=r"problem\.seed"):
        simulate(_ou(seed=4), x0, 1.0, 2.0**-6, solver=EulerMaruyama(), checkpoint=Checkpoint(ck, resume=True))
    done = simulate(_ou(), x0, 1.0, 2.0**-6, solver=EulerMaruyama(), checkpoint=Checkpoint(ck, resume=True))
    assert done.success and done.x_final.tobytes() == ref.x_final.tobytes()


def test_the_ou_law_matches_its_closed_form():
    # dX = (−X + κ(E X − X) + sin 2t) dt + σ dW: m' = −m + sin 2t, v' = −2(1 + κ) v + σ²
    N, sigma, kappa, T = 20000, 0.7, 0.5, 1.0
    x0 = np.random.default_rng(2).normal(0.5, 1.0, (N, 1))
    res = simulate(_ou(sigma), x0, T, 2.0**-9, solver=EulerMaruyama(), saveat=FINAL, monitors=None)
    m0, v0 = x0.mean(), x0.var()
    # m(t) = e^{-t} m0 + ∫_0^t e^{-(t-s)} sin 2s ds
    mT = np.exp(-T) * m0 + (np.sin(2 * T) - 2 * np.cos(2 * T) + 2 * np.exp(-T)) / 5.0
    lam = 2 * (1 + kappa)
    vT = v0 * np.exp(-lam * T) + sigma**2 / lam * (1 - np.exp(-lam * T))
    # tolerances: O(dt) time error (~1e-3) plus sampling error sqrt(v/N) ~ 3e-3 and v·sqrt(2/N) ~ 2e-3
    assert abs(res.x_final.mean() - mT) < 0.01
    assert abs(res.x_final.var() - vT) < 0.01


# -- strong orders ---------------------------------------------------------------------------------
@settings(max_examples=4, derandomize=True, deadline=None)
@given(theta=st.floats(0.5, 1.5), kappa=st.floats(0.0, 1.0), sigma=st.floats(0.2, 1.0), seed=st.integers(0, 50))
def test_euler_maruyama_has_strong_order_one_with_additive_noise(theta, kappa, sigma, seed):
    sde = McKeanVlasovSDE(lambda x, w, t: -theta * x + kappa * (w @ x - x) + np.cos(3.0 * t), sigma, seed=seed)
    x0 = np.random.default_rng(seed).normal(1.0, 0.5, (2000, 1))
    # λ·dt <= (1.5 + 1)·2^-5 < 0.1
    assert abs(_strong_order(sde, EulerMaruyama(), x0, list(range(5, 11))) - 1.0) < 0.1


def _multiplicative(a, sigma, seed, **kw):
    return McKeanVlasovSDE(lambda x, w, t, *p: -a * (x - w @ x), lambda x, w, t, *p: sigma * x,
                           diffusion_dx=lambda x, w, t, *p: np.full(x.shape, sigma), seed=seed, **kw)


@settings(max_examples=4, derandomize=True, deadline=None)
@given(a=st.floats(0.5, 1.5), sigma=st.floats(0.3, 0.8), seed=st.integers(0, 50))
def test_euler_maruyama_has_strong_order_one_half_and_milstein_one_with_multiplicative_noise(a, sigma, seed):
    sde = _multiplicative(a, sigma, seed)
    x0 = np.random.default_rng(seed).normal(1.0, 0.5, (2000, 1))
    ks = list(range(5, 11))
    assert abs(_strong_order(sde, EulerMaruyama(), x0, ks) - 0.5) < 0.1
    assert abs(_strong_order(sde, Milstein(), x0, ks) - 1.0) < 0.1


# -- weak order --------------------------------------------------------------------------------------
@settings(max_examples=3, derandomize=True, deadline=None)
@given(theta=st.floats(0.5, 1.5), kappa=st.floats(0.0, 1.0), sigma=st.floats(0.3, 1.0))
def test_euler_maruyama_has_weak_order_one_on_the_second_moment(theta, kappa, sigma):
    """dX = (−θX + κ(E X − X) + sin 2t) dt + σ dW, E X² by successive differences over 20
    ensembles of 2000 particles in one run (a per-particle group index), coupled across dt.

    (Additive noise: the coupled differences then have O(dt) spread, so 4·10⁴ samples resolve
    the O(dt) weak bias. With the multiplicative model the spread is O(dt^½) and 2·10⁵ samples
    gave slopes from 0.79 to 1.59 over five seeds.)"""
    N, R, T = 2000, 20, 1.0
    group = np.repeat(np.arange(R), N)

    def drift(x, w, t, g):
        mean = np.bincount(g, weights=x[:, 0], minlength=R) / N
        return -theta * x + kappa * (mean[g][:, None] - x) + np.sin(2.0 * t)

    sde = McKeanVlasovSDE(drift, sigma, seed=1, params=group)
    x0 = np.random.default_rng(0).normal(1.0, 0.5, (N * R, 1))
    ks = [5, 6, 7, 8]  # λ·dt <= 2·(1.5 + 1)·2^-5 < 0.16 for the variance, 0.05 for the mean
    S = [np.mean(simulate(sde, x0, T, 2.0**-k, solver=EulerMaruyama(), saveat=FINAL, monitors=None).x_final ** 2)
         for k in ks]
    assert abs(_fit([2.0**-k for k in ks[:-1]], np.abs(np.diff(S))) - 1.0) < 0.1
    # the limit (Richardson, order 1) against the closed form given x0 (N → ∞ within each ensemble):
    # ensemble means follow m' = −θm + sin 2t, deviations decay at θ + κ, noise variance
    # σ²(1 − e^{−2(θ+κ)T}) / (2(θ+κ))
    lam = theta + kappa
    means = (np.bincount(group, weights=x0[:, 0]) / N)[group]
    forced = (theta * np.sin(2 * T) - 2 * np.cos(2 * T) + 2 * np.exp(-theta * T)) / (theta**2 + 4)
    det = np.exp(-lam * T) * (x0[:, 0] - means) + np.exp(-theta * T) * means + forced
    exact = np.mean(det**2) + sigma**2 * (1 - np.exp(-2 * lam * T)) / (2 * lam)
    # sampling error of the mean of X_T² over 4·10⁴ samples: about 4e-3 (5 standard errors)
    assert abs(2 * S[-1] - S[-2] - exact) < 0.02


@pytest.mark.parametrize("solver", [EulerMaruyama(), Milstein()])
def test_the_multiplicative_model_keeps_its_closed_form_mean_and_second_moment(solver):
    """dX = −a(X − E X) dt + σX dW: E X = m_0, and S = E X² solves S' = (σ² − 2a) S + 2a m²."""
    a, sigma, T, N = 1.0, 0.6, 1.0, 40000
    x0 = np.random.default_rng(6).normal(1.0, 0.5, (N, 1))
    res = simulate(_multiplicative(a, sigma, seed=2), x0, T, 2.0**-8, solver=solver, saveat=FINAL, monitors=None)
    m0, S0 = x0.mean(), np.mean(x0**2)
    S_inf = 2 * a * m0**2 / (2 * a - sigma**2)
    S_T = S_inf + (S0 - S_inf) * np.exp((sigma**2 - 2 * a) * T)
    # sampling errors over 4·10⁴ particles: sd(X) / 200 ≈ 4e-3 and sd(X²) / 200 ≈ 8e-3; weak bias ~ 1e-3
    assert abs(res.x_final.mean() - m0) < 0.02
    assert abs(np.mean(res.x_final**2) - S_T) < 0.04


@pytest.mark.parametrize("solver, order", [(EulerMaruyama(), 0.5), (Milstein(), 1.0)])
def test_strong_orders_against_the_exact_geometric_brownian_motion(solver, order):
    """With a = 0 the model is dX = σX dW (no interaction): X_T = X_0 exp(σ W_T − σ²T/2) exactly,
    on the problem's own Brownian path. This catches schemes that converge to a wrong limit."""
    sigma, T, N = 0.6, 1.0, 4000
    sde = _multiplicative(0.0, sigma, seed=9)
    x0 = np.random.default_rng(4).uniform(0.5, 1.5, (N, 1))
    exact = x0 * np.exp(sigma * sde.brownian(N, 1)(T) - 0.5 * sigma**2 * T)
    ks = list(range(4, 10))
    errs = [np.sqrt(np.mean((simulate(sde, x0, T, 2.0**-k, solver=solver, saveat=FINAL).x_final - exact) ** 2))
            for k in ks]
    assert abs(_fit([2.0**-k for k in ks], errs) - order) < 0.1
    assert errs[-1] < 3.0 * 2.0 ** (-ks[-1] * order)  # and to the right limit: a small constant


@pytest.mark.parametrize("n", [1, 3, 60])
def test_w1_to_a_normal_law_against_the_cdf_integral(n):
    """The closed form (quantile pieces) against ∫|F_μ − Φ| by adaptive quadrature (another formula)."""
    from scipy import integrate, stats

    from w1flow.metrics import w1_to_normal

    rng = np.random.default_rng(n)
    x = rng.normal(0.3, 2.0, n)
    a = rng.uniform(0.1, 1.0, n)
    a /= a.sum()
    order = np.argsort(x)
    xs, cw = x[order], np.cumsum(a[order])

    def F(z):
        return 0.0 if z < xs[0] else cw[np.searchsorted(xs, z, side="right") - 1]

    ref = integrate.quad(lambda z: abs(F(z) - stats.norm.cdf(z, 0.5, 1.5)), -25, 25, points=list(xs), limit=500,
                         epsabs=1e-13)[0]
    assert w1_to_normal(x, 0.5, 1.5, a) == pytest.approx(ref, abs=1e-8)  # quad reaches ~3e-10
    with pytest.raises(ValueError, match="std"):
        w1_to_normal(x, 0.0, 0.0)


@pytest.mark.slow
def test_explicit_euler_maruyama_past_its_stability_limit_is_diverged_not_success():
    """Issue [S]: EM on a stiff OU (drift −x, dt = 1e5: |1 − λ dt| ≈ 1e5 per step) reported success at
    |x| = 2.6e50. The run must stop as "diverged" naming dt; the same SDE at a stable dt succeeds."""
    sde = McKeanVlasovSDE(lambda x, w, t: -x, 1.0, seed=3)
    x0 = np.ones((20, 1))
    res = simulate(sde, x0, 1e6, 1e5, solver=EulerMaruyama(), saveat=FINAL)
    assert res.status == "diverged" and not res.success
    assert "lower dt" in res.message
    # the rule (docs/reliability.md): S = 1 here, and 1e5-fold growth per step crosses 1e8 S at step 2
    assert res.n_steps == 2
    ok = simulate(sde, x0, 5.0, 0.1, solver=EulerMaruyama(), saveat=FINAL)
    assert ok.status == "success"
