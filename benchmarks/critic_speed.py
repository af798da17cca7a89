"""Speed of one critic training step (WGAN-GP, Adam, float64): Numba vs a torch CPU critic.

Run:  python benchmarks/critic_speed.py [--repeat R]

Architecture: d = 2 → H → H → 1, tanh, no output bias, for H in {64, 256}. A step at batch B
uses B particles, B data points and B interpolates (gradient penalty, λ = 10) and one Adam
update. Torch (if importable) uses ``torch.set_num_threads(2)``, the same architecture in
float64 and ``autograd.grad(create_graph=True)`` for the penalty.

Numba is timed two ways: ``kernel`` = R steps inside one ``critic_train`` call (divided by R),
``oracle`` = ``CriticPotential.train(..., 1)`` per step (adds drawing the random batch in
Python). Also printed: start-up times in fresh subprocesses: cold JIT (empty
``NUMBA_CACHE_DIR``) and cached (second process with the same cache directory).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from w1flow.potentials import _critic_kernels as K
from w1flow.potentials.critic import CriticPotential

D = 2
LAM = 10.0
LR = 1e-4
BETAS = (0.5, 0.9)


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, D)) * 0.5 + [3.0, 0.0]
    y = rng.standard_normal((n, D)) * 0.5
    return x, y


def time_numba(H, B, R):
    n = 4 * B
    x, y = data(n)
    a = np.full(n, 1.0 / n)
    oracle = CriticPotential(hidden=(H, H), batch_size=B, gp_batch_size=B, lr=LR, betas=BETAS,
                             gp_lambda=LAM, n_warmup=1, seed=0)
    oracle(x, a, y, a)  # initialise the network (and compile)
    rng = np.random.default_rng(1)
    ix, iy = rng.integers(0, n, (R, B)), rng.integers(0, n, (R, B))
    gi, gj = rng.integers(0, n, (R, B)), rng.integers(0, n, (R, B))
    geps = rng.random((R, B))
    cx = np.full((1, B), 1.0 / B)
    args = lambda steps: (oracle.theta, oracle._m, oracle._v, oracle._step, oracle._offs, oracle._sizes,  # noqa: E731
                          0, False, x, y, ix, cx, iy, cx, gi, gj, geps, LAM, LR, BETAS[0], BETAS[1],
                          1e-8, 1e-12, 100, steps)
    K.critic_train(*args(1))
    best_kernel = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        K.critic_train(*args(R))
        best_kernel = min(best_kernel, (time.perf_counter() - t0) / R)
    best_oracle = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(R):
            oracle.train(x, a, y, a, 1)
        best_oracle = min(best_oracle, (time.perf_counter() - t0) / R)
    return best_kernel, best_oracle


def time_torch(H, B, R):
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    n = 4 * B
    x, y = data(n)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    net = torch.nn.Sequential(
        torch.nn.Linear(D, H), torch.nn.Tanh(), torch.nn.Linear(H, H), torch.nn.Tanh(),
        torch.nn.Linear(H, 1, bias=False),
    ).double()
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=BETAS)

    def step():
        xb = X[torch.randint(0, n, (B,))]
        yb = Y[torch.randint(0, n, (B,))]
        eps = torch.rand(B, 1, dtype=torch.float64)
        q = (eps * X[torch.randint(0, n, (B,))] + (1 - eps) * Y[torch.randint(0, n, (B,))]).requires_grad_(True)
        out = net(q)
        (g,) = torch.autograd.grad(out.sum(), q, create_graph=True)
        pen = LAM * ((g.norm(dim=1) - 1) ** 2).mean()
        loss = -(net(xb).mean() - net(yb).mean()) + pen
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(R):
            step()
        best = min(best, (time.perf_counter() - t0) / R)
    return best


STARTUP = r"""
import time, numpy as np
t0 = time.perf_counter()
from w1flow.potentials.critic import CriticPotential
t1 = time.perf_counter()
x = np.random.default_rng(0).standard_normal((16, 2)); y = x + 1
CriticPotential(hidden=(8, 8), n_warmup=2, seed=0)(x, None, y, None).velocity
t2 = time.perf_counter()
CriticPotential(hidden=(8, 8), lipschitz="hard", n_warmup=2, seed=0)(x, None, y, None).velocity
t3 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
"""


def startup_times():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        out = []
        for _ in range(2):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", STARTUP], env=env, capture_output=True, text=True,
                               check=True)
            wall = time.perf_counter() - t0
            out.append((wall, *map(float, r.stdout.split())))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=50, help="steps per timing (best of 3)")
    ap.add_argument("--no-startup", action="store_true", help="skip the subprocess start-up timings")
    args = ap.parse_args()
    try:
        import torch

        torch_note = f"torch {torch.__version__}, {2} threads"
    except ImportError:
        torch = None
        torch_note = "torch not importable: torch timings skipped"
    import numba

    print(f"numba {numba.__version__}; {torch_note}; float64, d = {D}, two tanh hidden layers, "
          f"GP lambda = {LAM}, Adam")
    print(f"{'width':>5} {'batch':>5} | {'numba kernel':>12} {'numba oracle':>12} | {'torch':>10} | "
          f"{'torch/numba':>11}")
    for H in (64, 256):
        for B in (256, 1024):
            R = max(5, args.repeat * 256 * 64 // (B * H))
            kern, orac = time_numba(H, B, R)
            tt = time_torch(H, B, R) if torch is not None else float("nan")
            ratio = tt / kern if torch is not None else float("nan")
            print(f"{H:5d} {B:5d} | {kern * 1e3:9.3f} ms {orac * 1e3:9.3f} ms | "
                  f"{tt * 1e3:7.3f} ms | {ratio:10.2f}x", flush=True)
    if not args.no_startup:
        (c_wall, c_imp, c_gp, c_hard), (w_wall, w_imp, w_gp, w_hard) = startup_times()
        print("\nstart-up (fresh subprocess: import; first GP call; first hard call; whole process)")
        print(f"  cold JIT (empty NUMBA_CACHE_DIR): {c_imp:.2f} s; {c_gp:.2f} s; {c_hard:.2f} s; {c_wall:.2f} s")
        print(f"  cached (same cache, 2nd process): {w_imp:.2f} s; {w_gp:.2f} s; {w_hard:.2f} s; {w_wall:.2f} s")


if __name__ == "__main__":
    main()
