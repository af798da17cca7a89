"""Beyond W1: W1, W2, KL and JS flows
==================================

Beyond W1: the W1, W2, KL (MonoFlow h = id) and JS flows from the same cloud to the same data.

All four are particle flows on the same ``simulate`` API: ``W1Flow`` (exact LP, capped Euler),
``W2Flow`` (exact W2 LP, barycentric projection), and ``MonoFlow`` / ``JSFlow`` whose velocity
``h'(log r) ∇ log r`` comes from a logistic classifier refitted between the data and the
particles at every step (no exact ratio exists for particles). Writes ``beyond_w1.png``: the
clouds at the end, and the exact W1 to the data against time for each flow::

    python examples/beyond_w1.py [--n 200] [--out .]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from w1flow import CappedEuler, Euler, JSFlow, MonoFlow, SaveAt, W1Flow, W2Flow, simulate  # noqa: E402
from w1flow.datasets import eight_gaussians, gaussian_blob  # noqa: E402
from w1flow.density_ratio import LogRatioEstimator  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x0 = gaussian_blob(args.n, center=(0.0, 0.0), std=0.5, seed=0)
    y = eight_gaussians(args.n, seed=1)
    ratio = LogRatioEstimator(n_features=200)
    runs = {
        "W1 (exact, capped Euler)": (W1Flow(y), CappedEuler(), 0.05),
        "W2 (exact, Euler)": (W2Flow(y), Euler(), 0.1),
        "KL: MonoFlow h = id": (MonoFlow(y, h="reverse_kl", ratio=ratio), Euler(), 0.1),
        "JS flow (vanilla GAN)": (JSFlow(y, ratio=ratio), Euler(), 0.1),
    }
    fig = Figure(figsize=(15, 4), layout="constrained")
    axes = fig.subplots(1, 5)
    for ax, (name, (problem, solver, dt)) in zip(axes[:4], runs.items()):
        res = simulate(problem, x0, 3.0, dt, solver=solver, saveat=SaveAt(every=max(1, int(0.25 / dt))))
        ax.scatter(y[:, 0], y[:, 1], s=3, c="0.7")
        ax.scatter(res.x_final[:, 0], res.x_final[:, 1], s=3, c="tab:blue")
        ax.set_title(f"{name}\nW1(T) = {res.w1[-1]:.3f}", fontsize=9)
        ax.set_aspect("equal")
        axes[4].semilogy(res.ts, np.maximum(res.w1, 1e-4), "o-", ms=2, label=name)
        print(f"{name}: W1 {res.w1[0]:.3f} -> {res.w1[-1]:.3f} at t = {res.ts[-1]:g} ({res.status}, "
              f"{res.n_field_evals} fields, {res.wall_time:.1f} s)")
    axes[4].set(xlabel="t", ylabel="exact W1 to the data", title="W1 against time")
    axes[4].legend(fontsize=7)
    fig.savefig(out / "beyond_w1.png", dpi=100)


if __name__ == "__main__":
    main()
