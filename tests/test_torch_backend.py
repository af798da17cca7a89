"""The optional torch backend of the generator trainer: lazily imported, the same trajectory as the
Numba kernels in float64, CPU-only in CI. Tests that need torch skip cleanly without it."""

import os
import subprocess
import sys

import numpy as np
import pytest

import w1flow as wf
from w1flow.datasets import eight_gaussians
from w1flow.generative import SGD, Adam, Batches, MLPGenerator, TorchBackend, method_from_name, train


# Run in a fresh interpreter. Optional array libraries (torch and the packages that pull it in) are
# refused to every importer, as in an environment without them: POT and the others treat them as
# optional (``try: import ... except ImportError``). An import of one that w1flow's own code asks
# for is recorded too (the frame that ran the import statement is in the w1flow package), so a
# guarded ``try: import torch`` in w1flow is caught as well as a plain one.
_IMPORT_GUARD = """
import importlib, importlib.abc, importlib.util, os, sys
PKG = os.path.dirname(importlib.util.find_spec("w1flow").origin) + os.sep
IMPORTLIB = os.path.dirname(importlib.__file__) + os.sep
OPTIONAL = {"torch", "torchvision", "geomloss", "pykeops", "keopscore", "jax", "jaxlib", "tensorflow", "cupy",
            "cupyx"}
asked = []

class Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in OPTIONAL:
            return None
        f = sys._getframe(1)
        while f is not None and (f.f_code.co_filename.startswith("<frozen")
                                 or f.f_code.co_filename.startswith(IMPORTLIB)):
            f = f.f_back  # the import machinery, up to the frame whose code imports
        if f is not None and f.f_code.co_filename.startswith(PKG):
            asked.append(f"{name} from {f.f_code.co_filename}:{f.f_lineno}")
        raise ImportError(f"{name}: refused by the import test")

sys.meta_path.insert(0, Guard())
import w1flow, w1flow.generative, w1flow.paper_checks, w1flow.sweep, w1flow.cli
assert not asked, f"w1flow's own modules import {asked}"
assert not [m for m in sys.modules if m.partition(".")[0] in OPTIONAL], "an optional library was imported"
"""


@pytest.mark.parametrize("with_geomloss", [False, True])
def test_import_w1flow_does_not_import_torch(tmp_path, with_geomloss):
    """w1flow's own modules import torch only for backend='torch', in any environment: also where
    geomloss is installed (POT imports it at its own import, and it imports torch; simulated here
    by a stand-in geomloss package that imports torch)."""
    env = dict(os.environ)
    if with_geomloss:
        (tmp_path / "geomloss").mkdir()
        (tmp_path / "geomloss" / "__init__.py").write_text("import torch\n__version__ = '0.3.1'\n")
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-c", _IMPORT_GUARD], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


_SMALL = dict(n_data=300, hidden=(8, 8), n_iter=4, batch_size=32, lr=1e-2, rtol=1e-9)  # fast tier
_LONG = dict(n_data=4000, hidden=(32, 32), n_iter=50, batch_size=64, lr=1e-3, rtol=1e-8)  # 50 steps: slow


@pytest.mark.parametrize("method, K, optimizer, activation, size", [
    ("w1fe", 3, "adam", "relu", _SMALL), ("naive_same", 2, "sgd", "tanh", _SMALL),
    *(pytest.param(*case, _LONG, marks=pytest.mark.slow) for case in [
        ("w1fe", 4, "adam", "relu"), ("wgan", 1, "adam", "tanh"), ("w1fe", 2, "sgd", "tanh"),
        ("naive_same", 3, "adam", "relu")])])
def test_numpy_and_torch_backends_follow_the_same_trajectory(method, K, optimizer, activation, size):
    """The torch backend's autograd gives the numpy backend's hand-written gradients, step by step.

    Only on a well-conditioned instance: where a ReLU kink or a tie of the exact plan lies within
    round-off of the trajectory, two correct backends part (the generator of seed 3 did on an
    AVX-512 machine, and so did numpy alone from θ(1 + 1e-14)). So numpy's own trajectory from θ
    scaled by 1 ± 1e-13 must first stay within the tolerance."""
    pytest.importorskip("torch")
    data = eight_gaussians(size["n_data"], seed=0)

    def generator(scale=1.0):
        gen = MLPGenerator(2, 2, hidden=size["hidden"], activation=activation, seed=4)
        gen.theta[:] = gen.theta * scale
        return gen

    thetas = {}
    for backend in ("numpy", "torch", 1 + 1e-13, 1 - 1e-13):
        gen = generator(backend if isinstance(backend, float) else 1.0)
        opt = Adam(lr=size["lr"]) if optimizer == "adam" else SGD(lr=size["lr"])
        rule = method_from_name(method, K=K, **({"dt": 0.1} if method == "w1fe" else {}))
        res = train(gen, data, wf.ExactPotential(), rule, n_iter=size["n_iter"],
                    batches=Batches(size=size["batch_size"], seed=1), optimizer=opt,
                    backend=TorchBackend(device="cpu") if backend == "torch" else "numpy")
        assert res.success
        thetas[backend] = gen.theta.copy()
    scale = np.abs(thetas["numpy"]).max()
    for nudged in (1 + 1e-13, 1 - 1e-13):
        assert np.max(np.abs(thetas["numpy"] - thetas[nudged])) <= size["rtol"] * scale, \
            "ill-conditioned test instance (a kink or tie within round-off): choose another seed"
    assert np.max(np.abs(thetas["numpy"] - thetas["torch"])) <= size["rtol"] * scale
    # and the trajectory moved: the comparison is not between two unchanged parameter vectors
    assert np.max(np.abs(thetas["numpy"] - generator().theta)) > 1e-3


def test_backend_arguments_are_checked():
    data = eight_gaussians(100, seed=0)
    gen = MLPGenerator(2, 2, hidden=(4,), seed=0)
    with pytest.raises(ValueError, match="backend must be 'numpy', 'torch' or TorchBackend"):
        train(gen, data, wf.ExactPotential(), n_iter=1, backend="jax")
    with pytest.raises(TypeError, match=r"TorchBackend\(device=\.\.\.\) must be a device name"):
        TorchBackend(device=0)
    with pytest.raises(ValueError, match=r"TorchBackend\(dtype=\.\.\.\) must be 'float64' or 'float32'"):
        TorchBackend(dtype="float16")
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="device 'nonsense' is not usable"):
        train(gen, data, wf.ExactPotential(), n_iter=1, backend=TorchBackend(device="nonsense"))


@pytest.mark.skipif(os.environ.get("CI", "").lower() != "true", reason="CI installs the CPU wheel")
def test_ci_torch_is_the_cpu_build():
    torch = pytest.importorskip("torch")
    assert torch.version.cuda is None and not torch.cuda.is_available()


# -- the torch critic -------------------------------------------------------------------------------
def _clouds(n=150, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) + np.array([3.0, 0.0]), 0.5 * rng.normal(size=(n, 2))


def test_the_spectral_critic_is_1_lipschitz_so_its_dual_value_never_exceeds_w1():
    pytest.importorskip("torch")
    from w1flow.potentials.torch_critic import TorchCriticPotential

    x, y = _clouds()
    pot = TorchCriticPotential(hidden=(16, 16), lipschitz="spectral", warmup=400, seed=1, num_threads=1)(x, None, y, None)
    z = np.random.default_rng(2).normal(size=(3000, 2)) * 3.0
    assert np.linalg.norm(pot.grad(z), axis=1).max() <= 1.0 + 1e-9
    exact = wf.metrics.w1(x, y)
    # weak duality: any 1-Lipschitz φ has Σ a φ(x) − Σ b φ(y) <= W1; and it learned most of it
    assert 0.8 * exact <= pot.w1 <= exact + 1e-9, (pot.w1, exact)
    np.testing.assert_allclose(pot.velocity, -pot.grad(x), rtol=0, atol=1e-12)


def test_the_gradient_penalty_critic_overshoots_by_about_w1_over_2_lambda():
    pytest.importorskip("torch")
    from w1flow.potentials.torch_critic import TorchCriticPotential

    x, y = _clouds()
    exact = wf.metrics.w1(x, y)
    pot = TorchCriticPotential(hidden=(16, 16), lipschitz="gp", penalty=10.0, warmup=400, seed=1, num_threads=1)(x, None, y, None)
    slope = np.linalg.norm(pot.grad(x), axis=1).mean()
    # the penalty trades (slope − 1)² against the gain: slope ≈ 1 + W1/2λ ≈ 1.15 here
    assert 1.0 < slope < 1.0 + exact / 10.0 and exact < pot.w1 < 1.3 * exact, (slope, pot.w1, exact)


@pytest.mark.slow
def test_a_flow_driven_by_the_torch_critic_reaches_toward_the_data():
    pytest.importorskip("torch")
    from w1flow.potentials.torch_critic import TorchCriticPotential

    x, y = _clouds(100)
    oracle = TorchCriticPotential(hidden=(16, 16), lipschitz="spectral", warmup=300, n_critic=10, seed=0,
                                  num_threads=1)
    res = wf.simulate(wf.W1Flow(y, potential=oracle), x, 3.0, 0.1, saveat=wf.SaveAt(every=30))
    assert res.success and res.w1[-1] < 0.5 * res.w1[0], res.w1
    assert oracle.counters["critic_updates"] == 300 + 29 * 10


@pytest.mark.parametrize("side", ["one-sided", "two-sided"])
@pytest.mark.parametrize("gain", [1.0, 4.0])
def test_the_torch_critics_penalty_step_equals_a_hand_written_adam_step(side, gain):
    """One critic update against torch written out here: loss = −(Σ a φ(x) − Σ b φ(y)) + λ mean(p(|∇φ(x̂)|)),
    p(s) = (s − 1)² two-sided, max(s − 1, 0)² one-sided, on interpolates x̂ = ε x_i + (1 − ε) y_j drawn
    from the critic's own stream. ``gain`` scales the initial weights so that the slopes straddle 1
    (at gain 1 they are all below 1: the one-sided penalty is zero there, the two-sided one is not)."""
    torch = pytest.importorskip("torch")
    import copy

    from w1flow.potentials.torch_critic import TorchCriticPotential

    x, y = _clouds(40)
    crit = TorchCriticPotential(hidden=(8, 8), penalty=10.0, penalty_side=side, warmup=0, n_critic=1, lr=1e-2,
                                seed=3, dtype="float64", num_threads=1, batch_penalty=32)
    crit(x, None, y, None)  # builds the untrained network (0 warm-up steps)
    with torch.no_grad():
        for p in crit._net.parameters():
            p.mul_(gain)
    net = copy.deepcopy(crit._net)
    gen = torch.Generator().manual_seed(0)
    gen.set_state(crit._gen.get_state())
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.9))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    a = torch.full((40,), 1 / 40, dtype=torch.float64)
    i = torch.multinomial(a, 32, replacement=True, generator=gen)
    j = torch.multinomial(a, 32, replacement=True, generator=gen)
    eps = torch.rand(32, 1, generator=gen).to(torch.float64)  # drawn in float32, as the critic does
    xh = (eps * xt[i] + (1 - eps) * yt[j]).requires_grad_(True)
    (g,) = torch.autograd.grad(net(xh).sum(), xh, create_graph=True)
    s = g.norm(dim=1)
    assert bool((s < 1).any()) and (gain == 1.0 or bool((s > 1).any())), s
    pen = torch.relu(s - 1) ** 2 if side == "one-sided" else (s - 1) ** 2
    loss = -(net(xt).mean() - net(yt).mean()) + 10.0 * pen.mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    crit(x, None, y, None)  # one update
    for p, q in zip(crit._net.parameters(), net.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=0, atol=1e-12)


def test_the_torch_critic_refuses_an_unknown_penalty_side_and_keeps_old_fingerprints():
    pytest.importorskip("torch")
    from w1flow.potentials.torch_critic import TorchCriticPotential

    with pytest.raises(ValueError, match="penalty_side"):
        TorchCriticPotential(penalty_side="one_sided")
    assert "penalty_side" not in TorchCriticPotential().settings()
    assert TorchCriticPotential(penalty_side="one-sided").settings()["penalty_side"] == "one-sided"
