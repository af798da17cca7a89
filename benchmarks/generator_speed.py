"""Speed of one generator training step: the Numba backend against the same step in torch (CPU).

Run:  python benchmarks/generator_speed.py [--rounds N]

A W1-FE generator step at a 2-64-64-2 ReLU generator and batch 256: forward pass, the MSE to
fixed targets, its gradient (hand-written reverse pass) and one Adam update, float64. Torch (if
importable) runs the same network in float64 with autograd and ``torch.optim.Adam``, on 2
threads. Both are timed in interleaved rounds (median per step), in one run: the ratio is what
the issue asks about (``docs/generative.md``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from w1flow.generative import MLPGenerator  # noqa: E402
from w1flow.generative import _kernels as GK  # noqa: E402


def numba_steps(gen, Z, Y, steps, state):
    m1, v1, step = state
    step, _, _ = GK.mse_steps(gen.theta, m1, v1, step, gen.offs, gen.sizes, gen._act, Z, Y, steps, 1e-4, 0.5, 0.9,
                              1e-8, False, False)
    state[2] = step


def torch_setup(gen, Z, Y):
    import torch

    torch.set_num_threads(2)
    layers = []
    sizes = list(gen.sizes)
    for l in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[l], sizes[l + 1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(gen.weight(l).copy()))
            lin.bias.copy_(torch.from_numpy(gen.bias(l).copy()))
        layers.append(lin)
        if l < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.5, 0.9), eps=1e-8)
    z, y = torch.from_numpy(Z), torch.from_numpy(Y)

    def steps(k):
        for _ in range(k):
            opt.zero_grad()
            loss = ((net(z) - y) ** 2).sum(dim=1).mean()
            loss.backward()
            opt.step()

    return steps


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=200, help="steps per timing")
    args = p.parse_args(argv)
    gen = MLPGenerator(2, 2, hidden=(64, 64), seed=0)
    rng = np.random.default_rng(0)
    Z, Y = rng.standard_normal((256, 2)), rng.standard_normal((256, 2))
    state = [np.zeros(gen.n_params), np.zeros(gen.n_params), 0]
    numba_steps(gen, Z, Y, 1, state)  # compile / load the cache
    try:
        tsteps = torch_setup(gen, Z, Y)
        tsteps(5)
    except ImportError:
        tsteps = None
    times = {"numba": [], "torch": []}
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        numba_steps(gen, Z, Y, args.steps, state)
        times["numba"].append((time.perf_counter() - t0) / args.steps)
        if tsteps is not None:
            t0 = time.perf_counter()
            tsteps(args.steps)
            times["torch"].append((time.perf_counter() - t0) / args.steps)
    nb = statistics.median(times["numba"])
    print(f"generator 2-64-64-2 ReLU, batch 256, W1-FE MSE step + Adam, float64; median of {args.rounds} rounds "
          f"of {args.steps} steps; load average {os.getloadavg()[0]:.2f}")
    print(f"  numba: {1e3 * nb:.3f} ms/step")
    if times["torch"]:
        tt = statistics.median(times["torch"])
        import torch

        print(f"  torch {torch.__version__} (2 threads): {1e3 * tt:.3f} ms/step   torch/numba = {tt / nb:.2f}x")
    else:
        print("  torch: not installed (pip install torch==2.13.0 for the CPU wheel)")


if __name__ == "__main__":
    main()
