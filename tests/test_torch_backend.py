"""The optional torch backend of the generator trainer: lazily imported, the same trajectory as the
Numba kernels in float64, CPU-only in CI. Tests that need torch skip cleanly without it."""

import os
import subprocess
import sys

import numpy as np
import pytest

import w1flow as wf
from w1flow.datasets import eight_gaussians
from w1flow.generative import MLPGenerator, train


def test_import_w1flow_does_not_import_torch():
    """w1flow's own modules import torch only for backend='torch'. (POT imports torch at its own
    import when torch is installed, for its torch backend; POT_BACKEND_DISABLE_PYTORCH=1 turns that
    off, which isolates what w1flow does.)"""
    code = "import sys, w1flow, w1flow.generative; assert 'torch' not in sys.modules, 'torch imported'"
    env = dict(os.environ, POT_BACKEND_DISABLE_PYTORCH="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("method, K, optimizer, activation", [("w1fe", 4, "adam", "relu"), ("wgan", 1, "adam", "tanh"),
                                                              ("w1fe", 2, "sgd", "tanh"), ("naive_same", 3, "adam", "relu")])
def test_numpy_and_torch_backends_follow_the_same_trajectory(method, K, optimizer, activation):
    pytest.importorskip("torch")
    data = eight_gaussians(4000, seed=0)
    thetas = {}
    for backend in ("numpy", "torch"):
        gen = MLPGenerator(2, 2, hidden=(32, 32), activation=activation, seed=3)
        res = train(gen, data, wf.ExactPotential(), method=method, K=K, dt=0.1, n_iter=50, batch_size=64, seed=1,
                    lr=1e-3, optimizer=optimizer, backend=backend, **({"device": "cpu"} if backend == "torch" else {}))
        assert res.success
        thetas[backend] = gen.theta.copy()
    scale = np.abs(thetas["numpy"]).max()
    assert np.max(np.abs(thetas["numpy"] - thetas["torch"])) <= 1e-8 * scale
    # and the trajectory moved: the comparison is not between two unchanged parameter vectors
    assert np.max(np.abs(thetas["numpy"] - MLPGenerator(2, 2, hidden=(32, 32), activation=activation, seed=3).theta)) > 1e-3


def test_backend_arguments_are_checked():
    data = eight_gaussians(100, seed=0)
    gen = MLPGenerator(2, 2, hidden=(4,), seed=0)
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'torch'"):
        train(gen, data, wf.ExactPotential(), n_iter=1, backend="jax")
    with pytest.raises(ValueError, match="device= is for backend='torch'"):
        train(gen, data, wf.ExactPotential(), n_iter=1, device="cpu")
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="device 'nonsense' is not usable"):
        train(gen, data, wf.ExactPotential(), n_iter=1, backend="torch", device="nonsense")


@pytest.mark.skipif(os.environ.get("CI", "").lower() != "true", reason="CI installs the CPU wheel")
def test_ci_torch_is_the_cpu_build():
    torch = pytest.importorskip("torch")
    assert torch.version.cuda is None and not torch.cuda.is_available()
