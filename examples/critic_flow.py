"""A flow driven by the neural critic
==================================

A flow driven by the neural critic, next to the exact flow.

The critic (a small Numba MLP with a gradient penalty) is trained at every step until its
estimate settles, and particles move along −∇φ of the critic (unit speed). Writes
``critic_flow.png`` (snapshots of both flows, and exact W1 to the data against time)::

    python examples/critic_flow.py [--n 200] [--out .]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from w1flow import CriticPotential, SaveAt, W1Flow, simulate  # noqa: E402
from w1flow.datasets import eight_gaussians, gaussian_blob  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x0, y = gaussian_blob(args.n, seed=0), eight_gaussians(args.n, seed=1)
    save = SaveAt(ts=(0.0, 1.0, 2.0, 3.0, 4.0), w1="lp")
    runs = {"exact LP": simulate(W1Flow(y), x0, 4.0, 0.05, saveat=save),
            "neural critic": simulate(W1Flow(y, potential=CriticPotential(seed=0)), x0, 4.0, 0.05,
                                      saveat=save, progress=True)}
    fig = Figure(figsize=(13, 6), layout="constrained")
    axes = fig.subplots(2, 4)
    for row, (name, res) in enumerate(runs.items()):
        print(f"{name}: {res.status}, W1 " + ", ".join(f"{v:.3f}" for v in res.w1))
        for ax, t, x in zip(axes[row, :3], res.ts[1:], res.xs[1:]):
            ax.scatter(*y.T, s=3, c="0.75")
            ax.scatter(*x.T, s=3)
            ax.set_title(f"{name}, t = {t:g}", fontsize=9)
            ax.set_aspect("equal")
        axes[row, 3].axis("off")
    ax = fig.add_subplot(2, 4, 4)
    for name, res in runs.items():
        ax.plot(res.ts, res.w1, "o-", label=name)
    ax.set(xlabel="t", ylabel="exact W1 to the data")
    ax.legend(fontsize=8)
    fig.savefig(out / "critic_flow.png", dpi=100)


if __name__ == "__main__":
    main()
