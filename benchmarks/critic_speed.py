"""Speed of one critic training step (WGAN-GP, Adam, float64): Numba vs a torch CPU critic.

Run:  python benchmarks/critic_speed.py [--repeat R] [--rounds N] [--baseline REV]

Architecture: d = 2 → H → H → 1, tanh, no output bias, for H in {64, 256}. A step at batch B
uses B particles, B data points and B interpolates (gradient penalty, λ = 10) and one Adam
update. Torch (if importable) uses ``torch.set_num_threads(2)``, the same architecture in
float64 and ``autograd.grad(create_graph=True)`` for the penalty.

Numba is timed three ways: ``kernel`` = R steps inside one ``critic_train`` call (divided by R)
with BLAS limited to one thread (as :class:`CriticPotential` does, via threadpoolctl),
``kernel, BLAS threads`` = the same without the limit, ``oracle`` =
``CriticPotential.train(..., 1)`` per step (adds drawing the random batch in Python). With
``--baseline REV`` the kernels of git revision ``REV`` (e.g. the hand-written-loop version
``eaf244a``) are timed in the same run. The machine is shared: every variant is timed in
``--rounds`` interleaved rounds and the *median* is printed, with the load average before and
after. Also printed: start-up times in fresh subprocesses: cold JIT (empty ``NUMBA_CACHE_DIR``)
and cached (second process with the same cache directory).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:  # run from a source checkout without installing
    sys.path.insert(0, _ROOT)

from w1flow.potentials import _critic_kernels as K  # noqa: E402
from w1flow.potentials.critic import CriticPotential, _single_thread_blas  # noqa: E402

D = 2
LAM = 10.0
LR = 1e-4
BETAS = (0.5, 0.9)


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, D)) * 0.5 + [3.0, 0.0]
    y = rng.standard_normal((n, D)) * 0.5
    return x, y


def load_kernels(rev):
    """The kernel module of git revision ``rev``, imported under another name (own cache dir)."""
    src = subprocess.run(["git", "-C", _ROOT, "show", f"{rev}:w1flow/potentials/_critic_kernels.py"],
                         capture_output=True, text=True, check=True).stdout
    tmp = tempfile.mkdtemp(prefix="critic_baseline_")
    path = os.path.join(tmp, f"_critic_kernels_{rev}.py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location(f"_critic_kernels_{rev}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def numba_timers(H, B, R, baseline, blas_threads):
    """Closures timing R steps of each Numba variant (per step)."""
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

    def kernel(mod, limit):
        def run():
            with (_single_thread_blas() if limit else contextlib.nullcontext()):
                t0 = time.perf_counter()
                mod.critic_train(*args(R))
                return (time.perf_counter() - t0) / R
        with (_single_thread_blas() if limit else contextlib.nullcontext()):
            mod.critic_train(*args(1))  # compile / warm up
        return run

    def orac():
        t0 = time.perf_counter()
        for _ in range(R):
            oracle.train(x, a, y, a, 1)
        return (time.perf_counter() - t0) / R

    out = {"kernel": kernel(K, True), "oracle": orac}
    if baseline is not None:
        out["baseline"] = kernel(baseline, True)
    if blas_threads:
        out["kernel_mt"] = kernel(K, False)
    return out


def torch_timer(H, B, R):
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

    def run():
        t0 = time.perf_counter()
        for _ in range(R):
            step()
        return (time.perf_counter() - t0) / R
    return run


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
        env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
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
    ap.add_argument("--repeat", type=int, default=50, help="steps per timing at width 64, batch 256 "
                    "(scaled down for larger sizes)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (median)")
    ap.add_argument("--baseline", metavar="REV", help="also time the kernels of this git revision")
    ap.add_argument("--blas-threads", action="store_true",
                    help="also time the kernel without the one-thread BLAS limit")
    ap.add_argument("--no-startup", action="store_true", help="skip the subprocess start-up timings")
    args = ap.parse_args()
    try:
        import torch

        torch_note = f"torch {torch.__version__}, {2} threads"
    except ImportError:
        torch = None
        torch_note = "torch not importable: torch timings skipped"
    import numba

    baseline = load_kernels(args.baseline) if args.baseline else None
    print(f"numba {numba.__version__}; {torch_note}; float64, d = {D}, two tanh hidden layers, "
          f"GP lambda = {LAM}, Adam; median of {args.rounds} rounds")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    cols = (["kernel", "oracle"] + (["baseline"] if baseline else []) + ["torch"]
            + (["kernel_mt"] if args.blas_threads else []))
    names = {"kernel": "numba", "kernel_mt": "BLAS thr.", "oracle": "oracle",
             "baseline": f"{args.baseline}", "torch": "torch"}
    print(f"{'width':>5} {'batch':>5} | " + " ".join(f"{names[c]:>12}" for c in cols)
          + " | torch/numba" + (f"  {args.baseline}/numba" if baseline else ""))
    for H in (64, 256):
        for B in (256, 1024):
            R = max(5, args.repeat * 256 * 64 // (B * H))
            timers = numba_timers(H, B, R, baseline, args.blas_threads)
            if torch is not None:
                timers["torch"] = torch_timer(H, B, R)
            res = {k: [] for k in timers}
            for _ in range(args.rounds):
                for k in cols:  # multithreaded variants last, then a pause: idle workers spin
                    if k in timers:
                        res[k].append(timers[k]())
                        if k in ("torch", "kernel_mt"):
                            time.sleep(0.2)
            med = {k: float(np.median(v)) for k, v in res.items()}
            ratio = med["torch"] / med["kernel"] if "torch" in med else float("nan")
            line = f"{H:5d} {B:5d} | " + " ".join(
                f"{med[c] * 1e3:9.3f} ms" if c in med else f"{'-':>12}" for c in cols)
            line += f" | {ratio:10.2f}x"
            if baseline:
                line += f"  {med['baseline'] / med['kernel']:10.2f}x"
            print(line, flush=True)
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if not args.no_startup:
        (c_wall, c_imp, c_gp, c_hard), (w_wall, w_imp, w_gp, w_hard) = startup_times()
        print("\nstart-up (fresh subprocess: import; first GP call; first hard call; whole process)")
        print(f"  cold JIT (empty NUMBA_CACHE_DIR): {c_imp:.2f} s; {c_gp:.2f} s; {c_hard:.2f} s; {c_wall:.2f} s")
        print(f"  cached (same cache, 2nd process): {w_imp:.2f} s; {w_gp:.2f} s; {w_hard:.2f} s; {w_wall:.2f} s")


if __name__ == "__main__":
    main()
