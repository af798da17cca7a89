"""Generating 8×8 digits with W1-FE
================================

Generating 8×8 digits (d = 64) with W1-FE: persistency K = 1 (WGAN) against K = 8.

An MLP generator (latent 16 → 128 → 128 → 64) is trained on scikit-learn's digits (offline; 500
images held out) with the exact potential of each batch (an LP between 256 generated and 256
real images: the algorithm with a perfect critic), on the torch backend when torch is installed
(CUDA if present), else on the Numba kernels. Every ``--every`` steps it records the exact W1
between 500 generated and the 500 held-out images, and at the end a digits classifier's view of
the samples (label diversity, confidence, Fréchet distance of its features). Writes
``digits_w1fe.png`` (W1 against outer steps, and sample grids)::

    python examples/digits_w1fe.py [--n 300] [--out .]

``--n`` is the number of outer steps. Needs scikit-learn (``pip install "w1flow[data]"``).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import w1flow as wf  # noqa: E402
from w1flow.datasets import digits  # noqa: E402
from w1flow.generative import W1FE, Evaluation, MLPGenerator, train  # noqa: E402
from w1flow.generative.digits import DigitsScorer  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=300, help="outer steps")
    p.add_argument("--every", type=int, default=None)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        import torch  # noqa: F401

        backend = "torch"
    except ImportError:
        backend = "numpy"
    x_train, _ = digits("train")
    x_held, _ = digits("held_out")
    scorer = DigitsScorer()
    every = args.every or max(1, args.n // 6)
    fig = Figure(figsize=(12, 4), layout="constrained")
    ax, *grids = fig.subplots(1, 3)
    for grid, K in zip(grids, (1, 8)):
        gen = MLPGenerator(16, 64, hidden=(128, 128), seed=0)
        # train's defaults (the recipe) but for K (compared), the oracle (the exact potential) and
        # dt = 0.5: the recipe's dt = 0.1 was chosen on 2-D targets with the neural critic; here (d = 64,
        # exact potential, 300 outer steps, seed 0, measured 2026-12-06) K = 8 ends at W1 1.36 with
        # dt = 0.5 against 1.62 with dt = 0.1, and K = 1 (WGAN under Adam, blind to dt) at 1.58 with both.
        res = train(gen, x_train, wf.ExactPotential(), W1FE(K=K, dt=0.5), n_iter=args.n, batches=256,
                    evaluation=Evaluation(held_out=x_held, every=every, samples=500), backend=backend)
        it, w1 = res.w1
        label = "K = 1 (WGAN)" if K == 1 else f"K = {K}"
        ax.plot(it, w1, "o-", label=label)
        samples = gen.sample(500, seed=np.random.default_rng(1))
        diversity, confidence = scorer.label_entropy(samples)
        fd = scorer.frechet(samples, x_held)
        print(f"{label}: exact W1 to held-out {w1[0]:.3f} -> {w1[-1]:.3f}; label entropy {diversity:.2f} "
              f"(log 10 = 2.30), mean prediction entropy {confidence:.2f}, Frechet {fd:.2f}; "
              f"{res.wall_time:.1f} s ({backend})")
        pad = np.zeros((36, 9, 9))  # a 6 × 6 grid of the 8 × 8 images, one blank pixel between
        pad[:, :8, :8] = np.clip(samples[:36].reshape(36, 8, 8), 0, 1)
        tiles = pad.reshape(6, 6, 9, 9).transpose(0, 2, 1, 3).reshape(54, 54)
        grid.imshow(tiles, cmap="gray_r")
        grid.set_title(f"{label}: W1 {w1[-1]:.2f}, Fréchet {fd:.1f}")
        grid.axis("off")
    ax.axhline(scorer.w1(x_train[:500], x_held), color="k", ls="--", lw=1, label="500 real vs held-out")
    ax.set(xlabel="outer steps", ylabel="exact W1 to 500 held-out digits", title=f"W1-FE on digits ({backend})")
    ax.legend(fontsize=8)
    fig.savefig(out / "digits_w1fe.png", dpi=100)


if __name__ == "__main__":
    main()
