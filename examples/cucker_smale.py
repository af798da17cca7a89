"""Cucker–Smale flocking
=====================

Cucker–Smale flocking: velocities align, and the mean velocity (momentum) is conserved.

The state of each bird is (x, v) in 2-D, stacked as 4 coordinates; the drift is
``dx/dt = v, dv/dt = K Σ_j w_j (1 + |x_j − x_i|²)^(−β) (v_j − v_i)``, the velocity part computed by
``PairwiseInteraction(cucker_smale_kernel)``. For β <= 1/2 the flock always aligns. Writes
``cucker_smale.png`` (trajectories, and the velocity spread against time with the momentum
drift)::

    python examples/cucker_smale.py [--n 100] [--out .]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from w1flow import RK4, MeanFieldODE, SaveAt, simulate  # noqa: E402
from w1flow.interactions import PairwiseInteraction, cucker_smale_kernel  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = args.n
    z0 = np.concatenate([rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + (1.0, 0.0)], axis=1)
    w = np.full(n, 1.0 / n)
    align = PairwiseInteraction(cucker_smale_kernel, (1.0, 0.25))

    def drift(z, a, t):
        dz = align(z, a, t)
        dz[:, :2] = z[:, 2:]  # dx/dt = v
        return dz

    res = simulate(MeanFieldODE(drift), z0, 10.0, 0.05, solver=RK4(), saveat=SaveAt(every=2))
    spread = [np.sqrt(w @ np.sum((z[:, 2:] - w @ z[:, 2:]) ** 2, axis=1)) for z in res.xs]
    momentum = np.array([w @ z[:, 2:] for z in res.xs])
    drift_mom = float(np.max(np.abs(momentum - momentum[0])))
    print(f"velocity spread {spread[0]:.3f} -> {spread[-1]:.2e}; mean velocity {momentum[0].round(4)}, "
          f"its largest change {drift_mom:.1e} (round-off)")
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    paths = np.stack([z[:, :2] for z in res.xs])
    ax1.plot(paths[:, :, 0], paths[:, :, 1], lw=0.5, color="tab:blue", alpha=0.6)
    ax1.scatter(*paths[-1].T, s=6, c="k")
    ax1.set(title="trajectories (black: t = 10)", xlabel="x", ylabel="y")
    ax1.set_aspect("equal")
    ax2.semilogy(res.ts, spread, label="velocity spread")
    ax2.semilogy(res.ts, np.maximum(np.abs(momentum - momentum[0]).max(axis=1), 1e-18), label="|momentum − momentum(0)|")
    ax2.set(xlabel="t", title="alignment, with momentum conserved")
    ax2.legend(fontsize=8)
    fig.savefig(out / "cucker_smale.png", dpi=110)


if __name__ == "__main__":
    main()
