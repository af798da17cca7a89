"""Numba kernels of the MLP generator: forward pass, reverse pass, Adam/SGD updates, and K
steps on a fixed MSE target in one call.

Network (``sizes = [d_z, H_1, …, H_L, d_out]``, 0-based layers ``l = 0 … L``)::

    h^(0) = z,   h^(l+1) = σ(W_l h^(l) + b_l)  (l < L),   G(z) = W_L h^(L) + b_L  (linear output)

with ``W_l`` of shape ``(sizes[l+1], sizes[l])`` stored row-major at ``theta[offs[2l]:]`` and
``b_l`` at ``theta[offs[2l+1]:]``. ``σ`` is tanh (``act = 0``) or ReLU (``act = 1``); both have a
derivative computable from the layer's output (``1 − h²``; ``h > 0``), so only the activations
are stored. The activations of a batch live in one buffer, block ``l`` (``n × sizes[l]``) at
``n · cum[l]``.

Everything is float64 and C-contiguous, ``cache=True``, no ``fastmath``: a step is bitwise
reproducible for a given input (and BLAS thread count).
"""

from __future__ import annotations

import numpy as np
from numba import njit

ACT_TANH = 0
ACT_RELU = 1

_JIT = dict(cache=True, error_model="numpy")


@njit(**_JIT)
def _cum(sizes):
    c = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    for k in range(sizes.shape[0]):
        c[k + 1] = c[k] + sizes[k]
    return c


@njit(**_JIT)
def _W(theta, offs, sizes, l):
    return theta[offs[2 * l]:offs[2 * l] + sizes[l + 1] * sizes[l]].reshape(sizes[l + 1], sizes[l])


@njit(**_JIT)
def _b(theta, offs, sizes, l):
    return theta[offs[2 * l + 1]:offs[2 * l + 1] + sizes[l + 1]]


@njit(**_JIT)
def _blk(buf, n, cum, l, sizes):
    return buf[n * cum[l]:n * cum[l] + n * sizes[l]].reshape(n, sizes[l])


@njit(**_JIT)
def forward(theta, offs, sizes, act, Z, buf):
    """``G(Z)``; the activations of every layer are left in ``buf`` for :func:`backward`."""
    n = Z.shape[0]
    L = sizes.shape[0] - 1
    cum = _cum(sizes)
    H = _blk(buf, n, cum, 0, sizes)
    H[:, :] = Z
    for l in range(L):
        Hin = _blk(buf, n, cum, l, sizes)
        Hout = _blk(buf, n, cum, l + 1, sizes)
        np.dot(Hin, _W(theta, offs, sizes, l).T, Hout)
        b = _b(theta, offs, sizes, l)
        hidden = l < L - 1
        for i in range(n):
            for j in range(sizes[l + 1]):
                v = Hout[i, j] + b[j]
                if hidden:
                    if act == ACT_TANH:
                        v = np.tanh(v)
                    elif v < 0.0:
                        v = 0.0
                Hout[i, j] = v
    return _blk(buf, n, cum, L, sizes)


@njit(**_JIT)
def backward(theta, offs, sizes, act, buf, n, gout, grad):
    """Write ``∂/∂θ Σ_i gout_i · G(z_i)`` into ``grad`` (a vector-Jacobian product).

    ``gout`` (n × d_out) is the gradient of the loss in the outputs; ``buf`` holds the
    activations of the last :func:`forward` on the same n rows.
    """
    L = sizes.shape[0] - 1
    cum = _cum(sizes)
    G = gout.copy()
    for l in range(L - 1, -1, -1):
        Hin = _blk(buf, n, cum, l, sizes)
        np.dot(G.T, Hin, _W(grad, offs, sizes, l))
        gb = _b(grad, offs, sizes, l)
        for j in range(sizes[l + 1]):
            s = 0.0
            for i in range(n):
                s += G[i, j]
            gb[j] = s
        if l > 0:
            Gin = np.dot(G, _W(theta, offs, sizes, l))
            for i in range(n):
                for j in range(sizes[l]):
                    h = Hin[i, j]
                    if act == ACT_TANH:
                        Gin[i, j] *= 1.0 - h * h
                    elif h <= 0.0:
                        Gin[i, j] = 0.0
            G = Gin


@njit(**_JIT)
def update(theta, m1, v1, grad, step, lr, beta1, beta2, eps, sgd):
    """One optimiser update in place: SGD (``sgd``) or Adam (bias-corrected, step ``step``)."""
    if sgd:
        for k in range(theta.shape[0]):
            theta[k] -= lr * grad[k]
        return
    bc1 = 1.0 - beta1 ** step
    bc2 = 1.0 - beta2 ** step
    for k in range(theta.shape[0]):
        g = grad[k]
        m1[k] = beta1 * m1[k] + (1.0 - beta1) * g
        v1[k] = beta2 * v1[k] + (1.0 - beta2) * g * g
        theta[k] -= lr * (m1[k] / bc1) / (np.sqrt(v1[k] / bc2) + eps)


@njit(**_JIT)
def mse_steps(theta, m1, v1, step, offs, sizes, act, Z, Y, K, lr, beta1, beta2, eps, sgd, coord_mean):
    """K optimiser steps on ``L(θ) = (1/n) Σ_i |G_θ(z_i) − y_i|²`` (``coord_mean``: also ``/ d``).

    The batch ``Z`` and the targets ``Y`` are the same for all K steps (the persistent training
    of W1-FE). Returns ``(step, loss before the first step, loss before the last step)``.
    """
    n, d = Y.shape
    buf = np.empty(n * _cum(sizes)[-1])
    grad = np.empty(theta.shape[0])
    c = 2.0 / n / (d if coord_mean else 1)
    first = 0.0
    loss = 0.0
    gout = np.empty((n, d))
    for k in range(K):
        out = forward(theta, offs, sizes, act, Z, buf)
        loss = 0.0
        for i in range(n):
            for j in range(d):
                r = out[i, j] - Y[i, j]
                loss += r * r
                gout[i, j] = c * r
        loss *= c / 2.0
        if k == 0:
            first = loss
        backward(theta, offs, sizes, act, buf, n, gout, grad)
        step += 1
        update(theta, m1, v1, grad, step, lr, beta1, beta2, eps, sgd)
    return step, first, loss


@njit(**_JIT)
def vjp_step(theta, m1, v1, step, offs, sizes, act, Z, gout, lr, beta1, beta2, eps, sgd):
    """One optimiser step along ``∂/∂θ Σ_i gout_i · G(z_i)`` (a WGAN generator step, given the
    critic's gradient at the outputs in ``gout``). Returns the new step count."""
    n = Z.shape[0]
    buf = np.empty(n * _cum(sizes)[-1])
    grad = np.empty(theta.shape[0])
    forward(theta, offs, sizes, act, Z, buf)
    backward(theta, offs, sizes, act, buf, n, gout, grad)
    step += 1
    update(theta, m1, v1, grad, step, lr, beta1, beta2, eps, sgd)
    return step


@njit(**_JIT)
def evaluate(theta, offs, sizes, act, Z):
    """``G(Z)`` (a fresh output array)."""
    buf = np.empty(Z.shape[0] * _cum(sizes)[-1])
    return forward(theta, offs, sizes, act, Z, buf).copy()


@njit(**_JIT)
def param_grad(theta, offs, sizes, act, Z, gout):
    """``∂/∂θ Σ_i gout_i · G(z_i)`` (for tests and finite differences)."""
    n = Z.shape[0]
    buf = np.empty(n * _cum(sizes)[-1])
    grad = np.empty(theta.shape[0])
    forward(theta, offs, sizes, act, Z, buf)
    backward(theta, offs, sizes, act, buf, n, gout, grad)
    return grad
