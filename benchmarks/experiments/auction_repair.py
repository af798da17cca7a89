"""Prototype: exact assignment (n = m, uniform) by a warm-started forward auction with eps-scaling
on candidate lists, certified by the cell-bound pass. Experiment for [G3] uncapped Euler."""
import time
import numpy as np
import numba as nb
from scipy.spatial import cKDTree
from w1flow.lp.costs import box_scale
from w1flow.lp.cells import CellPricer

EPS = 1e-11

@nb.njit(cache=True)
def _auction(start, cols, cost, price, owner, assigned, eps, queue, qn, big, counts):
    head = 0
    n = start.shape[0] - 1
    while qn > 0:
        if counts[0] > counts[1]:
            return 1
        i = queue[head]; head += 1
        if head == n: head = 0
        qn -= 1
        best = np.inf; second = np.inf; bj = -1
        for q in range(start[i], start[i + 1]):
            val = cost[q] + price[cols[q]]
            if val < best:
                second = best; best = val; bj = cols[q]
            elif val < second:
                second = val
        if second == np.inf:
            second = best + big
        price[bj] += (second - best) + eps
        prev = owner[bj]
        owner[bj] = i
        assigned[i] = bj
        counts[0] += 1
        if prev >= 0:
            assigned[prev] = -1
            tail = head + qn
            if tail >= n: tail -= n
            queue[tail] = prev; qn += 1
    return 0

@nb.njit(cache=True)
def _unassign_loose(start, cols, cost, price, owner, assigned, eps, queue):
    # rows whose assignment is not eps-CS on their list; returns the queue length
    n = start.shape[0] - 1
    qn = 0
    for i in range(n):
        j = assigned[i]
        if j < 0:
            queue[qn] = i; qn += 1
            continue
        best = np.inf; mine = np.inf
        for q in range(start[i], start[i + 1]):
            val = cost[q] + price[cols[q]]
            if val < best: best = val
            if cols[q] == j: mine = val
        if mine > best + eps:
            owner[j] = -1; assigned[i] = -1
            queue[qn] = i; qn += 1
    return qn

@nb.njit(cache=True)
def _list_min(start, cols, cost, price, u):
    n = start.shape[0] - 1
    for i in range(n):
        best = np.inf
        for q in range(start[i], start[i + 1]):
            val = cost[q] + price[cols[q]]
            if val < best: best = val
        u[i] = best

def _csr(n, ii, jj):
    key = np.unique(ii.astype(np.int64) * (n + 1) + jj)  # dedupe, sorted by row
    ii, jj = key // (n + 1), key % (n + 1)
    start = np.zeros(n + 1, dtype=np.int64)
    np.add.at(start, ii + 1, 1)
    return np.cumsum(start), jj.astype(np.int64), ii

def solve(x, y, v_old=None, sigma_old=None, k_near=4, K=8, eps0=1e-3, theta=8.0, tau_near=1e-6, verbose=False):
    n = x.shape[0]
    scale = box_scale(x, y); inv = 1.0 / scale
    t0 = time.perf_counter()
    price = np.zeros(n) if v_old is None else -v_old * inv
    _, nn = cKDTree(y).query(x, k=k_near)
    ii = [np.repeat(np.arange(n), k_near)]; jj = [nn.ravel()]
    ii.append(np.arange(n)); jj.append(np.arange(n) if sigma_old is None else sigma_old)  # a perfect matching on the list
    pricer = CellPricer(x, y, inv)
    best_j = np.empty((n, K), dtype=np.int64); best_r = np.empty((n, K)); row_min = np.empty(n)
    if sigma_old is not None:  # the columns cheapest under the old prices, relative to the old matched arc
        u0 = np.sqrt(((x - y[sigma_old]) ** 2).sum(1)) * inv + price[sigma_old]
        pricer.scan(u0, -price, 1e-3, best_j, best_r, row_min)
        ok = best_j >= 0
        ii.append(np.repeat(np.arange(n), K)[ok.ravel()]); jj.append(best_j.ravel()[ok.ravel()])
    start, cols, rows = _csr(n, np.concatenate(ii), np.concatenate(jj))
    cost = np.sqrt(((x[rows] - y[cols]) ** 2).sum(1)) * inv
    owner = -np.ones(n, dtype=np.int64); assigned = -np.ones(n, dtype=np.int64)
    if sigma_old is not None:
        assigned[:] = sigma_old; owner[sigma_old] = np.arange(n)
    queue = np.empty(n, dtype=np.int64); counts = np.zeros(2, dtype=np.int64); counts[1] = 20000 * n
    t_build = time.perf_counter() - t0
    t_auc = t_pass = 0.0; passes = 0; rounds = []
    eps = eps0
    big = 1.0
    while True:
        ta = time.perf_counter()
        while True:
            qn = _unassign_loose(start, cols, cost, price, owner, assigned, eps, queue)
            if _auction(start, cols, cost, price, owner, assigned, eps, queue, qn, big, counts):
                raise RuntimeError(f'bid cap at eps {eps}, queue {qn}, arcs {cols.size}')
            if verbose: print('phase', eps, qn, counts[0])
            if eps <= EPS: break
            eps = max(eps / theta, EPS)
        t_auc += time.perf_counter() - ta
        tp = time.perf_counter()
        u = np.empty(n); _list_min(start, cols, cost, price, u)
        pricer.scan(u, -price, max(tau_near, 1e-9), best_j, best_r, row_min)
        t_pass += time.perf_counter() - tp; passes += 1
        bad = best_r < -EPS
        badrows = bad.any(1)
        rounds.append(int(badrows.sum()))
        if verbose: print('pass', rounds[-1], float(-row_min.min()))
        if not badrows.any():
            break
        take = (best_r < tau_near) & badrows[:, None] & (best_j >= 0)
        ii = np.concatenate([rows, np.repeat(np.arange(n), K)[take.ravel()]])
        jj = np.concatenate([cols, best_j.ravel()[take.ravel()]])
        start, cols, rows = _csr(n, ii, jj)
        cost = np.sqrt(((x[rows] - y[cols]) ** 2).sum(1)) * inv
        eps = min(eps0, max(EPS, 2.0 * float(-best_r.min())))
    # the certificate over all pairs: row_min >= -EPS; CS gap
    pc = np.sqrt(((x - y[assigned]) ** 2).sum(1))
    primal = pc.sum() / n
    uu, vv = u * scale, -price * scale
    gap = primal - (uu.sum() + vv.sum()) / n
    info = dict(build=t_build, auction=t_auc, passes_s=t_pass, passes=passes, rounds=rounds, bids=int(counts[0]),
                arcs=int(cols.size), gap=gap, maxviol=float(-row_min.min() * scale))
    return assigned, uu, vv, primal, info
