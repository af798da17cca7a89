"""The generator's learning-rate schedules and parameter average (EMA) in ``train``: the
schedules' values, the trajectory against a hand-written SGD loop, K = 1 ≡ WGAN with both on,
the average against one recomputed from the raw trajectory, sampling and evaluation with the
average, saving, and bitwise resume."""

import math

import numpy as np
import ot
import pytest
from scipy.spatial.distance import cdist

from conftest import FrozenTanhOracle as _Frozen
from conftest import InterruptingExact
import w1flow as wf
from w1flow.datasets import eight_gaussians
from w1flow.generative import SGD, WGAN, W1FE, Adam, Batches, Evaluation, MLPGenerator, TrainResult, train
from w1flow.generative import _kernels as GK
from w1flow.generative.options import ema_weight, learning_rate


@pytest.fixture(scope="module")
def data():
    return eight_gaussians(2000, seed=0)


def test_schedules_take_their_stated_values():
    T = 8
    c = Adam(lr=1.0, schedule="cosine", final_lr_ratio=0.01)
    assert learning_rate(c, 0, T) == 1.0
    assert learning_rate(c, 4, T) == pytest.approx(0.505, abs=1e-15)  # r + (1 - r)/2 at s = 1/2
    assert learning_rate(c, 8, T) == pytest.approx(0.01, abs=1e-15)
    s = SGD(lr=2.0, schedule="stages", final_lr_ratio=0.04)
    assert [learning_rate(s, i, T) for i in range(T)] == [2.0] * 4 + [0.4] * 2 + [pytest.approx(0.08)] * 2
    assert all(learning_rate(Adam(lr=0.3), i, T) == 0.3 for i in range(T))
    assert [ema_weight(Adam(ema=0.9), i) for i in (0, 1, 80, 81)] == [0.1, 2 / 11, 81 / 90, 0.9]
    assert ema_weight(Adam(ema=0.0), 5) == 0.0


@pytest.mark.parametrize("bad, match", [(dict(schedule="linear"), r"Adam\(schedule=\.\.\.\) must be one of"),
                                        (dict(ema=1.0), r"Adam\(ema=\.\.\.\)"), (dict(ema=-0.1), r"Adam\(ema"),
                                        (dict(final_lr_ratio=0.0), r"Adam\(final_lr_ratio=\.\.\.\)")])
def test_bad_schedule_or_average_is_refused_naming_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        Adam(**bad)


@pytest.mark.parametrize("cls", [Adam, SGD])
def test_the_repr_shows_the_final_ratio_only_when_a_schedule_uses_it(cls):
    assert "final_lr_ratio" not in repr(cls(schedule="constant", final_lr_ratio=0.1))
    for schedule in ("cosine", "stages"):
        opt = cls(schedule=schedule, final_lr_ratio=0.1)
        assert "final_lr_ratio=0.1" in repr(opt)
        assert eval(repr(opt), {cls.__name__: cls}) == opt  # the repr rebuilds the optimiser


@pytest.mark.parametrize("schedule", ["cosine", "stages"])
def test_the_scheduled_trajectory_is_a_hand_written_sgd_loop(data, schedule):
    """WGAN with SGD: θ ← θ − lr_t ∇_θ (1/n) Σ φ(G(z_i)), with lr_t from the stated formula and the
    batches drawn as the trainer's documented stream draws them (z_c, data indices, z)."""
    n_iter, bs, lr, r = 6, 32, 0.05, 0.1
    g = MLPGenerator(2, 2, hidden=(8,), seed=4)
    theta = g.theta.copy()
    train(g, data, _Frozen(), WGAN(), n_iter=n_iter, batches=Batches(size=bs, seed=3),
          optimizer=SGD(lr=lr, schedule=schedule, final_lr_ratio=r))
    drift = _Frozen().drift
    rng = np.random.default_rng(3)
    for it in range(n_iter):
        rng.standard_normal((bs, 2))
        rng.integers(0, data.shape[0], bs)
        z = rng.standard_normal((bs, 2))
        s = it / n_iter
        rate = lr * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * s))) if schedule == "cosine" else \
            lr if s < 0.5 else lr * math.sqrt(r) if s < 0.75 else lr * r
        out = GK.evaluate(theta, g.offs, g.sizes, g._act, z)
        gout = np.ascontiguousarray(-drift(out, None, 0.0) / bs)
        theta -= rate * GK.param_grad(theta, g.offs, g.sizes, g._act, z, gout)
    np.testing.assert_allclose(g.theta, theta, rtol=0, atol=1e-13)
    # a constant rate ends elsewhere: the schedule is applied
    h = MLPGenerator(2, 2, hidden=(8,), seed=4)
    train(h, data, _Frozen(), WGAN(), n_iter=n_iter, batches=Batches(size=bs, seed=3), optimizer=SGD(lr=lr))
    assert np.max(np.abs(h.theta - theta)) > 1e-6


def _pair(data, opt_a, opt_b, dt=0.5):
    a, b = MLPGenerator(2, 2, hidden=(16, 16), seed=5), MLPGenerator(2, 2, hidden=(16, 16), seed=5)
    batches = Batches(size=64, seed=7)
    assert train(a, data, _Frozen(), W1FE(K=1, dt=dt), n_iter=12, batches=batches, optimizer=opt_a).success
    assert train(b, data, _Frozen(), WGAN(), n_iter=12, batches=batches, optimizer=opt_b).success
    return a, b


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_k1_is_wgan_with_schedules_and_the_average(data, ema):
    """K = 1 ≡ WGAN (Proposition 4.1) holds step by step, so with any schedule and with the EMA:
    SGD at η ≡ 2Δtη, Adam at (lr, ε) ≡ (lr, ε/2Δt); raw and averaged parameters alike."""
    dt = 0.5
    for opt_a, opt_b in ((SGD(lr=0.05, schedule="cosine", ema=ema), SGD(lr=2 * dt * 0.05, schedule="cosine", ema=ema)),
                         (Adam(lr=1e-3, schedule="stages", ema=ema),
                          Adam(lr=1e-3, eps=1e-8 / (2 * dt), schedule="stages", ema=ema))):
        a, b = _pair(data, opt_a, opt_b, dt)
        assert np.max(np.abs(a.theta - b.theta)) <= 1e-12 * max(1.0, np.abs(b.theta).max())
        assert (a.ema_theta is None) == (b.ema_theta is None) == (ema == 0.0)
        if ema:
            assert np.max(np.abs(a.ema_theta - b.ema_theta)) <= 1e-12 * max(1.0, np.abs(b.ema_theta).max())
            assert np.max(np.abs(a.ema_theta - a.theta)) > 1e-6  # the average is not the last iterate


def test_the_average_is_the_stated_ema_of_the_raw_trajectory(data):
    """The raw trajectory does not depend on the EMA; the average equals one recomputed from the
    trajectory (θ_k after k outer steps: runs of k steps, constant rate) with β_k = min(ema, (1+k)/(10+k))."""
    kw = dict(batches=Batches(size=32, seed=2), optimizer=Adam(lr=3e-3, ema=0.5))
    g = MLPGenerator(2, 2, hidden=(8,), seed=6)
    ema = g.theta.copy()
    train(g, data, _Frozen(), W1FE(K=3), n_iter=7, **kw)
    for k in range(1, 8):
        h = MLPGenerator(2, 2, hidden=(8,), seed=6)
        train(h, data, _Frozen(), W1FE(K=3), n_iter=k, batches=kw["batches"], optimizer=Adam(lr=3e-3, ema=0.0))
        beta = min(0.5, k / (9.0 + k))
        ema = beta * ema + (1 - beta) * h.theta
    assert h.ema_theta is None and h.theta.tobytes() == g.theta.tobytes()
    np.testing.assert_allclose(g.ema_theta, ema, rtol=0, atol=1e-14)


def test_sampling_and_evaluation_use_the_average(tmp_path, data):
    held = eight_gaussians(300, seed=9)
    g = MLPGenerator(2, 2, hidden=(16,), seed=1)
    r = train(g, data, _Frozen(), W1FE(K=2), n_iter=10, batches=32, optimizer=Adam(lr=5e-3, ema=0.8),
              evaluation=Evaluation(held_out=held, every=5, samples=300))
    z = np.random.default_rng(0).standard_normal((50, 2))
    np.testing.assert_array_equal(g(z), GK.evaluate(g.ema_theta, g.offs, g.sizes, g._act, z))
    np.testing.assert_array_equal(g(z, ema=False), GK.evaluate(g.theta, g.offs, g.sizes, g._act, z))
    assert np.max(np.abs(g(z) - g(z, ema=False))) > 1e-6
    np.testing.assert_array_equal(g.sample(40, seed=3), g(np.random.default_rng(3).standard_normal((40, 2))))
    # the last evaluation: exact W1 (ot.emd2 on cdist costs) of the averaged generator's samples
    ze = np.random.default_rng([0, 1]).standard_normal((300, 2))
    x = GK.evaluate(g.ema_theta, g.offs, g.sizes, g._act, ze)
    ref = ot.emd2(np.full(300, 1 / 300), np.full(300, 1 / 300), cdist(x, held), numItermax=10**7)
    assert r.history["w1"][-1] == pytest.approx(ref, rel=1e-9)
    # saved and loaded with the result; training again without an average drops it
    path = r.save(tmp_path / "r.npz")
    back = TrainResult.load(path)
    assert back.generator.ema_theta.tobytes() == g.ema_theta.tobytes()
    np.testing.assert_array_equal(back.generator.sample(40, seed=3), g.sample(40, seed=3))
    train(g, data, _Frozen(), W1FE(K=2), n_iter=1, batches=32, optimizer=Adam(lr=5e-3, ema=0.0))
    assert g.ema_theta is None


def test_interrupted_training_with_schedule_and_average_resumes_bitwise(tmp_path, data):
    held = eight_gaussians(300, seed=9)
    opt = Adam(lr=2e-3, schedule="cosine", final_lr_ratio=0.1, ema=0.7)
    kw = dict(n_iter=8, batches=64, optimizer=opt, evaluation=Evaluation(held_out=held, every=2, samples=300))
    ref = train(MLPGenerator(2, 2, hidden=(16,), seed=1), data, wf.ExactPotential(), W1FE(K=4), **kw)
    InterruptingExact.calls = 0
    ck = tmp_path / "gen.ckpt"
    part = train(MLPGenerator(2, 2, hidden=(16,), seed=1), data, InterruptingExact(), W1FE(K=4),
                 checkpoint=wf.Checkpoint(ck, every=2), **kw)
    assert part.status == "interrupted" and part.n_iter == 3
    again = MLPGenerator(2, 2, hidden=(16,), seed=1)
    done = train(again, data, InterruptingExact(), W1FE(K=4), checkpoint=wf.Checkpoint(ck, resume=True), **kw)
    assert done.success and done.n_iter == 8
    assert again.theta.tobytes() == ref.generator.theta.tobytes()
    assert again.ema_theta.tobytes() == ref.generator.ema_theta.tobytes()
    assert done.history["w1"].tobytes() == ref.history["w1"].tobytes()
    # another schedule or average is another run: refused
    for other in (Adam(lr=2e-3, ema=0.7, schedule="constant"), Adam(lr=2e-3, schedule="cosine", final_lr_ratio=0.1, ema=0.6)):
        with pytest.raises(wf.CheckpointError, match=r"different run: config differ"):
            train(MLPGenerator(2, 2, hidden=(16,), seed=1), data, InterruptingExact(), W1FE(K=4),
                  checkpoint=wf.Checkpoint(ck, resume=True), **dict(kw, optimizer=other))


def test_the_torch_backend_follows_the_same_schedule_and_average(data):
    pytest.importorskip("torch")
    opt = Adam(lr=3e-3, schedule="stages", final_lr_ratio=0.1, ema=0.8)
    a, b = MLPGenerator(2, 2, hidden=(16,), seed=2), MLPGenerator(2, 2, hidden=(16,), seed=2)
    for g, backend in ((a, "numpy"), (b, "torch")):
        assert train(g, data, _Frozen(), W1FE(K=3), n_iter=10, batches=Batches(size=32, seed=1), optimizer=opt,
                     backend=backend).success
    np.testing.assert_allclose(b.theta, a.theta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b.ema_theta, a.ema_theta, rtol=0, atol=1e-10)


def test_the_plain_torch_loop_keeps_no_average_and_refuses_one(data):
    pytest.importorskip("torch")
    from w1flow.generative import GPCritic, TorchGenerator, wgan_gp_reference

    g = TorchGenerator("mlp", 2, 2, hidden=(8,), seed=0)
    train(g, data, _Frozen(), W1FE(K=2), n_iter=3, batches=16, optimizer=Adam(lr=1e-3, ema=0.9), backend="torch")
    assert g.ema_theta is not None
    critic = GPCritic(kind="mlp", hidden=(8,), n_critic=1)
    res = wgan_gp_reference(g, data, critic, n_iter=2, batches=16, num_threads=1)
    assert res.success and g.ema_theta is None  # the stale average of the first training is dropped
    for bad in (dict(optimizer=Adam(lr=1e-3)), dict(optimizer=Adam(lr=1e-3, ema=0.0, schedule="cosine"))):
        with pytest.raises(ValueError, match=r"^optimizer: the plain torch loop .* keeps no parameter average"):
            wgan_gp_reference(g, data, critic, n_iter=1, batches=16, num_threads=1, **bad)
    with pytest.raises(ValueError, match=r"^GPCritic\(optimizer=\.\.\.\): the plain torch loop"):
        GPCritic(optimizer=Adam(lr=1e-3))
