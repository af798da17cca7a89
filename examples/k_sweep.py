"""A small W1-FE persistency sweep
=================================

A small W1-FE persistency sweep: final exact W1 against K, with the spread over seeds.

W1-FE (Malik & Huang) trains an MLP generator on 8 Gaussians with the exact potential of each
batch (an LP: the algorithm with a perfect critic), K generator steps per Euler step; K = 1 is
WGAN. For each K and three seeds it records the exact W1 between 1,000 generated and 1,000
held-out points after a fixed number of outer steps (the same number of LPs for every K). Writes
``k_sweep.png``: W1 against outer steps for each K (mean over seeds) and the final W1 against K
with a min–max band. The full protocol, with a neural critic, tuned baselines and fresh seeds,
is ``examples/w1fe_sweep.py``::

    python examples/k_sweep.py [--n 100] [--out .]

``--n`` is the number of outer steps. The runs are the cells of ``examples/configs/generative/k_sweep.toml``
(K x seed), run by the sweep runner (``w1flow sweep``) into ``--out``/``k-sweep-store``: a
re-run reads the finished ones back instead of training them again.
"""

import argparse
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from w1flow.generative import TrainResult  # noqa: E402
from w1flow.sweep import run_sweep  # noqa: E402

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs the example without __file__, from the examples folder
    HERE = Path.cwd()
CONFIG = HERE / "configs" / "generative" / "k_sweep.toml"


def main(argv=None):
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--n", type=int, default=100, help="outer steps")
    p.add_argument("--out", default=".")
    p.add_argument("--workers", type=int, default=1, help="worker processes of the sweep")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(CONFIG, "rb") as fh:
        config = tomllib.load(fh)
    config["train"]["n_iter"] = args.n
    config["evaluation"]["every"] = max(1, args.n // 5)
    KS, SEEDS = config["sweep"]["method.K"], config["sweep"]["train.seed"]
    report = run_sweep(config, store=out / "k-sweep-store", workers=args.workers, summary=False)
    curves = {}
    for cell in report.cells:
        it, w1 = TrainResult.load(out / "k-sweep-store" / "cells" / f"{cell.fingerprint}.npz").w1
        curves.setdefault(cell.params["method.K"], []).append(w1)
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    finals = {}
    for K in KS:
        c = np.array(curves[K])
        finals[K] = c[:, -1]
        ax1.semilogy(it, c.mean(axis=0), "o-", ms=3, label=f"K = {K}" + (" (WGAN)" if K == 1 else ""))
        print(f"K = {K:2d}: final exact W1 {c[:, -1].mean():.3f} (min {c[:, -1].min():.3f}, "
              f"max {c[:, -1].max():.3f}) over seeds {tuple(SEEDS)}")
    ks = np.array(KS)
    mean = np.array([finals[K].mean() for K in KS])
    ax2.fill_between(ks, [finals[K].min() for K in KS], [finals[K].max() for K in KS], alpha=0.3,
                     label=f"min–max over {len(SEEDS)} seeds")
    ax2.plot(ks, mean, "o-", label="mean")
    ax2.set_xscale("log", base=2)
    ax2.set(xlabel="persistency K", ylabel=f"exact W1 after {args.n} outer steps", title="W1-FE: final W1 against K")
    ax1.set(xlabel="outer steps (one LP each)", ylabel="exact W1 to held-out (mean over seeds)",
            title="W1-FE on 8 Gaussians, exact potential")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    fig.savefig(out / "k_sweep.png", dpi=100)


if __name__ == "__main__":
    main()
