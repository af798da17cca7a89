"""The 1-D quantile flow
=====================

The exact 1-D W1 flow with the quantile potential, against its closed form.

In 1-D the optimal plan is the monotone (quantile) coupling, so the flow is known in closed form;
the quantile oracle needs no LP. Writes ``quantile_1d.png`` (particle paths, and W1 against time
with the closed form)::

    python examples/quantile_1d.py [--n 60] [--out .]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from w1flow import CappedEuler, QuantilePotential, W1Flow, simulate  # noqa: E402
from w1flow.closed_forms import quantile_flow_w1  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x0 = rng.normal(3.0, 0.5, (args.n, 1))
    y = np.concatenate([rng.normal(-1.0, 0.2, (args.n // 2, 1)), rng.normal(1.0, 0.3, (args.n - args.n // 2, 1))])
    res = simulate(W1Flow(y, potential=QuantilePotential()), x0, 5.0, 0.05, solver=CappedEuler())
    a = np.full(args.n, 1.0 / args.n)
    closed = np.array([quantile_flow_w1(x0, a, y, a, t) for t in res.ts])
    print(f"{res.status}: W1 {res.w1[0]:.4f} -> {res.w1[-1]:.1e}; largest difference to the closed form "
          f"{np.max(np.abs(res.w1 - closed)):.1e}; LPs solved: {res.n_lp_solves}")
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    paths = np.stack([x[:, 0] for x in res.xs])
    ax1.plot(res.ts, paths, lw=0.6, color="tab:blue")
    ax1.set(xlabel="t", ylabel="position", title="particle paths (1-D quantile flow)")
    ax2.semilogy(res.ts, np.maximum(res.w1, 1e-17), label="simulated")
    ax2.semilogy(res.ts, np.maximum(closed, 1e-17), "k--", label="closed form")
    ax2.set(xlabel="t", ylabel="W1 to the data")
    ax2.legend()
    fig.savefig(out / "quantile_1d.png", dpi=110)


if __name__ == "__main__":
    main()
