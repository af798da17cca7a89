"""Numba kernels of the neural critic: forward, ∇_x, loss gradients (with the gradient
penalty's mixed second derivatives), Adam and Björck orthonormalisation.

Everything is float64 and C-contiguous; the caller (:mod:`w1flow.potentials.critic`) converts
at the boundary so each kernel compiles once (``cache=True``). No ``fastmath``, no ``prange``:
the results are bitwise reproducible for a given input (and BLAS thread count).

Performance notes
-----------------
* The dense products are ``np.dot`` calls (numba → scipy's BLAS, ``dgemm``) on C-contiguous
  blocks: about 2× the speed of hand-written loops (which get no FMA contraction without
  ``fastmath``). The caller limits BLAS to one thread (``threadpoolctl``) around the kernels:
  multithreaded OpenBLAS on these small products is unreliable on a loaded machine (ms-long
  stalls) and a single thread keeps the results independent of the load.
* One training step works on a stacked row layout so that each layer's weight gradient is a
  *single* GEMM: for a step with ``Np`` particle/data rows and ``K`` interpolates, ``N = Np + K``
  rows go through the forward pass together and the per-layer blocks have ``M = N + K`` rows:

  - ``A_l`` (``M × H_l``): rows ``[0, N)`` the layer's input ``h^{(l)}``, rows ``[N, M)`` the
    penalty's ``ḡ^{(l)}``;
  - ``U_l`` (``M × H_{l+1}``): rows ``[0, N)`` the adjoint ``z̄^{(l)}`` of the forward pass,
    rows ``[N, M)`` the gradient chain's ``s^{(l)}``;

  so ``W̄_l = U_lᵀ A_l`` (``Σ z̄ hᵀ + Σ s ḡᵀ``). The gradient chain only needs the interpolate
  rows; no forward pass is recomputed.
* Kernels with divisions use ``error_model="numpy"`` (IEEE semantics instead of a
  ``ZeroDivisionError`` check), which lets LLVM vectorise the element-wise loops (tanh, Adam).
  This is not ``fastmath``: every operation is still correctly rounded IEEE arithmetic.

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

Gradient penalty (WGAN-GP) ``P = (λ/K) Σ_k (|∇φ(q_k)| − 1)²``, or its one-sided form
``(λ/K) Σ_k max(|∇φ(q_k)| − 1, 0)²`` (the Lipschitz penalty of Petzka et al. 2018): its
parameter gradient is the reverse-mode derivative of the chain above (the "double backward").
With ``e_k = |g^{(0)}| − 1`` (one-sided: ``max(e_k, 0)``),
``ḡ^{(0)} = (2λ/K) e_k g^{(0)}/|g^{(0)}|`` and for ``l = 0 … L−1``

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

# ``error_model="numpy"``: no ZeroDivisionError branch in divisions, so loops vectorise.
_JIT = dict(cache=True, error_model="numpy")

# tanh via expm1: constants of the Cody–Waite reduction x = n ln2 + r and 2^-k, k = 0 … 63.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e+00
_ROUND = 6755399441055744.0  # 1.5 · 2^52: (x + _ROUND) − _ROUND rounds x to an integer
_POW2 = np.array([2.0 ** -k for k in range(64)])
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = (
    1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880,
    1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800)


# --------------------------------------------------------------------------------------------
# parameter and buffer views
# --------------------------------------------------------------------------------------------
@njit(**_JIT)
def _weight(theta, offs, sizes, l):
    o = offs[2 * l]
    return theta[o:o + sizes[l + 1] * sizes[l]].reshape((sizes[l + 1], sizes[l]))


@njit(**_JIT)
def _bias(theta, offs, sizes, l):
    o = offs[2 * l + 1]
    return theta[o:o + sizes[l + 1]]


@njit(**_JIT)
def _wout(theta, offs, sizes):
    L = sizes.shape[0] - 1
    o = offs[2 * L]
    return theta[o:o + sizes[L]]


@njit(**_JIT)
def _blk(buf, off, rows, cols):
    """A C-contiguous (rows, cols) view of the flat ``buf`` starting at ``off``."""
    return buf[off:off + rows * cols].reshape((rows, cols))


@njit(**_JIT)
def _copy_rows(X, buf, off):
    """buf[off:off + X.size] = X (row-major), without slice-assignment machinery."""
    n, d = X.shape
    for i in range(n):
        for j in range(d):
            buf[off + i * d + j] = X[i, j]


@njit(**_JIT)
def _mm_tn_narrow(U, A, C):
    """C = Uᵀ A for a narrow A (n, k), k small: rows of U accumulated into the k rows of C
    (vectorised over C's rows; fixed summation order)."""
    n, h = U.shape
    k = A.shape[1]
    acc = np.zeros((k, h))
    for i in range(n):
        for c in range(k):
            a = A[i, c]
            for j in range(h):
                acc[c, j] += a * U[i, j]
    for j in range(h):
        for c in range(k):
            C[j, c] = acc[c, j]


@njit(**_JIT)
def _cums(sizes):
    """``ca[l] = Σ_{j<l} H_j`` (l = 0 … L+1) and ``cw[l] = Σ_{j<l} H_{j+1}`` (l = 0 … L)."""
    L = sizes.shape[0] - 1
    ca = np.zeros(L + 2, dtype=np.int64)
    cw = np.zeros(L + 1, dtype=np.int64)
    for l in range(L + 1):
        ca[l + 1] = ca[l] + sizes[l]
    for l in range(L):
        cw[l + 1] = cw[l] + sizes[l + 1]
    return ca, cw


# --------------------------------------------------------------------------------------------
# activations (element-wise loops written to vectorise)
# --------------------------------------------------------------------------------------------
@njit(**_JIT)
def _tanh(z):
    """tanh from ``expm1(−2|z|)`` (Cody–Waite reduction, degree-13 Taylor polynomial on
    ``|r| <= ln2/2``); abs. and rel. error ≲ 5e-16. Branch-free so that loops over it vectorise
    (libm's ``tanh``/``exp`` are scalar calls); NaN propagates."""
    a = abs(z)
    a = a if a < 20.0 else 20.0  # tanh(20) = 1 − 8.5e-18 rounds to 1 (also catches NaN, inf)
    x = -2.0 * a
    nf = (x * _INV_LN2 + _ROUND) - _ROUND  # integer in [−58, 0]
    r = (x - nf * _LN2_HI) - nf * _LN2_LO
    q = r * (1.0 + r * (_E2 + r * (_E3 + r * (_E4 + r * (_E5 + r * (_E6 + r * (
        _E7 + r * (_E8 + r * (_E9 + r * (_E10 + r * (_E11 + r * (_E12 + r * _E13))))))))))))
    s = _POW2[np.int64(-nf)]
    em1 = s * q + (s - 1.0)  # expm1(x)
    t = -em1 / (2.0 + em1)
    return t if z >= 0.0 else (-t if z < 0.0 else z)


@njit(**_JIT)
def _act_forward(Z, b, H, act):
    """H = σ(Z + b) (row-wise); for MaxMin Z += b is stored too (tanh needs only H)."""
    n, h = Z.shape
    if act == ACT_TANH:
        for i in range(n):
            for j in range(h):
                H[i, j] = _tanh(Z[i, j] + b[j])
    else:
        for i in range(n):
            for j in range(h):
                Z[i, j] += b[j]
        for i in range(n):
            for j in range(0, h, 2):
                p = Z[i, j]
                q = Z[i, j + 1]
                if p >= q:
                    H[i, j] = p
                    H[i, j + 1] = q
                else:
                    H[i, j] = q
                    H[i, j + 1] = p


@njit(**_JIT)
def _jac_apply(Z, H, V, out, act, acc):
    """out = J(z) V (``acc``: out += J(z) V), row by row (J symmetric); ``out`` may be ``V``."""
    n, h = Z.shape
    if act == ACT_TANH:
        if acc:
            for i in range(n):
                for j in range(h):
                    t = H[i, j]
                    out[i, j] += V[i, j] * (1.0 - t * t)
        else:
            for i in range(n):
                for j in range(h):
                    t = H[i, j]
                    out[i, j] = V[i, j] * (1.0 - t * t)
    else:
        for i in range(n):
            for j in range(0, h, 2):
                p = V[i, j]
                q = V[i, j + 1]
                if Z[i, j] < Z[i, j + 1]:
                    p, q = q, p
                if acc:
                    out[i, j] += p
                    out[i, j + 1] += q
                else:
                    out[i, j] = p
                    out[i, j + 1] = q


# --------------------------------------------------------------------------------------------
# forward / gradient chain on row blocks
# --------------------------------------------------------------------------------------------
@njit(**_JIT)
def _forward(theta, offs, sizes, act, A, mA, Zb, nZ, n):
    """Forward pass of the first ``n`` rows. Layer l's input h^{(l)} is the (mA, H_l) block of
    the flat ``A`` at ``mA·ca[l]`` (block 0 holds the inputs), its pre-activation the (nZ,
    H_{l+1}) block of ``Zb`` at ``nZ·cw[l]``."""
    L = sizes.shape[0] - 1
    ca, cw = _cums(sizes)
    for l in range(L):
        Hin = _blk(A, mA * ca[l], n, sizes[l])
        Z = _blk(Zb, nZ * cw[l], n, sizes[l + 1])
        np.dot(Hin, _weight(theta, offs, sizes, l).T, Z)
        _act_forward(Z, _bias(theta, offs, sizes, l), _blk(A, mA * ca[l + 1], n, sizes[l + 1]), act)


@njit(**_JIT)
def _grad_chain(theta, offs, sizes, act, A, mA, Zb, nZ, r0, K, U, mU, u0, Gb, gx):
    """∇_x φ of the K rows starting at row ``r0`` of the forward blocks, into ``gx`` (K, d).

    Stores s^{(l)} at rows [u0, u0+K) of ``U``'s (mU, H_{l+1}) blocks and g^{(l+1)} in ``Gb``'s
    (K, H_{l+1}) blocks (the top one is ``w`` on every row).
    """
    L = sizes.shape[0] - 1
    ca, cw = _cums(sizes)
    w = _wout(theta, offs, sizes)
    G = _blk(Gb, K * cw[L - 1], K, sizes[L])
    for i in range(K):
        for j in range(sizes[L]):
            G[i, j] = w[j]
    for l in range(L - 1, -1, -1):
        h = sizes[l + 1]
        Zq = _blk(Zb, nZ * cw[l] + r0 * h, K, h)
        Hq = _blk(A, mA * ca[l + 1] + r0 * h, K, h)
        S = _blk(U, mU * cw[l] + u0 * h, K, h)
        _jac_apply(Zq, Hq, _blk(Gb, K * cw[l], K, h), S, act, False)
        out = gx if l == 0 else _blk(Gb, K * cw[l - 1], K, sizes[l])
        np.dot(S, _weight(theta, offs, sizes, l), out)


@njit(**_JIT)
def critic_eval(theta, offs, sizes, act, X, want_grad):
    """φ(X) (shape (B,)) and, if ``want_grad``, ∇_x φ(X) (shape (B, d); else shape (0, d))."""
    B, d = X.shape
    L = sizes.shape[0] - 1
    ca, cw = _cums(sizes)
    A = np.empty(B * ca[L + 1])
    _copy_rows(X, A, 0)
    Zb = np.empty(B * cw[L])
    phi = np.zeros(B)
    if B == 0:
        return phi, np.empty((0, d))
    _forward(theta, offs, sizes, act, A, B, Zb, B, B)
    np.dot(_blk(A, B * ca[L], B, sizes[L]), _wout(theta, offs, sizes), phi)
    if not want_grad:
        return phi, np.empty((0, d))
    U = np.empty(B * cw[L])
    Gb = np.empty(B * cw[L])
    gx = np.empty((B, d))
    _grad_chain(theta, offs, sizes, act, A, B, Zb, B, 0, B, U, B, 0, Gb, gx)
    return phi, gx


# --------------------------------------------------------------------------------------------
# loss and its parameter gradient
# --------------------------------------------------------------------------------------------
@njit(**_JIT)
def _workspace(sizes, Np, K):
    """Flat buffers of one step with ``Np`` particle/data rows and ``K`` interpolates."""
    L = sizes.shape[0] - 1
    ca, cw = _cums(sizes)
    N = Np + K
    M = N + K
    hmax = 1
    for l in range(1, L + 1):
        hmax = max(hmax, sizes[l])
    A = np.empty(M * ca[L + 1])
    Zb = np.empty(N * cw[L])
    U = np.empty(M * cw[L])
    Gb = np.empty(K * cw[L])
    gx = np.empty((K, sizes[0]))
    tmp = np.empty(N * hmax)
    return A, Zb, U, Gb, gx, tmp


@njit(**_JIT)
def _loss_grad(theta, offs, sizes, act, Np, K, c, lam, one_sided, A, Zb, U, Gb, gx, tmp, grad):
    """Loss and gradient (into ``grad``) on the stacked layout described in the module
    docstring; A's block 0 rows [0, Np) hold the particles/data, rows [Np, Np+K) the
    interpolates. ``one_sided``: penalise only gradient norms above 1.
    Returns ``(loss, dual, penalty, mean |∇φ(Q)|)``."""
    L = sizes.shape[0] - 1
    ca, cw = _cums(sizes)
    N = Np + K
    M = N + K
    d = sizes[0]
    HL = sizes[L]
    w = _wout(theta, offs, sizes)
    wg = _wout(grad, offs, sizes)
    if N == 0:
        for k in range(grad.shape[0]):
            grad[k] = 0.0
        return 0.0, 0.0, 0.0, 0.0
    # --- forward on particles, data and interpolates together ---
    _forward(theta, offs, sizes, act, A, M, Zb, N, N)
    HLb = _blk(A, M * ca[L], Np, HL)
    dual = 0.0
    for j in range(HL):
        wg[j] = 0.0
    for i in range(Np):
        acc = 0.0
        for j in range(HL):
            acc += HLb[i, j] * w[j]
        dual += c[i] * acc
        ci = -c[i]
        for j in range(HL):
            wg[j] += ci * HLb[i, j]
    # --- gradient penalty: ∇_x φ on the interpolates, then its reverse-mode derivative ---
    pen = 0.0
    mean_norm = 0.0
    if K > 0:
        _grad_chain(theta, offs, sizes, act, A, M, Zb, N, Np, K, U, M, N, Gb, gx)
        gbar = _blk(A, N * d, K, d)  # block 0, rows [N, M)
        scale = 2.0 * lam / K
        for k in range(K):
            r2 = 0.0
            for j in range(d):
                r2 += gx[k, j] * gx[k, j]
            r = np.sqrt(r2)
            mean_norm += r
            e = r - 1.0
            if one_sided and e < 0.0:
                e = 0.0
            pen += e * e
            f = scale * e / r if r > 0.0 else 0.0
            for j in range(d):
                gbar[k, j] = f * gx[k, j]
        pen *= lam / K
        mean_norm /= K
        for l in range(L):
            h = sizes[l + 1]
            gb = _blk(A, M * ca[l] + N * sizes[l], K, sizes[l])
            sbar = _blk(tmp, 0, K, h)
            np.dot(gb, _weight(theta, offs, sizes, l).T, sbar)
            Zq = _blk(Zb, N * cw[l] + Np * h, K, h)
            Hq = _blk(A, M * ca[l + 1] + Np * h, K, h)
            ZB = _blk(U, M * cw[l] + Np * h, K, h)  # z̄ of the interpolate rows (σ'' term)
            if act == ACT_TANH:
                Gn = _blk(Gb, K * cw[l], K, h)
                for i in range(K):
                    for j in range(h):
                        t = Hq[i, j]
                        ZB[i, j] = sbar[i, j] * Gn[i, j] * (-2.0 * t * (1.0 - t * t))
            else:
                for i in range(K):
                    for j in range(h):
                        ZB[i, j] = 0.0
            _jac_apply(Zq, Hq, sbar, _blk(A, M * ca[l + 1] + N * h, K, h), act, False)
        gL = _blk(A, M * ca[L] + N * HL, K, HL)
        for i in range(K):
            for j in range(HL):
                wg[j] += gL[i, j]
    # --- reverse pass through the forward graph; W̄_l = U_lᵀ A_l in one product ---
    for l in range(L - 1, -1, -1):
        h = sizes[l + 1]
        Ub = _blk(U, M * cw[l], N, h)
        Zp = _blk(Zb, N * cw[l], Np, h)
        Hp = _blk(A, M * ca[l + 1], Np, h)
        Up = _blk(U, M * cw[l], Np, h)
        if l == L - 1:
            for i in range(Np):
                ci = -c[i]
                for j in range(h):
                    Up[i, j] = ci * w[j]
            _jac_apply(Zp, Hp, Up, Up, act, False)  # interpolate rows: z̄ = σ'' term only
        else:
            _jac_apply(Zp, Hp, _blk(tmp, 0, Np, h), Up, act, False)
            _jac_apply(_blk(Zb, N * cw[l] + Np * h, K, h), _blk(A, M * ca[l + 1] + Np * h, K, h),
                       _blk(tmp, Np * h, K, h), _blk(U, M * cw[l] + Np * h, K, h), act, True)
        if sizes[l] <= 4:  # narrow input layer (d small): dgemm is slow for such shapes
            _mm_tn_narrow(_blk(U, M * cw[l], M, h), _blk(A, M * ca[l], M, sizes[l]),
                          _weight(grad, offs, sizes, l))
        else:
            np.dot(_blk(U, M * cw[l], M, h).T, _blk(A, M * ca[l], M, sizes[l]),
                   _weight(grad, offs, sizes, l))
        bg = _bias(grad, offs, sizes, l)
        for j in range(h):
            bg[j] = 0.0
        for i in range(N):
            for j in range(h):
                bg[j] += Ub[i, j]
        if l > 0:
            np.dot(Ub, _weight(theta, offs, sizes, l), _blk(tmp, 0, N, sizes[l]))
    return -dual + pen, dual, pen, mean_norm


@njit(**_JIT)
def critic_loss_grad(theta, offs, sizes, act, P, c, Q, lam, grad, one_sided=False):
    """Critic loss and its gradient in ``theta`` (written to ``grad``).

    ``loss = −Σ_i c_i φ(P_i) + (λ/K) Σ_k (|∇φ(Q_k)| − 1)²`` (one-sided: ``max(·, 0)²``). With
    ``c = (+a, −b)`` on the stacked particles and data this is minus the dual objective plus
    the penalty.

    Returns ``(loss, dual, penalty, mean |∇φ(Q)|)`` with ``dual = Σ c φ(P)``.
    """
    Np, d = P.shape
    K = Q.shape[0]
    A, Zb, U, Gb, gx, tmp = _workspace(sizes, Np, K)
    _copy_rows(P, A, 0)
    _copy_rows(Q, A, Np * d)
    return _loss_grad(theta, offs, sizes, act, Np, K, c, lam, one_sided, A, Zb, U, Gb, gx, tmp, grad)


# --------------------------------------------------------------------------------------------
# Björck orthonormalisation
# --------------------------------------------------------------------------------------------
@njit(**_JIT)
def bjorck(W, tol, maxiter):
    """Orthonormalise ``W`` in place (orthonormal columns if tall, rows if wide).

    Order-1 Björck–Bowie iteration ``W ← W (3/2 I − 1/2 WᵀW)`` (or its row form), which
    converges quadratically to the polar factor when all singular values are in (0, √3).
    Stops when ``max |WᵀW − I| <= tol``. Returns that residual (check it against ``tol``).
    """
    h, k = W.shape
    tall = h >= k
    n = k if tall else h
    A = np.empty((n, n))
    Wn = np.empty((h, k))
    res = np.inf
    for it in range(maxiter + 1):
        if tall:
            np.dot(W.T, W, A)
        else:
            np.dot(W, W.T, A)
        res = 0.0
        for i in range(n):
            for j in range(n):
                e = A[i, j] - (1.0 if i == j else 0.0)
                if abs(e) > res:
                    res = abs(e)
        if res <= tol or it == maxiter or not res < np.inf:  # (also stops on NaN)
            break
        for i in range(n):
            for j in range(n):
                A[i, j] = (1.5 if i == j else 0.0) - 0.5 * A[i, j]
        if tall:
            np.dot(W, A, Wn)
        else:
            np.dot(A, W, Wn)
        for i in range(h):
            for j in range(k):
                W[i, j] = Wn[i, j]
    return res


@njit(**_JIT)
def project_hard(theta, offs, sizes, tol, maxiter):
    """Make every weight matrix orthonormal and ``|w| = 1``; return the worst Björck residual."""
    L = sizes.shape[0] - 1
    worst = 0.0
    for l in range(L):
        r = bjorck(_weight(theta, offs, sizes, l), tol, maxiter)
        if not r <= worst:
            worst = r
    w = _wout(theta, offs, sizes)
    nrm = 0.0
    for j in range(w.shape[0]):
        nrm += w[j] * w[j]
    nrm = np.sqrt(nrm)
    if nrm > 0.0:
        for j in range(w.shape[0]):
            w[j] /= nrm
    return worst


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
@njit(**_JIT)
def _adam(theta, adam_m, adam_v, grad, step, lr, beta1, beta2, adam_eps):
    bc1 = 1.0 - beta1 ** step
    bc2 = 1.0 - beta2 ** step
    for k in range(theta.shape[0]):
        gk = grad[k]
        mk = beta1 * adam_m[k] + (1.0 - beta1) * gk
        vk = beta2 * adam_v[k] + (1.0 - beta2) * gk * gk
        adam_m[k] = mk
        adam_v[k] = vk
        theta[k] -= lr * (mk / bc1) / (np.sqrt(vk / bc2) + adam_eps)


@njit(**_JIT)
def _train_steps(theta, adam_m, adam_v, step, offs, sizes, act, X, Y, ix, cx, iy, cy, gi, gj,
                 geps, lam, one_sided, lr, beta1, beta2, adam_eps, s0, n_steps):
    """Adam steps ``s = s0 … s0 + n_steps − 1`` (rows ``s % len(...)`` of the index arrays)
    without any projection; see :func:`critic_train`. Returns the step count and the means
    over these steps of the loss, dual, penalty and mean gradient norm."""
    d = X.shape[1]
    grad = np.empty(theta.shape[0])
    bx = ix.shape[1]
    by = iy.shape[1]
    K = gi.shape[1]
    Np = bx + by
    A, Zb, U, Gb, gx, tmp = _workspace(sizes, Np, K)
    P = _blk(A, 0, Np, d)
    Q = _blk(A, Np * d, K, d)
    c = np.empty(Np)
    loss = 0.0
    dual = 0.0
    pen = 0.0
    mn = 0.0
    for s in range(s0, s0 + n_steps):
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
        ls, du, pe, m_ = _loss_grad(theta, offs, sizes, act, Np, K, c, lam, one_sided, A, Zb, U, Gb, gx,
                                    tmp, grad)
        loss += ls
        dual += du
        pen += pe
        mn += m_
        step += 1
        _adam(theta, adam_m, adam_v, grad, step, lr, beta1, beta2, adam_eps)
    k = max(n_steps, 1)
    return step, loss / k, dual / k, pen / k, mn / k


def critic_train(theta, adam_m, adam_v, step, offs, sizes, act, hard, X, Y, ix, cx, iy, cy,
                 gi, gj, geps, lam, lr, beta1, beta2, adam_eps, bj_tol, bj_maxit, n_steps, one_sided=False):
    """Run ``n_steps`` Adam updates of the critic, in place on ``theta``/``adam_m``/``adam_v``.

    Step ``s`` uses the particles ``X[ix[s % len(ix)]]`` with coefficients ``cx[...]`` and the
    data ``Y[iy[...]]`` with ``cy[...]`` (each row sums to 1), and the interpolates
    ``geps[s] X[gi[s]] + (1 − geps[s]) Y[gj[s]]`` for the penalty (none if ``gi`` has 0
    columns). ``hard``: after each step, Björck-orthonormalise the weights.

    Returns ``(step, loss, dual, penalty, mean grad norm, worst Björck residual)``: the step
    count, the means over the ``n_steps`` steps of the loss and its parts (each evaluated before
    its step's update), and the worst residual. ``one_sided``: the one-sided penalty.

    A plain Python function over two kernels so that the gradient-penalty critic never compiles
    the Björck code (cold JIT): without ``hard`` all steps run in one :func:`_train_steps`
    call; with it, each step is followed by :func:`project_hard` (one Python round trip per
    step, small next to the Björck iterations).
    """
    args = (offs, sizes, act, X, Y, ix, cx, iy, cy, gi, gj, geps, lam, bool(one_sided), lr, beta1, beta2,
            adam_eps)
    if not hard:
        return (*_train_steps(theta, adam_m, adam_v, step, *args, 0, n_steps), 0.0)
    worst = 0.0
    sums = np.zeros(4)
    for s in range(n_steps):
        out = _train_steps(theta, adam_m, adam_v, step, *args, s, 1)
        step = out[0]
        sums += out[1:]
        r = project_hard(theta, offs, sizes, bj_tol, bj_maxit)
        if not r <= worst:
            worst = r
    return (step, *(sums / max(n_steps, 1)), worst)
