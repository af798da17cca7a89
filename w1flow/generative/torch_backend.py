"""The torch backend of the generator trainer: the same three operations as the Numba kernels.

:func:`~w1flow.generative.train` (``backend="torch"``) runs the generator's forward pass, its
reverse pass and the optimiser update in torch, on ``device`` (CUDA when available, else the
CPU), with the parameters in the same flat layout as :class:`~w1flow.generative.MLPGenerator`
(``W_l`` row-major at ``theta[offs[2l]:]``, ``b_l`` at ``theta[offs[2l+1]:]``). The potential
oracle (critic or LP) stays where it is; only the generator's work moves. Adam is written out
with the kernels' formula, ``θ ← θ − lr (m/(1 − β₁^k)) / (√(v/(1 − β₂^k)) + ε)``, so the numpy and
torch backends follow the same trajectory in float64 (tested to 1e-8 over 50 steps); the state
is handed back to numpy after each call, so checkpoints and evaluations are backend-blind.

torch is imported here only, when this backend is asked for: ``import w1flow`` never imports it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TorchKernels"]


def _torch():
    from .._torch_nets import import_torch

    return import_torch()


class TorchKernels:
    """The generator kernels (:mod:`w1flow.generative._kernels`) in torch.

    Parameters
    ----------
    device : str or torch.device, optional
        ``"cuda"`` when available, else ``"cpu"``.
    dtype : {"float64", "float32"}
        float64 matches the numpy backend; float32 is what GPUs are fast at (no GPU speed was
        measured here).
    forward : callable, optional
        ``forward(theta_tensor, Z_tensor)``: the network of a
        :class:`~w1flow.generative.TorchGenerator` (its ``torch_forward``); by default the MLP
        layout of :class:`~w1flow.generative.MLPGenerator`.
    """

    def __init__(self, device=None, dtype="float64", forward=None):
        torch = _torch()
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32'; got {dtype!r}.")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.device = torch.device(device)
            torch.empty(1, device=self.device)
        except (RuntimeError, TypeError, AssertionError) as exc:
            raise ValueError(f"device {device!r} is not usable here ({exc}); use device='cpu' or leave it None.") from None
        self.dtype = getattr(torch, dtype)
        self.torch = torch
        self.forward = forward
        self._kept = None  # (θ tensor, G(Z) with its graph, Z, θ) of the last evaluate(keep=True)

    def _t(self, a):
        return self.torch.as_tensor(np.ascontiguousarray(a), dtype=self.dtype, device=self.device)

    def _forward(self, th, offs, sizes, act, Z):
        if self.forward is not None:
            return self.forward(th, Z)
        torch = self.torch
        h = Z
        L = len(sizes) - 1
        for l in range(L):
            o, p = int(offs[2 * l]), int(offs[2 * l + 1])
            W = th[o:o + int(sizes[l + 1]) * int(sizes[l])].view(int(sizes[l + 1]), int(sizes[l]))
            b = th[p:p + int(sizes[l + 1])]
            h = h @ W.T + b
            if l < L - 1:
                h = torch.tanh(h) if act == 0 else torch.relu(h)
        return h

    def _update(self, th, m, v, grad, step, lr, beta1, beta2, eps, sgd):
        with self.torch.no_grad():
            if sgd:
                th -= lr * grad
                return
            bc1 = 1.0 - beta1 ** step
            bc2 = 1.0 - beta2 ** step
            m.mul_(beta1).add_((1.0 - beta1) * grad)
            v.mul_(beta2).add_((1.0 - beta2) * grad * grad)
            th -= lr * (m / bc1) / (self.torch.sqrt(v / bc2) + eps)

    def _back(self, theta, m1, v1, th, m, v):
        theta[:] = th.detach().cpu().numpy()
        m1[:] = m.cpu().numpy()
        v1[:] = v.cpu().numpy()

    def evaluate(self, theta, offs, sizes, act, Z, keep=False):
        """``G(Z)`` as a numpy array. With ``keep``, the forward pass keeps its graph, and a
        :meth:`vjp_step` at the same θ and Z reuses it instead of running the network again."""
        if keep:
            th = self._t(theta).requires_grad_(True)
            out = self._forward(th, offs, sizes, act, self._t(Z))
            self._kept = (th, out, Z, theta.copy())
            return out.detach().cpu().numpy().astype(np.float64)
        with self.torch.no_grad():
            return self._forward(self._t(theta), offs, sizes, act, self._t(Z)).cpu().numpy().astype(np.float64)

    def mse_steps(self, theta, m1, v1, step, offs, sizes, act, Z, Y, K, lr, beta1, beta2, eps, sgd, coord_mean):
        """K optimiser steps on ``(1/n) Σ_i |G(z_i) − y_i|²`` (``/ d`` too with ``coord_mean``);
        updates ``theta``, ``m1``, ``v1`` in place; returns ``(step, first loss, last loss)``."""
        th = self._t(theta).requires_grad_(True)
        m, v = self._t(m1), self._t(v1)
        Zt, Yt = self._t(Z), self._t(Y)
        n, d = Y.shape
        c = 2.0 / n / (d if coord_mean else 1)
        first = loss_val = 0.0
        for k in range(K):
            out = self._forward(th, offs, sizes, act, Zt)
            r = out - Yt
            loss = (c / 2.0) * (r * r).sum()
            (grad,) = self.torch.autograd.grad(loss, th)
            loss_val = float(loss.detach())
            if k == 0:
                first = loss_val
            step += 1
            self._update(th, m, v, grad, step, lr, beta1, beta2, eps, sgd)
        self._back(theta, m1, v1, th, m, v)
        return step, first, loss_val

    def vjp_step(self, theta, m1, v1, step, offs, sizes, act, Z, gout, lr, beta1, beta2, eps, sgd):
        """One optimiser step along ``∂/∂θ Σ_i gout_i · G(z_i)``; returns the new step count."""
        kept, self._kept = self._kept, None
        if kept is not None and kept[2] is Z and np.array_equal(kept[3], theta):
            th, out = kept[0], kept[1]
        else:
            th = self._t(theta).requires_grad_(True)
            out = self._forward(th, offs, sizes, act, self._t(Z))
        m, v = self._t(m1), self._t(v1)
        (grad,) = self.torch.autograd.grad((out * self._t(gout)).sum(), th)
        step += 1
        self._update(th, m, v, grad, step, lr, beta1, beta2, eps, sgd)
        self._back(theta, m1, v1, th, m, v)
        return step

    def __repr__(self):
        return f"TorchKernels(device={str(self.device)!r}, dtype={str(self.dtype).split('.')[-1]!r})"
