"""Pairwise interaction drifts: each built-in kernel against the dense formula (numpy broadcasting,
an N×N reference) to round-off, with weights; the O(N) Kuramoto coupling against the pairwise
sum; a custom kernel; bad kernels refused; and a flow with RK4 at order 4 against DOP853."""

import numba
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from w1flow import RK4, MeanFieldODE, simulate
from w1flow.interactions import (KuramotoCoupling, PairwiseInteraction, cucker_smale_kernel, kuramoto_kernel,
                                 morse_kernel)


def _dense_diff(x):
    return x[None, :, :] - x[:, None, :]  # D[i, j] = x_j − x_i


def test_kuramoto_against_the_dense_sum(rng):
    th, w = rng.uniform(-np.pi, np.pi, (150, 1)), rng.dirichlet(np.ones(150))
    ref = 2.5 * (np.sin(_dense_diff(th))[:, :, 0] * w[None, :]).sum(axis=1)
    got = PairwiseInteraction(kuramoto_kernel, (2.5,))(th, w, 0.0)[:, 0]
    assert np.max(np.abs(got - ref)) <= 1e-13
    fast = KuramotoCoupling(2.5)(th, w, 0.0)[:, 0]
    assert np.max(np.abs(fast - ref)) <= 1e-13


def test_cucker_smale_against_the_dense_sum(rng):
    dim, n = 2, 120
    z, w = rng.normal(size=(n, 2 * dim)), rng.dirichlet(np.ones(n))
    D = _dense_diff(z)
    psi = 1.5 * (1.0 + (D[:, :, :dim] ** 2).sum(-1)) ** (-0.7)
    ref = np.concatenate([np.zeros((n, dim)), (psi[:, :, None] * D[:, :, dim:] * w[None, :, None]).sum(1)], axis=1)
    got = PairwiseInteraction(cucker_smale_kernel, (1.5, 0.7))(z, w, 0.0)
    assert np.max(np.abs(got - ref)) <= 1e-13
    # alignment conserves the weighted mean velocity (momentum), exactly up to round-off
    assert np.max(np.abs(w @ got[:, dim:])) <= 1e-15


def test_morse_against_the_dense_force(rng):
    n = 130
    x, w = rng.normal(size=(n, 3)), rng.dirichlet(np.ones(n))
    x[5] = x[9]  # coincident particles: no force between them
    ca, la, cr, lr = 1.0, 1.5, 0.8, 0.5
    D = _dense_diff(x)
    r = np.sqrt((D ** 2).sum(-1))
    du = -cr / lr * np.exp(-r / lr) + ca / la * np.exp(-r / la)
    with np.errstate(invalid="ignore", divide="ignore"):
        F = np.where(r[:, :, None] > 0, du[:, :, None] * D / r[:, :, None], 0.0)
    ref = (F * w[None, :, None]).sum(1)
    got = PairwiseInteraction(morse_kernel, (ca, la, cr, lr))(x, w, 0.0)
    assert np.all(np.isfinite(got)) and np.max(np.abs(got - ref)) <= 1e-13


@numba.njit
def _linear(diff, params, out):
    for k in range(diff.shape[0]):
        out[k] = params[0] * diff[k]


def test_a_custom_kernel_and_the_scale(rng):
    x, w = rng.normal(size=(40, 2)), rng.dirichlet(np.ones(40))
    got = PairwiseInteraction(_linear, (0.5,), scale=2.0)(x, w, 0.0)
    np.testing.assert_allclose(got, (w @ x)[None, :] - x, rtol=0, atol=1e-14)  # Σ w_j (x_j − x_i)
    with pytest.raises(TypeError, match=r"\bkernel must be a numba\.njit function"):
        PairwiseInteraction(lambda d, p, o: None)
    with pytest.raises(ValueError, match=r"\bKuramotoCoupling needs phases of shape \(n, 1\)"):
        KuramotoCoupling(1.0)(np.zeros((4, 2)), np.full(4, 0.25), 0.0)


@pytest.mark.slow
def test_kuramoto_flow_with_rk4_is_fourth_order_against_dop853(rng):
    n, K = 60, 1.5
    th0 = rng.uniform(-np.pi, np.pi, (n, 1))
    w = np.full(n, 1.0 / n)
    coupling = KuramotoCoupling(K)
    ref = solve_ivp(lambda t, y: coupling(y[:, None], w, t)[:, 0], (0.0, 1.0), th0[:, 0], method="DOP853",
                    rtol=1e-12, atol=1e-12).y[:, -1]
    drift = PairwiseInteraction(kuramoto_kernel, (K,))
    dts = [0.1, 0.05, 0.025, 0.0125]
    errs = [np.max(np.abs(simulate(MeanFieldODE(drift), th0, 1.0, dt, solver=RK4()).x_final[:, 0] - ref))
            for dt in dts]
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - 4.0) <= 0.1, (slope, errs)
