"""W1-FE and its baselines (w1flow.generative): the generator's derivatives against finite
differences, K = 1 ≡ WGAN (SGD and Adam, both MSE normalisations), what persistence does,
bad input, and bitwise resume."""

import numpy as np
import pytest

from conftest import FrozenTanhOracle as _Frozen
from conftest import InterruptingExact
import w1flow as wf
from w1flow.datasets import eight_gaussians
from w1flow.generative import (SGD, WGAN, W1FE, Adam, Batches, Evaluation, MLPGenerator, NaiveFresh, NaiveSame,
                               method_from_name, train)
from w1flow.generative import _kernels as GK


@pytest.fixture(scope="module")
def data():
    return eight_gaussians(4000, seed=0)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_generator_gradient_matches_finite_differences(activation):
    g = MLPGenerator(3, 2, hidden=(5, 4), activation=activation, seed=1)
    rng = np.random.default_rng(2)
    Z, gout = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    grad = GK.param_grad(g.theta, g.offs, g.sizes, g._act, Z, gout)
    h = 1e-6
    fd = np.empty_like(grad)
    for k in range(g.n_params):
        tp, tm = g.theta.copy(), g.theta.copy()
        tp[k] += h
        tm[k] -= h
        fp = np.sum(gout * GK.evaluate(tp, g.offs, g.sizes, g._act, Z))
        fm = np.sum(gout * GK.evaluate(tm, g.offs, g.sizes, g._act, Z))
        fd[k] = (fp - fm) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    # the forward pass against a numpy reference
    h0 = Z
    for l in range(len(g.sizes) - 1):
        h0 = h0 @ g.weight(l).T + g.bias(l)
        if l < len(g.sizes) - 2:
            h0 = np.tanh(h0) if activation == "tanh" else np.maximum(h0, 0.0)
    np.testing.assert_allclose(g(Z), h0, rtol=1e-13, atol=1e-14)


def _pair(data, w1fe, opt_w1fe, opt_wgan, n_iter=6):
    a, b = MLPGenerator(2, 2, hidden=(16, 16), seed=5), MLPGenerator(2, 2, hidden=(16, 16), seed=5)
    batches = Batches(size=64, seed=7)
    ra = train(a, data, _Frozen(), w1fe, n_iter=n_iter, batches=batches, optimizer=opt_w1fe)
    rb = train(b, data, _Frozen(), WGAN(), n_iter=n_iter, batches=batches, optimizer=opt_wgan)
    assert ra.success and rb.success
    return a.theta, b.theta


@pytest.mark.parametrize("dt", [0.5, 0.05])
@pytest.mark.parametrize("mse", ["sum", "mean"])
def test_k1_is_wgan_with_sgd_at_learning_rate_2_dt_eta(data, dt, mse):
    """W1-FE with K = 1 and SGD at η equals WGAN at 2Δtη (2Δtη/d when the MSE averages over d)."""
    eta, d = 0.05, 2
    scale = 2 * dt / (d if mse == "mean" else 1)
    ta, tb = _pair(data, W1FE(K=1, dt=dt, mse=mse), SGD(lr=eta), SGD(lr=scale * eta))
    assert np.max(np.abs(ta - tb)) <= 1e-12 * max(1.0, np.abs(tb).max())
    # and a wrong factor is seen: the test can fail
    _, tc = _pair(data, W1FE(K=1, dt=dt, mse=mse), SGD(lr=eta), SGD(lr=1.01 * scale * eta))
    assert np.max(np.abs(ta - tc)) > 1e-9


@pytest.mark.parametrize("dt", [0.5, 0.01])
@pytest.mark.parametrize("mse", ["sum", "mean"])
def test_k1_is_wgan_with_adam_at_the_same_lr_and_eps_over_c(data, dt, mse):
    """Adam ignores the constant gradient scale c = 2Δt (or 2Δt/d) except through ε: W1-FE at
    (lr, ε) is WGAN at (lr, ε/c), to round-off."""
    eps, d = 1e-8, 2
    c = 2 * dt / (d if mse == "mean" else 1)
    ta, tb = _pair(data, W1FE(K=1, dt=dt, mse=mse), Adam(lr=1e-3, eps=eps), Adam(lr=1e-3, eps=eps / c))
    assert np.max(np.abs(ta - tb)) <= 1e-12 * max(1.0, np.abs(tb).max())
    if dt == 0.01:  # with the same ε the small gradient scale shows
        _, td = _pair(data, W1FE(K=1, dt=dt, mse=mse), Adam(lr=1e-3, eps=1e-2), Adam(lr=1e-3, eps=1e-2))
        assert np.max(np.abs(ta - td)) > 1e-9


def test_naive_persistence_with_k1_is_wgan(data):
    a, b, c = (MLPGenerator(2, 2, hidden=(16,), seed=5) for _ in range(3))
    for gen, method in ((a, WGAN()), (b, NaiveSame(K=1)), (c, NaiveFresh(K=1))):
        train(gen, data, _Frozen(), method, n_iter=4, batches=Batches(size=32, seed=1), optimizer=Adam(lr=1e-3))
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.theta, c.theta)


def test_persistence_reaches_the_euler_targets_as_k_grows(data):
    """With K SGD steps on fixed targets the generator moves by about Δt|∇φ| once K·lr is large
    enough (to the least-squares fit of the 128 targets its parameters allow); with K = 1 by a
    small fraction of it. The trainer logs both; their ratio tells which regime a run is in."""
    ratios = {}
    for K in (1, 256):
        gen = MLPGenerator(2, 2, hidden=(32, 32), seed=0)
        res = train(gen, data, _Frozen(), W1FE(K=K, dt=0.05), n_iter=3, batches=128, optimizer=SGD(lr=0.01))
        h = res.history
        ratios[K] = h["displacement"] / h["target_displacement"]
        assert res.generator_steps == 3 * K and np.all(h["generator_steps"] == K * np.arange(1, 4))
    assert np.all(ratios[1] < 0.3) and np.all((0.85 < ratios[256]) & (ratios[256] < 1.05)), ratios


def test_naive_persistence_keeps_pushing_where_w1fe_stops(data):
    """Naive persistent WGAN steps minimise an unbounded loss: the generator moves ever further;
    W1-FE with the same K stops at its targets."""
    moves = {}
    for method in ("w1fe", "naive_same"):
        gen = MLPGenerator(2, 2, hidden=(32, 32), seed=0)
        rule = W1FE(K=256, dt=0.05) if method == "w1fe" else NaiveSame(K=256)
        res = train(gen, data, _Frozen(), rule, n_iter=1, batches=128, optimizer=SGD(lr=0.005))
        moves[method] = res.history["displacement"][0]
        if method == "w1fe":
            target = res.history["target_displacement"][0]
    assert moves["w1fe"] < 1.1 * target and moves["naive_same"] > 20 * target, (moves, target)


@pytest.mark.parametrize("oracle", ["exact", "critic"])
def test_w1fe_lowers_the_exact_w1_in_both_modes(data, oracle):
    held = eight_gaussians(500, seed=9)
    pot = wf.ExactPotential() if oracle == "exact" else wf.CriticPotential(hidden=(32, 32), n_critic=5, seed=0)
    gen = MLPGenerator(2, 2, hidden=(32, 32), seed=0)
    res = train(gen, data, pot, W1FE(K=8, dt=0.1), n_iter=60, batches=128, optimizer=Adam(lr=2e-3, ema=0.0),
                evaluation=Evaluation(held_out=held, every=30, samples=500))
    it, w1 = res.w1
    assert res.success and list(it) == [30, 60]
    w1_0 = wf.metrics.w1(MLPGenerator(2, 2, hidden=(32, 32), seed=0).sample(500, seed=np.random.default_rng([0, 1])),
                         held[:500])
    assert w1[-1] < 0.6 * w1_0, (w1_0, w1)
    if oracle == "exact":
        assert res.lp_solves == 60 and res.critic_updates == 0
    else:
        assert res.critic_updates == 1000 + 59 * 5  # warm-up, then n_critic per step


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(generator=MLPGenerator(2, 3)), ValueError, r"output dimension 3 differs from the data's 2"),
    (dict(data=np.zeros((0, 2))), ValueError, r"^data is empty"),
    (dict(potential=3), TypeError, r"^potential must be a potential oracle"),
    (dict(n_iter=-1), ValueError, r"^n_iter must be >= 0"),
    (dict(method="w1fe"), TypeError, r"^method must be one of W1FE.*method_from_name"),
    (dict(batches=0), ValueError, r"^Batches\(size=\.\.\.\) must be >= 1"),
    (dict(batches=(64, 1)), TypeError, r"^batches must be a Batches"),
    (dict(optimizer="sgd"), TypeError, r"^optimizer must be Adam\(.*\) or SGD"),
    (dict(evaluation=dict(every=10)), TypeError, r"^evaluation must be an Evaluation"),
    (dict(evaluation=Evaluation(held_out=np.zeros((5, 3)))), ValueError,
     r"^Evaluation\(held_out=\.\.\.\) has dimension 3, but dimension 2"),
    (dict(batches=Batches(latent=np.zeros((5, 3)))), ValueError, r"^Batches\(latent=\.\.\.\) has dimension 3"),
    (dict(evaluation=Evaluation(latent=np.zeros((5, 3)))), ValueError, r"^Evaluation\(latent=\.\.\.\) has dimension 3"),
    (dict(batches=Batches(latent=np.zeros((5, 2))), evaluation=Evaluation(held_out=np.zeros((5, 2)), every=1)),
     ValueError, r"Batches\(latent=\.\.\.\) the evaluations need their own latent points: pass Evaluation\(latent"),
    (dict(backend="jax"), ValueError, r"^backend must be 'numpy', 'torch' or TorchBackend"),
])
def test_bad_input_names_the_argument(data, kwargs, exc, match):
    args = dict(generator=MLPGenerator(2, 2, hidden=(8,)), data=data, potential=_Frozen(), n_iter=1)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        train(args.pop("generator"), args.pop("data"), args.pop("potential"), args.pop("method", None), **args)


@pytest.mark.parametrize("build, exc, match", [
    (lambda: W1FE(K=0), ValueError, r"^W1FE\(K=\.\.\.\) must be >= 1"),
    (lambda: W1FE(K=2.0), TypeError, r"^W1FE\(K=\.\.\.\) must be an integer"),
    (lambda: W1FE(dt=0.0), ValueError, r"^W1FE\(dt=\.\.\.\) must be finite and in \(0"),
    (lambda: W1FE(dt=-0.1), ValueError, r"^W1FE\(dt=\.\.\.\) must be"),
    (lambda: W1FE(mse="l2"), ValueError, r"^W1FE\(mse=\.\.\.\) must be 'sum'"),
    (lambda: NaiveSame(K=0), ValueError, r"^NaiveSame\(K=\.\.\.\) must be >= 1"),
    (lambda: NaiveFresh(K=-1), ValueError, r"^NaiveFresh\(K=\.\.\.\) must be >= 1"),
    (lambda: WGAN(K=2), TypeError, r"unexpected keyword argument 'K'"),
    (lambda: method_from_name("wgan", K=2), ValueError, r"K = 1"),
    (lambda: method_from_name("sgd"), ValueError, r"^method must be one of \('w1fe'"),
    (lambda: method_from_name("naive_same", dt=0.1), TypeError, r"^NaiveSame has no field 'dt'"),
    (lambda: Batches(size=0), ValueError, r"^Batches\(size=\.\.\.\) must be >= 1"),
    (lambda: Batches(seed=1.5), TypeError, r"^Batches\(seed=\.\.\.\) must be an integer >= 0"),
    (lambda: Batches(seed=-1), ValueError, r"^Batches\(seed=\.\.\.\) must be an integer >= 0"),
    (lambda: Batches(latent=np.zeros((0, 2))), ValueError, r"^Batches\(latent=\.\.\.\) is empty"),
    (lambda: Adam(lr=0.0), ValueError, r"^Adam\(lr=\.\.\.\) must be finite and in \(0"),
    (lambda: Adam(betas=0.5), TypeError, r"^Adam\(betas=\.\.\.\) must be a pair"),
    (lambda: Adam(betas=(0.5, 1.0)), ValueError, r"^Adam\(betas=\.\.\.\)\[1\] must be finite and in \[0"),
    (lambda: Adam(eps=-1.0), ValueError, r"^Adam\(eps=\.\.\.\) must be"),
    (lambda: SGD(lr=float("nan")), ValueError, r"^SGD\(lr=\.\.\.\)"),
    (lambda: Evaluation(every=10), ValueError, r"^Evaluation\(every=\.\.\.\) needs Evaluation\(held_out=\.\.\.\)"),
    (lambda: Evaluation(held_out=np.zeros((4, 2)), every=0), ValueError, r"^Evaluation\(every=\.\.\.\) must be >= 1"),
    (lambda: Evaluation(samples=0), ValueError, r"^Evaluation\(samples=\.\.\.\) must be >= 1"),
    (lambda: Evaluation(progress="yes"), TypeError, r"^Evaluation\(progress=\.\.\.\) must be True or False"),
    (lambda: Evaluation(held_out=[[np.nan, 0.0]]), ValueError, r"^Evaluation\(held_out=\.\.\.\) contains"),
])
def test_bad_options_name_the_class_and_field(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def test_methods_and_options_read_as_the_old_spelling():
    """The method objects carry the names and defaults the run's config (and so the checkpoint
    fingerprint) records; an int is read as the batch size."""
    from w1flow.generative import METHODS, TorchBackend

    assert {name: cls().name for name, cls in METHODS.items()} == {n: n for n in METHODS}
    assert (WGAN().K, WGAN().dt, WGAN().mse) == (1, 0.1, "sum")
    assert method_from_name("wgan", K=1) == WGAN() and method_from_name("w1fe", K=3, dt=0.2) == W1FE(K=3, dt=0.2)
    assert W1FE(K=np.int64(4), dt=1).K == 4 and type(W1FE(dt=1).dt) is float
    assert (SGD().betas, SGD().eps, Adam().betas) == ((0.5, 0.9), 1e-8, (0.5, 0.9))
    res = train(MLPGenerator(2, 2, hidden=(8,)), eight_gaussians(50, seed=0), _Frozen(), NaiveFresh(K=2), n_iter=1,
                batches=16, optimizer=SGD(lr=1e-3))
    assert res.config == dict(method="naive_fresh", K=2, dt=0.1, n_iter=1, batch_size=16, optimizer="sgd", lr=1e-3,
                              betas=(0.5, 0.9), eps=1e-8, mse="sum", eval_every=None, eval_samples=2000, seed=0)
    with pytest.raises(ValueError, match=r"^TorchBackend\(dtype=\.\.\.\) must be 'float64' or 'float32'"):
        TorchBackend(dtype="float16")


def test_interrupted_training_resumes_bitwise(tmp_path, data):
    held = eight_gaussians(300, seed=9)
    kw = dict(n_iter=8, batches=64, optimizer=Adam(lr=2e-3), evaluation=Evaluation(held_out=held, every=2, samples=300))
    ref = train(MLPGenerator(2, 2, hidden=(16,), seed=1), data, wf.ExactPotential(), W1FE(K=4, dt=0.1), **kw)
    InterruptingExact.calls = 0
    ck = tmp_path / "gen.ckpt"
    gen = MLPGenerator(2, 2, hidden=(16,), seed=1)
    part = train(gen, data, InterruptingExact(), W1FE(K=4, dt=0.1), checkpoint=wf.Checkpoint(ck, every=2), **kw)
    assert part.status == "interrupted" and part.n_iter == 3 and ck.exists()
    again = MLPGenerator(2, 2, hidden=(16,), seed=1)
    done = train(again, data, InterruptingExact(), W1FE(K=4, dt=0.1), checkpoint=wf.Checkpoint(ck, resume=True), **kw)
    assert done.success and done.n_iter == 8
    assert again.theta.tobytes() == ref.generator.theta.tobytes()
    for key in ("w1", "critic_dual", "generator_steps", "critic_steps", "displacement"):
        assert done.history[key].tobytes() == ref.history[key].tobytes(), key
    # another configuration is refused, naming what differs
    with pytest.raises(wf.CheckpointError, match=r"different run: config differ"):
        train(MLPGenerator(2, 2, hidden=(16,), seed=1), data, InterruptingExact(), W1FE(K=5, dt=0.1),
              checkpoint=wf.Checkpoint(ck, resume=True), **kw)


# -- the K study's figures (its runs go through w1flow.sweep: tests/test_sweep_generator.py) ----------
def test_first_reach_and_final_stats_read_the_seed_mean_curve():
    from w1flow.generative.experiments import final_stats, first_reach

    cells = [dict(w1=[3.0, 2.0, 1.0], critic_steps=[10, 20, 30], final_w1=1.0),
             dict(w1=[2.0, 1.0, 0.5, 0.1], critic_steps=[10, 20, 30, 40], final_w1=0.1)]
    assert first_reach(cells, 1.5) == 20  # mean curve 2.5, 1.5, 0.75 (common length)
    assert first_reach(cells, 0.75) == 30 and first_reach(cells, 0.7) is None
    mean, std = final_stats(cells)
    assert mean == pytest.approx(0.55) and std == pytest.approx(0.45)


# -- the same trainer on other flows ([I]) ----------------------------------------------------------
def _pair_with(data, oracle_factory, w1fe, opt_w1fe, opt_wgan, n_iter=3):
    a = MLPGenerator(2, 2, hidden=(16,), seed=5)
    b = MLPGenerator(2, 2, hidden=(16,), seed=5)
    batches = Batches(size=64, seed=7)
    ra = train(a, data, oracle_factory(), w1fe, n_iter=n_iter, batches=batches, optimizer=opt_w1fe)
    rb = train(b, data, oracle_factory(), WGAN(), n_iter=n_iter, batches=batches, optimizer=opt_wgan)
    assert ra.success and rb.success
    return a.theta, b.theta


@pytest.mark.parametrize("flow", ["w2", "js"])
def test_k1_is_the_flows_gan_step_with_sgd_at_2_dt_eta(data, flow):
    """W2-FE with K = 1 is W2-GAN's generator step; the JS flow's FE with K = 1 is the saturating
    GAN step on −E softplus(d(G(z))) = E log(1 − D(G(z))): SGD at η against 2Δtη, to round-off."""
    from w1flow.density_ratio import LogRatioEstimator
    from w1flow.potentials.fields import RatioPotential, W2Potential

    if flow == "w2":
        factory = W2Potential
    else:
        def factory():
            return RatioPotential(lambda s: 1.0 / (1.0 + np.exp(-s)), LogRatioEstimator(n_features=50))
    eta, dt = 0.05, 0.3
    ta, tb = _pair_with(data, factory, W1FE(K=1, dt=dt), SGD(lr=eta), SGD(lr=2 * dt * eta))
    # the classifier refitted by L-BFGS at each step turns round-off in θ into ~1e-12 differences
    tol = 1e-12 if flow == "w2" else 1e-10
    assert np.max(np.abs(ta - tb)) <= tol * max(1.0, np.abs(tb).max())
    _, tc = _pair_with(data, factory, W1FE(K=1, dt=dt), SGD(lr=eta), SGD(lr=1.01 * 2 * dt * eta))
    assert np.max(np.abs(ta - tc)) > 1e-6


def test_w2fe_with_persistence_lowers_the_exact_w1():
    from w1flow.potentials.fields import W2Potential

    data = eight_gaussians(4000, seed=0)
    held = eight_gaussians(500, seed=9)
    gen = MLPGenerator(2, 2, hidden=(32, 32), seed=0)
    res = train(gen, data, W2Potential(), W1FE(K=8, dt=0.5), n_iter=60, batches=128, optimizer=Adam(lr=2e-3),
                evaluation=Evaluation(held_out=held, every=60, samples=500))
    w1_0 = wf.metrics.w1(MLPGenerator(2, 2, hidden=(32, 32), seed=0).sample(500, seed=np.random.default_rng([0, 1])),
                         held[:500])
    assert res.success and res.lp_solves == 60
    assert res.w1[1][-1] < 0.6 * w1_0, (w1_0, res.w1)
    # the oracle's own value (W2 of the batch) is what the trainer logs as critic_dual
    assert np.all(np.isfinite(res.history["critic_dual"])) and res.history["critic_dual"][-1] < res.history["critic_dual"][0]


def test_oracles_with_particle_velocities_are_used_at_their_own_particles():
    """W2's velocity at the batch is the barycentric projection, not ∇φ of the extension: the
    trainer must take it there (an oracle whose extension raises still trains)."""
    from w1flow.potentials.fields import W2KantorovichPotential, W2Potential

    class NoExtension(W2KantorovichPotential):
        def gradient(self, z):
            raise AssertionError("the extension's gradient was used")

    class Oracle(W2Potential):
        def __call__(self, x, a, y, b, t=0.0):
            pot = super().__call__(x, a, y, b, t)
            pot.__class__ = NoExtension
            return pot

    gen = MLPGenerator(2, 2, hidden=(8,), seed=1)
    res = train(gen, eight_gaussians(500, seed=0), Oracle(), W1FE(K=2, dt=0.5), n_iter=2, batches=32)
    assert res.success and res.lp_solves == 2


# -- issue [S]: finite divergence is a status, never "success" ------------------------------------
@pytest.mark.parametrize("kw, cause", [(dict(optimizer=Adam(lr=1e12)), "lower lr"),
                                       (dict(method=W1FE(K=1, dt=1e300)), "lower dt")])
def test_exploding_training_stops_as_diverged(data, kw, cause):
    """lr = 1e12 sent the outputs to ~1e25 (and the exact dual with them); dt = 1e300 overflowed Adam's
    second moment, which froze θ: both reported "success". The rule (docs/reliability.md) must stop
    them with status "diverged" naming the cause."""
    gen = MLPGenerator(2, 2, hidden=(16,), seed=1)
    res = train(gen, data, wf.ExactPotential(), n_iter=5, batches=Batches(size=32, seed=2), **kw)
    assert res.status == "diverged" and not res.success
    assert cause in res.message and res.n_iter < 5


class _HugeDual(_Frozen):
    """A sane field whose W1 estimate is impossible: 1e25 for batches within a few units."""

    def __call__(self, x, a, y, b, t=0.0):
        pot = super().__call__(x, a, y, b, t)
        pot.w1 = 1e25
        return pot


def test_an_impossible_critic_dual_stops_as_diverged(data):
    """W1 of two batches is at most the largest distance between them (< 20 here: eight Gaussians
    of radius 2 and a small generator): a dual of 1e25 is a diverged critic."""
    res = train(MLPGenerator(2, 2, hidden=(16,), seed=1), data, _HugeDual(), n_iter=3, batches=32,
                optimizer=Adam(lr=1e-3))
    assert res.status == "diverged" and "critic" in res.message and res.n_iter == 0


def test_divergence_rule_thresholds():
    """The documented factors, checked on hand-made states: outputs beyond 1e3 S, |θ| beyond 1e6 |θ_0|,
    a non-finite Adam moment, |dual| beyond 1e3 times the batches' distance bound."""
    from w1flow.generative.evaluation import diverged as _diverged

    c, S, th0 = np.zeros(2), 2.0, 3.0
    xd = np.array([[1.0, 0.0], [-1.0, 0.0]])  # data batch: radius 1 (max-norm) about its mean 0
    out = np.array([[0.0, 1.0], [0.0, -1.0]])  # generated batch: radius 1; M = √2 (1 + 1)
    ok = dict(new_out=out, theta=np.full(4, 1.0), adam_v=np.ones(4), dual=1.0, out=out, xd=xd)
    assert _diverged((c, S, th0), **ok) is None
    assert _diverged((c, S, th0), **{**ok, "new_out": np.array([[1.9e3, 0.0]])}) is None
    assert "outputs" in _diverged((c, S, th0), **{**ok, "new_out": np.array([[2.1e3, 0.0]])})
    assert _diverged((c, S, th0), **{**ok, "theta": np.array([2.9e6, 0.0])}) is None
    assert "parameters" in _diverged((c, S, th0), **{**ok, "theta": np.array([3.1e6, 0.0])})
    assert "second moment" in _diverged((c, S, th0), **{**ok, "adam_v": np.array([1.0, np.inf])})
    M = np.sqrt(2) * 2
    assert _diverged((c, S, th0), **{**ok, "dual": -0.99e3 * M}) is None
    assert "critic" in _diverged((c, S, th0), **{**ok, "dual": -1.01e3 * M})


def test_divergence_rule_does_not_fire_on_a_generator_far_from_tiny_data():
    """S includes the first generated batch's radius: data of radius ~2e-3 and a generator starting
    at outputs ~1 train normally (1e3 times the data's radius alone would be exceeded at once)."""
    gen = MLPGenerator(2, 2, hidden=(16,), seed=1)
    res = train(gen, 1e-3 * eight_gaussians(500, seed=0), wf.ExactPotential(), W1FE(K=1, dt=1e-4), n_iter=4, batches=32,
                optimizer=Adam(lr=1e-3))
    assert res.status == "success", res.message


# -- TrainResult files ------------------------------------------------------------------------------
def test_a_train_result_round_trips_through_its_file(tmp_path, data):
    from w1flow.generative import TrainResult

    held = eight_gaussians(200, seed=9)
    res = train(MLPGenerator(2, 2, hidden=(8,), seed=3), data, wf.ExactPotential(), NaiveSame(K=2), n_iter=4,
                batches=32, evaluation=Evaluation(held_out=held, every=2, samples=100))
    path = res.save(tmp_path / "run", metadata={"note": "K study"})
    assert path.suffix == ".npz"
    back = TrainResult.load(path)
    assert back.generator.theta.tobytes() == res.generator.theta.tobytes()
    assert back.generator.settings() == res.generator.settings()
    for key, arr in res.history.items():
        assert back.history[key].dtype == arr.dtype and back.history[key].tobytes() == arr.tobytes(), key
    for f in ("status", "message", "n_iter", "generator_steps", "critic_updates", "lp_solves", "wall_time",
              "eval_time"):
        assert getattr(back, f) == getattr(res, f), f
    assert back.config == {k: list(v) if isinstance(v, tuple) else v for k, v in res.config.items()}
    assert TrainResult.read_metadata(path)["metadata"] == {"note": "K study"}
    np.testing.assert_array_equal(back.w1[1], res.w1[1])


def test_a_damaged_train_result_file_names_the_path_and_the_field(tmp_path, data):
    import json

    from w1flow.generative import TrainResult
    from w1flow.result import ResultFileError

    res = train(MLPGenerator(2, 2, hidden=(8,), seed=3), data, wf.ExactPotential(), n_iter=2, batches=16)
    path = res.save(tmp_path / "run.npz")
    with np.load(path, allow_pickle=False) as npz:
        good = {k: npz[k] for k in npz.files}
    meta = json.loads(str(good["meta"]))

    def write(name, **change):
        arrays = {k: v for k, v in {**good, **change}.items() if v is not None}
        out = tmp_path / name
        with open(out, "wb") as fh:
            np.savez(fh, **arrays)
        return out

    cases = [
        (write("short.npz", **{"history.w1": good["history.w1"][:1]}), "history.w1"),
        (write("nometa.npz", meta=None), "meta"),
        (write("steps.npz", meta=np.array(json.dumps({**meta, "result": {**meta["result"], "n_iter": -1}}))),
         "result.n_iter"),
        (write("theta.npz", theta=good["theta"][:3], ema_theta=good["ema_theta"][:3]), "theta"),
        (write("ema.npz", ema_theta=good["ema_theta"][:3]), "ema_theta"),
        (write("ema_kind.npz", ema_theta=good["ema_theta"].astype(np.int64)), "ema_theta"),
        (write("kind.npz", **{"history.iteration": good["history.iteration"].astype(float)}), "history.iteration"),
        (write("gen.npz", meta=np.array(json.dumps({**meta, "generator": {"class": "os.system", "settings": {}}}))),
         "generator.class"),
        (write("other.npz", meta=np.array(json.dumps({**meta, "format": "w1flow.FlowResult"}))), "format"),
        (write("pickled.npz", theta=np.array([object()], dtype=object)), "file"),
    ]
    (tmp_path / "text.npz").write_text("not a zip")
    cases.append((tmp_path / "text.npz", "file"))
    for p, field in cases:
        with pytest.raises(ResultFileError) as err:
            TrainResult.load(p)
        assert err.value.field == field and err.value.path == p, (p.name, err.value)
        assert str(p) in str(err.value) and repr(field) in str(err.value)
