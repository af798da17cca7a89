"""Replay recorded uncapped steps with the auction: python auction_replay.py traj10000.npz 89,90 "K=16"
(the first listed step is solved by the sparse LP, each next one by the auction from it)."""
import sys, time, numpy as np
from auction_repair import solve
f = np.load(sys.argv[1]); X, W, S, y = f["X"], f["W"], f["S"], f["y"]
steps = list(range(len(X))) if len(sys.argv) < 3 else [int(s) for s in sys.argv[2].split(",")]
pass
from w1flow.lp.sparse import solve_sparse
k0 = steps[0]; n = len(y); a_ = np.full(n, 1/n)
r = solve_sparse(X[k0], a_, y, a_)
sig = np.empty(n, dtype=np.int64); sig[r.rows] = r.cols; v = r.v
print('start', r.ok, len(r.rows))
steps = steps[1:]; tot = 0; tots = 0
for k in steps:
    t = time.perf_counter()
    sig, u, v, w1, info = solve(X[k], y, v, sig, **eval('dict(' + (sys.argv[3] if len(sys.argv) > 3 else '') + ')'))
    dt = time.perf_counter() - t; tot += dt; tots += S[k]
    print(f"{k:3d} {dt:6.3f}s (simplex {S[k]:6.3f}) w1 {w1:.12f} ref {W[k]:.12f} rel {abs(w1-W[k])/W[k]:.1e} "
          f"auc {info['auction']:.3f} pass {info['passes_s']:.3f} np {info['passes']} bids {info['bids']} arcs {info['arcs']} rounds {info['rounds'][:6]} gap {info['gap']:.1e} mv {info['maxviol']:.1e}", flush=True)
print("total", tot, "simplex", tots)
