"""Torch generator networks (DCGAN-style, residual translator), the DCGAN critic, the latent source of
domain translation, the critic-evaluation count, and the plain WGAN-GP reference loop.

Every test needs torch and skips cleanly without it."""

import numpy as np
import ot
import pytest
from scipy.spatial.distance import cdist

from conftest import InterruptingExact
import w1flow as wf
from w1flow.datasets import eight_gaussians

torch = pytest.importorskip("torch")

from w1flow.generative import (SGD, WGAN, W1FE, Adam, Batches, Evaluation, GPCritic, MLPGenerator,  # noqa: E402
                               NaiveSame, TorchBackend, TorchGenerator, train, wgan_gp_reference)
from w1flow.potentials.torch_critic import TorchCriticPotential  # noqa: E402


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small networks run fastest on one thread, and two busy threads on a shared 2-core machine
    stall each other (the trainer's kernels use torch's global setting)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.random((n, 64)) * (rng.random((n, 64)) < 0.4), 0.0, 1.0)


def _w1_reference(x, y):
    """W1 between two uniform clouds by an independent dense LP (POT, cdist costs)."""
    return float(ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cdist(x, y), numItermax=10**7))


@pytest.mark.parametrize("kind, latent", [("dcgan", 16), ("residual", 64), ("mlp", 5)])
def test_the_flat_parameter_vector_drives_the_network(kind, latent):
    g = TorchGenerator(kind, latent, 64, channels=(8, 4), hidden=(16,), seed=3)
    z = np.random.default_rng(0).normal(size=(7, latent))
    assert g.n_params == sum(p.numel() for p in g.module.parameters())
    with torch.no_grad():
        direct = g.load_into()(torch.as_tensor(z)).numpy()
    np.testing.assert_array_equal(g(z), direct)
    # a change of theta is a change of the network (the views are not stale copies)
    g.theta[:] = np.random.default_rng(1).normal(size=g.n_params) * 0.1
    with torch.no_grad():
        changed = g.load_into()(torch.as_tensor(z)).numpy()
    np.testing.assert_allclose(g(z), changed, rtol=0, atol=1e-12)
    assert np.abs(changed - direct).max() > 1e-3


def test_generators_are_seeded_and_leave_the_callers_torch_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = TorchGenerator("dcgan", 16, 64, seed=5)
    after = torch.rand(3)
    np.testing.assert_array_equal(before.numpy(), after.numpy())
    np.testing.assert_array_equal(a.theta, TorchGenerator("dcgan", 16, 64, seed=5).theta)
    assert np.abs(a.theta - TorchGenerator("dcgan", 16, 64, seed=6).theta).max() > 1e-3


def test_the_residual_translator_starts_as_the_identity_and_the_dcgan_makes_images():
    x = _images(20)
    np.testing.assert_array_equal(TorchGenerator("residual", 64, 64, seed=0)(x), x)
    out = TorchGenerator("dcgan", 16, 64, seed=0).sample(5, seed=1)
    assert out.shape == (5, 64) and np.all(np.isfinite(out)) and out.std() > 0


def test_bad_network_arguments_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="kind must be one of"):
        TorchGenerator("unet")
    with pytest.raises(ValueError, match="latent_dim .* must equal out_dim"):
        TorchGenerator("residual", 16, 64)
    with pytest.raises(ValueError, match="divisible by 4"):
        TorchGenerator("dcgan", 4, 36, image_shape=(6, 6))
    with pytest.raises(ValueError, match="pixels but the data has"):
        TorchGenerator("dcgan", 4, 64, image_shape=(4, 4))
    with pytest.raises(ValueError, match="lipschitz='spectral' is exact for linear layers only"):
        TorchCriticPotential(architecture="dcgan", lipschitz="spectral")
    with pytest.raises(ValueError, match="runs on torch only: pass backend='torch'"):
        train(TorchGenerator("dcgan", 4, 64), _images(50), wf.ExactPotential(), n_iter=1)
    with pytest.raises(ValueError, match=r"pass Evaluation\(latent=\.\.\.\)"):
        train(TorchGenerator("residual", 64, 64), _images(50), wf.ExactPotential(), n_iter=1, backend="torch",
              batches=Batches(latent=_images(50, 1)), evaluation=Evaluation(held_out=_images(50, 2), every=1))
    with pytest.raises(ValueError, match=r"^TorchBackend\(dtype=\.\.\.\) must be"):
        TorchBackend(dtype="float16")


def test_k1_w1fe_on_a_dcgan_is_a_wgan_step_at_twice_dt_times_the_learning_rate():
    """Proposition 4.1 on a convolutional generator: with SGD at η, one W1-FE step (K = 1) equals
    one WGAN generator step at 2Δtη, to round-off."""
    data = _images(300)
    dt, eta = 0.3, 1e-2
    thetas = {}
    for method, lr in (("w1fe", eta), ("wgan", 2 * dt * eta)):
        g = TorchGenerator("dcgan", 8, 64, channels=(8, 4), seed=1)
        rule = W1FE(K=1, dt=dt) if method == "w1fe" else WGAN()
        res = train(g, data, wf.ExactPotential(), rule, n_iter=3, batches=Batches(size=32, seed=2),
                    optimizer=SGD(lr=lr), backend=TorchBackend(device="cpu"))
        assert res.success
        thetas[method] = g.theta.copy()
    moved = np.abs(thetas["w1fe"] - TorchGenerator("dcgan", 8, 64, channels=(8, 4), seed=1).theta).max()
    assert moved > 1e-4
    assert np.abs(thetas["w1fe"] - thetas["wgan"]).max() <= 1e-12 * max(1.0, np.abs(thetas["wgan"]).max())


def test_translation_draws_its_latents_from_the_source_and_evaluates_on_eval_latent():
    src, tgt, src_held, tgt_held = _images(200, 0), _images(200, 1), _images(40, 2), _images(40, 3)
    g = TorchGenerator("residual", 64, 64, channels=(4, 4), seed=0)
    # a learning rate so small that G stays the identity to 1e-9: the first evaluation is then
    # W1(source held-out, target held-out), computed independently
    res = train(g, tgt, wf.ExactPotential(), W1FE(K=1, dt=0.1), n_iter=1, batches=Batches(size=32, latent=src),
                optimizer=Adam(lr=1e-13), backend="torch",
                evaluation=Evaluation(held_out=tgt_held, every=1, samples=40, latent=src_held))
    assert res.success
    np.testing.assert_allclose(res.w1[1][0], _w1_reference(src_held, tgt_held), rtol=1e-7)

    class Recording:  # the exact oracle, remembering the generated batches it is shown
        provides_plan = True

        def __init__(self):
            self.inner, self.seen = wf.ExactPotential(), []

        def __call__(self, x, a, y, b, t=0.0):
            self.seen.append(np.array(x))
            return self.inner(x, a, y, b, t)

    rec = Recording()
    train(TorchGenerator("residual", 64, 64, channels=(4, 4), seed=0), tgt, rec, n_iter=2,
          batches=Batches(size=32, latent=src), optimizer=Adam(lr=1e-13), backend="torch")
    # G is still the identity, so every generated point is one of the source images
    for batch in rec.seen:
        assert cdist(batch, src).min(axis=1).max() < 1e-9
    # and training on the source moves it toward the target
    g = TorchGenerator("residual", 64, 64, channels=(8, 8), seed=0)
    res = train(g, tgt, wf.ExactPotential(), W1FE(K=4, dt=0.5), n_iter=40, batches=Batches(size=64, latent=src),
                optimizer=Adam(lr=3e-3), backend="torch",
                evaluation=Evaluation(held_out=tgt_held, every=40, samples=40, latent=src_held))
    assert res.w1[1][-1] < 0.9 * _w1_reference(src_held, tgt_held), res.w1


@pytest.mark.parametrize("method, K", [("w1fe", 3), ("naive_same", 3), ("wgan", 1)])
def test_critic_evaluations_count_updates_plus_gradient_queries(method, K):
    data = eight_gaussians(500, seed=0)
    oracle = wf.CriticPotential(hidden=(8,), n_critic=4, n_warmup=10, seed=0)
    rule = {"w1fe": W1FE(K=K), "naive_same": NaiveSame(K=K), "wgan": WGAN()}[method]
    res = train(MLPGenerator(2, 2, hidden=(8,), seed=0), data, oracle, rule, n_iter=5, batches=32)
    h = res.history
    queries = np.arange(1, 6) * (K if method == "naive_same" else 1)  # W1-FE queries ∇φ once per step
    np.testing.assert_array_equal(h["critic_evaluations"], h["critic_steps"] + queries)
    assert h["critic_steps"][-1] == 10 + 4 * 4
    # an exact oracle's plan velocity is no critic evaluation
    res = train(MLPGenerator(2, 2, hidden=(8,), seed=0), data, wf.ExactPotential(), W1FE(K=3), n_iter=3, batches=32)
    np.testing.assert_array_equal(res.history["critic_evaluations"], [0, 0, 0])


def test_the_plain_wgan_gp_loop_does_the_work_of_train_wgan_with_the_torch_critic():
    """Without the penalty (its interpolates are drawn differently) and with one batch pair per
    outer step, the plain loop and ``train(..., TorchCriticPotential(...), WGAN())`` draw the same
    batches, start from the same networks and do the same arithmetic: the same generator after 6
    steps, to round-off. So a throughput comparison between them compares equal work."""
    data = _images(400)
    kw = dict(architecture="dcgan", channels=(4, 8), n_critic=3, lr=1e-3, seed=7, penalty=0.0)
    a = TorchGenerator("dcgan", 8, 64, channels=(8, 4), seed=1)
    res = train(a, data, TorchCriticPotential(warmup=5, **{k: v for k, v in kw.items()}), WGAN(), n_iter=6,
                batches=Batches(size=32, seed=4), optimizer=Adam(lr=1e-3), backend=TorchBackend(device="cpu"))
    b = TorchGenerator("dcgan", 8, 64, channels=(8, 4), seed=1)
    critic = GPCritic(channels=(4, 8), seed=7, n_critic=3, warmup=2, penalty=0.0, optimizer=Adam(lr=1e-3, ema=0.0),
                      fresh_batches=False)
    ref = wgan_gp_reference(b, data, critic, n_iter=6, batches=Batches(size=32, seed=4), optimizer=Adam(lr=1e-3, ema=0.0))
    assert res.success and ref.success
    assert np.abs(a.theta - TorchGenerator("dcgan", 8, 64, channels=(8, 4), seed=1).theta).max() > 1e-3
    assert np.abs(a.theta - b.theta).max() <= 1e-10, np.abs(a.theta - b.theta).max()
    np.testing.assert_array_equal(res.history["critic_evaluations"], ref.history["critic_evaluations"])


@pytest.mark.slow
def test_the_plain_wgan_gp_loop_learns_with_the_penalty():
    data = eight_gaussians(2000, seed=0)
    g = TorchGenerator("mlp", 2, 2, hidden=(32, 32), seed=0)
    held = eight_gaussians(300, seed=1)
    critic = GPCritic(kind="mlp", hidden=(32, 32), n_critic=5, warmup=50, optimizer=Adam(lr=2e-3, ema=0.0))
    res = wgan_gp_reference(g, data, critic, n_iter=150, batches=128, optimizer=Adam(lr=2e-3, ema=0.0),
                            evaluation=Evaluation(held_out=held, every=150, samples=300), num_threads=1)
    start = _w1_reference(TorchGenerator("mlp", 2, 2, hidden=(32, 32), seed=0).sample(300, np.random.default_rng([0, 1])),
                          held)
    assert res.success and res.w1[1][-1] < 0.8 * start, (res.w1, start)


@pytest.mark.slow
def test_the_dcgan_critic_learns_a_w1_estimate_on_images():
    x, y = _images(200, 0) * 0.5, _images(200, 1)
    exact = _w1_reference(x, y)
    pot = TorchCriticPotential(architecture="dcgan", channels=(8, 16), warmup=300, lr=2e-3, seed=0, num_threads=1)(
        x, None, y, None)
    assert 0.5 * exact < pot.w1 < 1.3 * exact, (pot.w1, exact)
    assert pot.grad(x).shape == x.shape


def test_a_kept_forward_pass_is_reused_only_at_the_same_theta_and_latents():
    from w1flow.generative.torch_backend import TorchKernels

    g = TorchGenerator("dcgan", 8, 64, channels=(8, 4), seed=0)
    rng = np.random.default_rng(0)
    Z1, Z2, gout = rng.normal(size=(16, 8)), rng.normal(size=(16, 8)), rng.normal(size=(16, 64))
    args = (g.offs, g.sizes, g._act)
    opt = (1e-2, 0.5, 0.9, 1e-8, False)

    def step(keep_on, Z, theta_change=0.0):
        K = TorchKernels("cpu", forward=g.torch_forward)
        th, m, v = g.theta.copy(), np.zeros(g.n_params), np.zeros(g.n_params)
        K.evaluate(th, *args, keep_on, keep=True)
        th += theta_change
        K.vjp_step(th, m, v, 0, *args, Z, gout, *opt)
        return th

    fresh = TorchKernels("cpu", forward=g.torch_forward)
    for Z, change in ((Z1, 0.0), (Z2, 0.0), (Z1, 1e-3)):
        th = g.theta.copy() + change
        fresh.vjp_step(th, np.zeros(g.n_params), np.zeros(g.n_params), 0, *args, Z, gout, *opt)
        np.testing.assert_allclose(step(Z1, Z, change), th, rtol=0, atol=1e-14)


def test_an_interrupted_translation_resumes_bitwise_and_other_sources_are_refused(tmp_path):
    src, tgt, src_held, tgt_held = _images(200, 0), _images(200, 1), _images(40, 2), _images(40, 3)

    InterruptingExact.calls = 0
    kw = dict(method=W1FE(K=3, dt=0.3), n_iter=7, batches=Batches(size=32, latent=src), optimizer=Adam(lr=2e-3),
              backend="torch", evaluation=Evaluation(held_out=tgt_held, every=2, samples=40, latent=src_held))
    ref = train(TorchGenerator("residual", 64, 64, channels=(4, 4), seed=0), tgt, wf.ExactPotential(), **kw)
    ck = tmp_path / "translate.ckpt"
    part = train(TorchGenerator("residual", 64, 64, channels=(4, 4), seed=0), tgt, InterruptingExact(),
                 checkpoint=wf.Checkpoint(ck, every=1), **kw)
    assert part.status == "interrupted" and part.n_iter == 3
    again = TorchGenerator("residual", 64, 64, channels=(4, 4), seed=0)
    done = train(again, tgt, InterruptingExact(), checkpoint=wf.Checkpoint(ck, resume=True), **kw)
    assert done.success and done.n_iter == 7
    assert again.theta.tobytes() == ref.generator.theta.tobytes()
    for key in ("w1", "critic_evaluations", "generator_steps", "displacement"):
        assert done.history[key].tobytes() == ref.history[key].tobytes(), key
    with pytest.raises(wf.CheckpointError, match="different run"):
        train(TorchGenerator("residual", 64, 64, channels=(4, 4), seed=0), tgt, InterruptingExact(),
              checkpoint=wf.Checkpoint(ck, resume=True), **dict(kw, batches=Batches(size=32, latent=src[::-1])))


def test_a_diverged_plain_loop_does_not_report_success():
    g = TorchGenerator("mlp", 2, 2, hidden=(8,), seed=0)
    res = wgan_gp_reference(g, eight_gaussians(200, seed=0), GPCritic(kind="mlp", hidden=(8,), n_critic=1), n_iter=3,
                            batches=32, optimizer=Adam(lr=1e300, ema=0.0), num_threads=1)
    # the finite 1e300-sized parameters of the first step are caught by the divergence rule (issue [S]),
    # before they overflow to a non-finite value
    assert res.status == "diverged" and not res.success and "lower lr" in res.message, res


def test_a_finitely_exploding_plain_loop_is_diverged():
    """Issue [S]: the plain loop shares train's divergence rule: lr = 1e12 sends the outputs far beyond
    1e3 times the data's scale while staying finite; that is "diverged", not "success"."""
    g = TorchGenerator("mlp", 2, 2, hidden=(8,), seed=0)
    res = wgan_gp_reference(g, eight_gaussians(200, seed=0), GPCritic(kind="mlp", hidden=(8,), n_critic=1), n_iter=3,
                            batches=32, optimizer=Adam(lr=1e12, ema=0.0), num_threads=1)
    assert res.status == "diverged" and not res.success and "lower lr" in res.message, res


@pytest.mark.parametrize("build, exc, match", [
    (lambda: GPCritic(kind="resnet"), ValueError, r"^GPCritic\(kind=\.\.\.\) must be 'dcgan' or 'mlp'"),
    (lambda: GPCritic(n_critic=0), ValueError, r"^GPCritic\(n_critic=\.\.\.\) must be >= 1"),
    (lambda: GPCritic(warmup=-1), ValueError, r"^GPCritic\(warmup=\.\.\.\) must be >= 0"),
    (lambda: GPCritic(penalty=-1.0), ValueError, r"^GPCritic\(penalty=\.\.\.\) must be"),
    (lambda: GPCritic(optimizer=SGD(lr=1e-3)), TypeError, r"^GPCritic\(optimizer=\.\.\.\) must be an Adam"),
    (lambda: GPCritic(fresh_batches=1), TypeError, r"^GPCritic\(fresh_batches=\.\.\.\) must be True or False"),
    (lambda: wgan_gp_reference(MLPGenerator(2, 2), eight_gaussians(20, seed=0)), TypeError,
     r"^generator must be a TorchGenerator"),
    (lambda: wgan_gp_reference(TorchGenerator("mlp", 2, 2, hidden=(4,)), eight_gaussians(20, seed=0), "mlp"),
     TypeError, r"^critic must be a GPCritic"),
    (lambda: wgan_gp_reference(TorchGenerator("mlp", 2, 2, hidden=(4,)), eight_gaussians(20, seed=0),
                               optimizer=SGD(lr=1e-3)), TypeError, r"^optimizer must be an Adam"),
    (lambda: wgan_gp_reference(TorchGenerator("mlp", 2, 2, hidden=(4,)), eight_gaussians(20, seed=0),
                               backend="numpy"), ValueError, r"wgan_gp_reference runs on torch"),
    (lambda: wgan_gp_reference(TorchGenerator("mlp", 2, 2, hidden=(4,)), eight_gaussians(20, seed=0),
                               evaluation=Evaluation(held_out=np.zeros((4, 3)))), ValueError,
     r"^Evaluation\(held_out=\.\.\.\) has dimension 3"),
    (lambda: wgan_gp_reference(TorchGenerator("mlp", 2, 2, hidden=(4,)), eight_gaussians(20, seed=0), num_threads=0),
     ValueError, r"^num_threads must be >= 1"),
])
def test_the_plain_loop_s_options_name_the_field(build, exc, match):
    with pytest.raises(exc, match=match):
        build()
