"""Numba kernels of the neural critic: forward, ∇_x, loss gradients (with the gradient
penalty's mixed second derivatives), Adam and Björck orthonormalisation.

Everything is float64 and C-contiguous; the caller (:mod:`w1flow.potentials.critic`) converts
at the boundary so each kernel compiles once (``cache=True``). No ``fastmath``, no ``prange``:
the results are bitwise reproducible for a given input.

Network
-------
All parameters live in one flat vector ``theta``. With ``sizes = [d, H_1, …, H_L]`` and
0-based layers ``l = 0 … L−1``:

.. math::

    h^{(0)} = x,\\quad z^{(l)} = W_l h^{(l)} + b_l,\\quad h^{(l+1)} = σ(z^{(l)}),\\quad
    φ(x) = w · h^{(L)},

with ``W_l`` of shape ``(H_{l+1}, H_l)`` stored row-major at ``theta[offs[2l]:]``, ``b_l`` at
``theta[offs[2l+1]:]`` and ``w`` (length ``H_L``) at ``theta[offs[2L]:]``. There is no output
bias: a constant cancels in ``Σ a φ(x) − Σ b φ(y)``.

Activations (``act``): ``0`` = tanh; ``1`` = GroupSort with groups of 2 ("MaxMin"):
``(z_{2k}, z_{2k+1}) ↦ (max, min)``. For both the Jacobian ``J = ∂h/∂z`` is symmetric (a
diagonal ``1 − tanh²`` or a per-pair identity/swap permutation), which the code uses.

Gradient in x (the particles' velocity is ``−∇φ``):

.. math::

    g^{(L)} = w,\\quad s^{(l)} = J(z^{(l)})\\, g^{(l+1)},\\quad g^{(l)} = W_l^T s^{(l)},
    \\quad ∇_x φ = g^{(0)}.

Gradient penalty (WGAN-GP) ``P = (λ/K) Σ_k (|∇φ(q_k)| − 1)²``: its parameter gradient is the
reverse-mode derivative of the chain above (the "double backward"). With
``ḡ^{(0)} = (2λ/K)(|g^{(0)}| − 1) g^{(0)}/|g^{(0)}|`` and for ``l = 0 … L−1``

.. math::

    \\bar s^{(l)} = W_l \\bar g^{(l)},\\quad \\bar W_l \\mathrel{+}= s^{(l)} \\bar g^{(l)T},\\quad
    \\bar g^{(l+1)} = J(z^{(l)})\\, \\bar s^{(l)},\\quad
    \\bar z^{(l)} = \\bar s^{(l)} ⊙ g^{(l+1)} ⊙ σ''(z^{(l)}),

then ``w̄ += ḡ^{(L)}`` and the ``z̄^{(l)}`` are pushed back through the forward pass
(``W̄_l += z̄ h^{(l)T}``, ``b̄_l += z̄``, ``h̄^{(l)} = W_l^T J h̄^{(l+1)}``...). For tanh
``σ'' = −2 tanh (1 − tanh²)``; for MaxMin ``σ'' = 0`` almost everywhere.
"""

from __future__ import annotations

import numpy as np
from numba import njit

ACT_TANH = 0
ACT_MAXMIN = 1


# --------------------------------------------------------------------------------------------
# parameter and buffer views
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _weight(theta, offs, sizes, l):
    o = offs[2 * l]
    return theta[o:o + sizes[l + 1] * sizes[l]].reshape((sizes[l + 1], sizes[l]))


@njit(cache=True)
def _bias(theta, offs, sizes, l):
    o = offs[2 * l + 1]
    return theta[o:o + sizes[l + 1]]


@njit(cache=True)
def _wout(theta, offs, sizes):
    L = sizes.shape[0] - 1
    o = offs[2 * L]
    return theta[o:o + sizes[L]]


@njit(cache=True)
def _cum(sizes):
    """Offsets of each hidden layer's columns in a per-sample buffer."""
    L = sizes.shape[0] - 1
    cum = np.zeros(L + 1, dtype=np.int64)
    for l in range(L):
        cum[l + 1] = cum[l] + sizes[l + 1]
    return cum


@njit(cache=True)
def _blk(buf, B, cum, sizes, l):
    """Layer ``l``'s (B, H_{l+1}) block of a flat buffer (C-contiguous view)."""
    return buf[B * cum[l]:B * cum[l + 1]].reshape((B, sizes[l + 1]))


# --------------------------------------------------------------------------------------------
# small dense products (hand-written: deterministic, no BLAS threading on a shared machine)
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _mm(A, B, C, acc):
    """C = A @ B (``acc``: C += A @ B). Rows of C are updated by axpys on rows of B, four rows
    of A at a time; the summation order over k is fixed (bitwise reproducible)."""
    n, k = A.shape
    m = B.shape[1]
    i = 0
    while i + 4 <= n:
        if not acc:
            for j in range(m):
                C[i, j] = 0.0
                C[i + 1, j] = 0.0
                C[i + 2, j] = 0.0
                C[i + 3, j] = 0.0
        for kk in range(k):
            a0 = A[i, kk]
            a1 = A[i + 1, kk]
            a2 = A[i + 2, kk]
            a3 = A[i + 3, kk]
            for j in range(m):
                b = B[kk, j]
                C[i, j] += a0 * b
                C[i + 1, j] += a1 * b
                C[i + 2, j] += a2 * b
                C[i + 3, j] += a3 * b
        i += 4
    while i < n:
        if not acc:
            for j in range(m):
                C[i, j] = 0.0
        for kk in range(k):
            a = A[i, kk]
            for j in range(m):
                C[i, j] += a * B[kk, j]
        i += 1


@njit(cache=True)
def _mm_tn(A, B, C):
    """C += Aᵀ @ B for A (n, h), B (n, k), C (h, k), four samples at a time."""
    n, h = A.shape
    k = B.shape[1]
    i = 0
    while i + 4 <= n:
        for j in range(h):
            a0 = A[i, j]
            a1 = A[i + 1, j]
            a2 = A[i + 2, j]
            a3 = A[i + 3, j]
            for c in range(k):
                C[j, c] += a0 * B[i, c] + a1 * B[i + 1, c] + a2 * B[i + 2, c] + a3 * B[i + 3, c]
        i += 4
    while i < n:
        for j in range(h):
            a = A[i, j]
            for c in range(k):
                C[j, c] += a * B[i, c]
        i += 1


@njit(cache=True)
def _transpose(W):
    h, k = W.shape
    T = np.empty((k, h))
    for i in range(h):
        for j in range(k):
            T[j, i] = W[i, j]
    return T


@njit(cache=True)
def _tanh(z):
    """tanh from one exp: ``(1 − e)/(1 + e)``, ``e = exp(−2|z|)`` (abs. error ~1e-16, about
    2.5× faster than ``np.tanh`` here)."""
    e = np.exp(-2.0 * abs(z))
    t = (1.0 - e) / (1.0 + e)
    return t if z >= 0.0 else -t


# --------------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _act_forward(Z, H, act):
    B, h = Z.shape
    if act == ACT_TANH:
        for i in range(B):
            for j in range(h):
                H[i, j] = _tanh(Z[i, j])
    else:
        for i in range(B):
            for j in range(0, h, 2):
                p = Z[i, j]
                q = Z[i, j + 1]
                if p >= q:
                    H[i, j] = p
                    H[i, j + 1] = q
                else:
                    H[i, j] = q
                    H[i, j + 1] = p


@njit(cache=True)
def _jac_apply(Z, H, V, out, act):
    """out = J(z) V, row by row (J symmetric). ``out`` may be ``V`` (in place)."""
    B, h = Z.shape
    if act == ACT_TANH:
        for i in range(B):
            for j in range(h):
                t = H[i, j]
                out[i, j] = V[i, j] * (1.0 - t * t)
    else:
        for i in range(B):
            for j in range(0, h, 2):
                p = V[i, j]
                q = V[i, j + 1]
                if Z[i, j] >= Z[i, j + 1]:
                    out[i, j] = p
                    out[i, j + 1] = q
                else:
                    out[i, j] = q
                    out[i, j + 1] = p


# --------------------------------------------------------------------------------------------
# forward / gradient chain
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _forward(theta, offs, sizes, act, X, zbuf, hbuf, cum, phi):
    B = X.shape[0]
    L = sizes.shape[0] - 1
    for l in range(L):
        W = _weight(theta, offs, sizes, l)
        b = _bias(theta, offs, sizes, l)
        Z = _blk(zbuf, B, cum, sizes, l)
        H = _blk(hbuf, B, cum, sizes, l)
        WT = _transpose(W)
        if l == 0:
            _mm(X, WT, Z, False)
        else:
            _mm(_blk(hbuf, B, cum, sizes, l - 1), WT, Z, False)
        for i in range(B):
            for j in range(Z.shape[1]):
                Z[i, j] += b[j]
        _act_forward(Z, H, act)
    HL = _blk(hbuf, B, cum, sizes, L - 1)
    w = _wout(theta, offs, sizes)
    for i in range(B):
        acc = 0.0
        for j in range(HL.shape[1]):
            acc += HL[i, j] * w[j]
        phi[i] = acc


@njit(cache=True)
def _grad_chain(theta, offs, sizes, act, B, zbuf, hbuf, sbuf, gbuf, cum):
    """Fill s^{(l)} (sbuf) and g^{(l+1)} (gbuf) for every layer; return ∇_x φ, shape (B, d)."""
    L = sizes.shape[0] - 1
    w = _wout(theta, offs, sizes)
    G = _blk(gbuf, B, cum, sizes, L - 1)
    for i in range(B):
        for j in range(G.shape[1]):
            G[i, j] = w[j]
    grad_x = np.empty((B, sizes[0]))
    for l in range(L - 1, -1, -1):
        Z = _blk(zbuf, B, cum, sizes, l)
        H = _blk(hbuf, B, cum, sizes, l)
        S = _blk(sbuf, B, cum, sizes, l)
        _jac_apply(Z, H, _blk(gbuf, B, cum, sizes, l), S, act)
        W = _weight(theta, offs, sizes, l)
        if l > 0:
            _mm(S, W, _blk(gbuf, B, cum, sizes, l - 1), False)
        else:
            _mm(S, W, grad_x, False)
    return grad_x


@njit(cache=True)
def critic_eval(theta, offs, sizes, act, X, want_grad):
    """φ(X) (shape (B,)) and, if ``want_grad``, ∇_x φ(X) (shape (B, d); else shape (0, d))."""
    B = X.shape[0]
    cum = _cum(sizes)
    tot = B * cum[-1]
    zbuf = np.empty(tot)
    hbuf = np.empty(tot)
    phi = np.empty(B)
    _forward(theta, offs, sizes, act, X, zbuf, hbuf, cum, phi)
    if not want_grad:
        return phi, np.empty((0, sizes[0]))
    sbuf = np.empty(tot)
    gbuf = np.empty(tot)
    g = _grad_chain(theta, offs, sizes, act, B, zbuf, hbuf, sbuf, gbuf, cum)
    return phi, g


# --------------------------------------------------------------------------------------------
# loss and its parameter gradient
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _backprop_forward(theta, offs, sizes, act, X, B, zbuf, hbuf, cum, zbar_extra, hbar_top, grad):
    """Reverse pass through the forward graph.

    ``zbar_extra`` (flat, like zbuf, or size 0) adds direct adjoints of z^{(l)};
    ``hbar_top`` (B, H_L) is the adjoint of h^{(L)}. Accumulates into ``grad``.
    """
    L = sizes.shape[0] - 1
    hbar = hbar_top
    for l in range(L - 1, -1, -1):
        Z = _blk(zbuf, B, cum, sizes, l)
        H = _blk(hbuf, B, cum, sizes, l)
        zbar = np.empty_like(Z)
        _jac_apply(Z, H, hbar, zbar, act)
        if zbar_extra.shape[0] > 0:
            ZE = _blk(zbar_extra, B, cum, sizes, l)
            for i in range(B):
                for j in range(Z.shape[1]):
                    zbar[i, j] += ZE[i, j]
        hin = X if l == 0 else _blk(hbuf, B, cum, sizes, l - 1)
        _mm_tn(zbar, hin, _weight(grad, offs, sizes, l))
        bg = _bias(grad, offs, sizes, l)
        for i in range(B):
            for j in range(Z.shape[1]):
                bg[j] += zbar[i, j]
        if l > 0:
            hbar = np.empty((B, sizes[l]))
            _mm(zbar, _weight(theta, offs, sizes, l), hbar, False)


@njit(cache=True)
def critic_loss_grad(theta, offs, sizes, act, P, c, Q, lam, grad):
    """Critic loss and its gradient in ``theta`` (written to ``grad``).

    ``loss = −Σ_i c_i φ(P_i) + (λ/K) Σ_k (|∇φ(Q_k)| − 1)²``. With ``c = (+a, −b)`` on the
    stacked particles and data this is minus the dual objective plus the penalty.

    Returns ``(loss, dual, penalty, mean |∇φ(Q)|)`` with ``dual = Σ c φ(P)``.
    """
    L = sizes.shape[0] - 1
    cum = _cum(sizes)
    HL = sizes[L]
    for k in range(grad.shape[0]):
        grad[k] = 0.0
    wg = _wout(grad, offs, sizes)
    # --- dual part ---
    B = P.shape[0]
    dual = 0.0
    if B > 0:
        zbuf = np.empty(B * cum[-1])
        hbuf = np.empty(B * cum[-1])
        phi = np.empty(B)
        _forward(theta, offs, sizes, act, P, zbuf, hbuf, cum, phi)
        for i in range(B):
            dual += c[i] * phi[i]
        HLb = _blk(hbuf, B, cum, sizes, L - 1)
        w = _wout(theta, offs, sizes)
        hbar = np.empty((B, HL))
        for i in range(B):
            ci = -c[i]
            for j in range(HL):
                wg[j] += ci * HLb[i, j]
                hbar[i, j] = ci * w[j]
        _backprop_forward(theta, offs, sizes, act, P, B, zbuf, hbuf, cum, np.empty(0), hbar, grad)
    # --- gradient penalty ---
    K = Q.shape[0]
    pen = 0.0
    mean_norm = 0.0
    if K > 0:
        tot = K * cum[-1]
        zbuf = np.empty(tot)
        hbuf = np.empty(tot)
        sbuf = np.empty(tot)
        gbuf = np.empty(tot)
        phi = np.empty(K)
        _forward(theta, offs, sizes, act, Q, zbuf, hbuf, cum, phi)
        g0 = _grad_chain(theta, offs, sizes, act, K, zbuf, hbuf, sbuf, gbuf, cum)
        d = sizes[0]
        gbar = np.empty((K, d))
        scale = 2.0 * lam / K
        for k in range(K):
            r2 = 0.0
            for j in range(d):
                r2 += g0[k, j] * g0[k, j]
            r = np.sqrt(r2)
            mean_norm += r
            pen += (r - 1.0) * (r - 1.0)
            f = scale * (r - 1.0) / r if r > 0.0 else 0.0
            for j in range(d):
                gbar[k, j] = f * g0[k, j]
        pen *= lam / K
        mean_norm /= K
        zbar_gp = np.zeros(tot)
        for l in range(L):
            W = _weight(theta, offs, sizes, l)
            S = _blk(sbuf, K, cum, sizes, l)
            _mm_tn(S, gbar, _weight(grad, offs, sizes, l))
            sbar = np.empty((K, sizes[l + 1]))
            _mm(gbar, _transpose(W), sbar, False)
            Z = _blk(zbuf, K, cum, sizes, l)
            H = _blk(hbuf, K, cum, sizes, l)
            if act == ACT_TANH:
                Gn = _blk(gbuf, K, cum, sizes, l)
                ZB = _blk(zbar_gp, K, cum, sizes, l)
                for i in range(K):
                    for j in range(Z.shape[1]):
                        t = H[i, j]
                        ZB[i, j] = sbar[i, j] * Gn[i, j] * (-2.0 * t * (1.0 - t * t))
            gbar = np.empty_like(sbar)
            _jac_apply(Z, H, sbar, gbar, act)
        for i in range(K):
            for j in range(HL):
                wg[j] += gbar[i, j]
        if act == ACT_TANH:
            _backprop_forward(theta, offs, sizes, act, Q, K, zbuf, hbuf, cum, zbar_gp,
                              np.zeros((K, HL)), grad)
    return -dual + pen, dual, pen, mean_norm


# --------------------------------------------------------------------------------------------
# Björck orthonormalisation
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def bjorck(W, tol, maxiter):
    """Orthonormalise ``W`` in place (orthonormal columns if tall, rows if wide).

    Order-1 Björck–Bowie iteration ``W ← W (3/2 I − 1/2 WᵀW)`` (or its row form), which
    converges quadratically to the polar factor when all singular values are in (0, √3).
    Stops when ``max |WᵀW − I| <= tol``. Returns that residual (check it against ``tol``).
    """
    h, k = W.shape
    tall = h >= k
    res = np.inf
    for it in range(maxiter + 1):
        n = k if tall else h
        A = np.zeros((n, n))
        if tall:
            _mm_tn(W, W, A)
        else:
            _mm(W, _transpose(W), A, False)
        res = 0.0
        for i in range(n):
            for j in range(n):
                e = A[i, j] - (1.0 if i == j else 0.0)
                if abs(e) > res:
                    res = abs(e)
        if res <= tol or it == maxiter or not np.isfinite(res):
            break
        for i in range(n):
            for j in range(n):
                A[i, j] = (1.5 if i == j else 0.0) - 0.5 * A[i, j]
        Wn = np.empty_like(W)
        if tall:
            _mm(W, A, Wn, False)
        else:
            _mm(A, W, Wn, False)
        W[:, :] = Wn
    return res


@njit(cache=True)
def project_hard(theta, offs, sizes, tol, maxiter):
    """Make every weight matrix orthonormal and ``|w| = 1``; return the worst Björck residual."""
    L = sizes.shape[0] - 1
    worst = 0.0
    for l in range(L):
        r = bjorck(_weight(theta, offs, sizes, l), tol, maxiter)
        if not r <= worst:
            worst = r
    w = _wout(theta, offs, sizes)
    nrm = np.sqrt(np.sum(w * w))
    if nrm > 0.0:
        for j in range(w.shape[0]):
            w[j] /= nrm
    return worst


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def critic_train(theta, adam_m, adam_v, step, offs, sizes, act, hard, X, Y, ix, cx, iy, cy,
                 gi, gj, geps, lam, lr, beta1, beta2, adam_eps, bj_tol, bj_maxit, n_steps):
    """Run ``n_steps`` Adam updates of the critic, in place on ``theta``/``adam_m``/``adam_v``.

    Step ``s`` uses the particles ``X[ix[s % len(ix)]]`` with coefficients ``cx[...]`` and the
    data ``Y[iy[...]]`` with ``cy[...]`` (each row sums to 1), and the interpolates
    ``geps[s] X[gi[s]] + (1 − geps[s]) Y[gj[s]]`` for the penalty (none if ``gi`` has 0
    columns). ``hard``: after each step, Björck-orthonormalise the weights.

    Returns ``(step, loss, dual, penalty, mean grad norm, worst Björck residual)`` of the last
    step (``dual``, ``penalty`` are before that step's update).
    """
    d = X.shape[1]
    npar = theta.shape[0]
    grad = np.empty(npar)
    bx = ix.shape[1]
    by = iy.shape[1]
    K = gi.shape[1]
    P = np.empty((bx + by, d))
    c = np.empty(bx + by)
    Q = np.empty((K, d))
    loss = 0.0
    dual = 0.0
    pen = 0.0
    mn = 0.0
    worst = 0.0
    for s in range(n_steps):
        rx = s % ix.shape[0]
        ry = s % iy.shape[0]
        rcx = s % cx.shape[0]
        rcy = s % cy.shape[0]
        for i in range(bx):
            c[i] = cx[rcx, i]
            for j in range(d):
                P[i, j] = X[ix[rx, i], j]
        for i in range(by):
            c[bx + i] = -cy[rcy, i]
            for j in range(d):
                P[bx + i, j] = Y[iy[ry, i], j]
        if K > 0:
            rg = s % gi.shape[0]
            for k in range(K):
                e = geps[rg, k]
                for j in range(d):
                    Q[k, j] = e * X[gi[rg, k], j] + (1.0 - e) * Y[gj[rg, k], j]
        loss, dual, pen, mn = critic_loss_grad(theta, offs, sizes, act, P, c, Q, lam, grad)
        step += 1
        bc1 = 1.0 - beta1 ** step
        bc2 = 1.0 - beta2 ** step
        for k in range(npar):
            gk = grad[k]
            adam_m[k] = beta1 * adam_m[k] + (1.0 - beta1) * gk
            adam_v[k] = beta2 * adam_v[k] + (1.0 - beta2) * gk * gk
            theta[k] -= lr * (adam_m[k] / bc1) / (np.sqrt(adam_v[k] / bc2) + adam_eps)
        if hard:
            r = project_hard(theta, offs, sizes, bj_tol, bj_maxit)
            if not r <= worst:
                worst = r
    return step, loss, dual, pen, mn, worst
