"""Record the uncapped exact Euler flow of the demo problem (T = 5, dt = 0.05): positions, times and
W1 at every LP, to trajN.npz.  python record_uncapped.py 10000"""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np
from _common import demo_problem
from w1flow import Euler, ExactPotential, W1Flow, simulate
import w1flow.potentials.exact as ex
n = int(sys.argv[1])
x0, y = demo_problem(n, 0)
X, T, S, W = [], [], [], []
old = ex.ExactPotential.__call__
def call(self, x, a, yy, b, t=0.0):
    s = time.perf_counter(); r = old(self, x, a, yy, b, t)
    X.append(np.array(x)); T.append(float(t)); S.append(time.perf_counter() - s); W.append(float(r.w1))
    return r
ex.ExactPotential.__call__ = call
t0 = time.perf_counter()
res = simulate(W1Flow(y, potential=ExactPotential(method="incremental")), x0, 5.0, 0.05, solver=Euler())
print("total", time.perf_counter() - t0)
np.savez(f"traj{n}.npz", X=np.array(X), T=np.array(T), S=np.array(S), W=np.array(W), y=y)
