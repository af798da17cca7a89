"""W1 and W2 flows side by side
============================

The W1 and the W2 flow from the same start, side by side.

W1 moves every particle at unit speed along its transport ray (arriving at different times);
W2-FE contracts toward the optimal W2 assignment exponentially, W2(t) = e^(−t) W2(0). Writes
``w1_vs_w2.png``::

    python examples/w1_vs_w2.py [--n 300] [--out .]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from w1flow import CappedEuler, Euler, SaveAt, W1Flow, W2Flow, simulate  # noqa: E402
from w1flow.datasets import gaussian_blob, two_moons  # noqa: E402
from w1flow.metrics import w2  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x0, y = gaussian_blob(args.n, center=(0.5, 2.5), seed=0), two_moons(args.n, seed=1)
    times = (0.0, 0.5, 1.0, 2.0, 4.0)
    r1 = simulate(W1Flow(y), x0, 4.0, 0.02, solver=CappedEuler(), saveat=SaveAt(ts=times))
    r2 = simulate(W2Flow(y), x0, 4.0, 0.02, solver=Euler(), saveat=SaveAt(ts=times))
    fig = Figure(figsize=(3.2 * len(times), 6.2), layout="constrained")
    axes = fig.subplots(2, len(times), sharex=True, sharey=True)
    for row, (name, res) in enumerate((("W1 (CappedEuler)", r1), ("W2-FE (Euler)", r2))):
        for ax, t, x in zip(axes[row], res.ts, res.xs):
            ax.scatter(*y.T, s=3, c="0.75")
            ax.scatter(*x.T, s=3, c="tab:blue" if row == 0 else "tab:red")
            ax.set_title(f"{name}, t = {t:g}", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_aspect("equal")
    w2s = [w2(x, y) for x in r2.xs]
    print("W1 flow, W1(t):", ", ".join(f"{v:.3f}" for v in r1.w1))
    print("W2 flow, W2(t) / W2(0):", ", ".join(f"{v / w2s[0]:.3f}" for v in w2s), "(e^-t:",
          ", ".join(f"{np.exp(-t):.3f}" for t in r2.ts) + ")")
    fig.savefig(out / "w1_vs_w2.png", dpi=100)


if __name__ == "__main__":
    main()
