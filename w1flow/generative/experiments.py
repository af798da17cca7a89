"""The W1-FE experiment's 2-D targets and figures: persistency K against WGAN-GP and naive persistence.

The runs themselves are generator configs run by the sweep runner (``w1flow sweep
examples/configs/generative/k_study_critic.toml``, or ``examples/w1fe_sweep.py`` for the whole protocol);
this module names the targets (:data:`TARGETS`, the ``[data] target`` of a generator config),
turns a finished run into the record the figures read (:func:`cell_of`), and draws the tables
and figures (:func:`summary`, :func:`figures`). The noise floor is
:func:`w1flow.generative.evaluation.noise_floor`. Every setting of the study is ours, not the
paper's (arXiv:2405.16351 publishes no protocol, §7).

Budgets are in critic updates (critic mode) or outer steps (exact mode), so methods are compared
at equal critic work; the history also records generator steps and wall-clock.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..datasets import eight_gaussians, swiss_roll, twenty_five_gaussians, two_moons

__all__ = ["TARGETS", "cell_of", "summary", "figures", "label", "final_stats", "first_reach"]

TARGETS = {
    "8 Gaussians": eight_gaussians,
    "25 Gaussians": twenty_five_gaussians,
    "two moons": two_moons,
    "swiss roll": swiss_roll,
}


def cell_of(result, config, seconds=None):
    """The record of one finished run that :func:`summary` and :func:`figures` read (a JSON-able dict).

    Parameters
    ----------
    result : TrainResult
        The run (as :meth:`~w1flow.generative.TrainResult.load` reads it from a sweep store).
    config : dict
        Its generator config (``[data] target``, ``[method]``, ``[potential] kind``, ``[train] seed``).
    seconds : float, optional
        Wall-clock of the whole run (the sweep record's ``cell_seconds``).
    """
    h = result.history
    ok = np.isfinite(h["w1"])
    method, seed = config["method"], config["train"]["seed"]
    name = method["name"]
    return dict(
        target=config["data"]["target"], method=name, K=method.get("K", 1), dt=method.get("dt", 0.1) if name == "w1fe"
        else 0.0, seed=seed, mode="exact" if config["potential"]["kind"] == "exact" else "critic",
        status=result.status, n_iter=result.n_iter, iteration=h["iteration"][ok].tolist(), w1=h["w1"][ok].tolist(),
        critic_steps=h["critic_steps"][ok].tolist(), generator_steps=h["generator_steps"][ok].tolist(),
        wall=h["wall_time"][ok].tolist(), critic_dual=float(h["critic_dual"][-1]) if h["critic_dual"].size else None,
        reach=float(np.nanmedian(h["displacement"] / h["target_displacement"])) if name == "w1fe" else None,
        final_w1=float(h["w1"][ok][-1]) if ok.any() else None, seconds=seconds,
        samples=result.generator.sample(500, seed=np.random.default_rng([seed, 3])).round(4).tolist(),
        overrides={})


def label(c):
    """A run's name: the method, K (and Δt for W1-FE), and the options it changed from the
    protocol's (``overrides``)."""
    extra = "".join(f" {k}={v:g}" if isinstance(v, float) else f" {k}={v}" for k, v in c.get("overrides", {}).items())
    return (f"W1-FE K={c['K']} dt={c['dt']:g}" if c["method"] == "w1fe" else f"{c['method']} K={c['K']}") + extra


def final_stats(cells):
    """Mean and std over the cells' final exact W1."""
    fin = np.array([c["final_w1"] if c["final_w1"] is not None else np.nan for c in cells], dtype=float)
    return float(np.nanmean(fin)), float(np.nanstd(fin))


def first_reach(cells, level, xkey="critic_steps"):
    """The first ``xkey`` value (critic updates, generator steps, wall seconds) at which the
    seed-mean W1 curve is at or below ``level``; None if it never is."""
    n = min(len(c["w1"]) for c in cells)
    if n == 0:
        return None
    mean = np.mean([c["w1"][:n] for c in cells], axis=0)
    x = np.mean([c[xkey][:n] for c in cells], axis=0)
    hit = np.flatnonzero(mean <= level)
    return float(x[hit[0]]) if hit.size else None


def summary(cells, floors, path):
    """``path`` (CSV): per target, mode and run, the final exact W1 mean ± std over the seeds,
    beside the noise floor, with the budget it used."""
    groups = {}
    for c in cells:
        groups.setdefault((c["target"], c["mode"], label(c)), []).append(c)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["target", "mode", "run", "seeds", "final W1 mean", "final W1 std", "noise floor",
                    "critic updates", "generator steps", "wall s"])
        for (t, m, lab), cs in sorted(groups.items()):
            mean, std = final_stats(cs)
            w.writerow([t, m, lab, " ".join(str(c["seed"]) for c in cs), f"{mean:.4f}", f"{std:.4f}",
                        f"{floors[t]:.4f}", cs[0]["critic_steps"][-1] if cs[0]["critic_steps"] else "",
                        cs[0]["generator_steps"][-1] if cs[0]["generator_steps"] else "",
                        f"{np.mean([c['seconds'] for c in cs]):.1f}"])


def figures(cells, floors, out, dt=None):
    """W1 against critic updates, generator steps and wall-clock (mean ± std over the seeds), per
    target and mode, one line per K and baseline; and scatter grids of generated samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    targets = list(dict.fromkeys(c["target"] for c in cells))
    modes = list(dict.fromkeys(c["mode"] for c in cells))
    dts = sorted({c["dt"] for c in cells if c["method"] == "w1fe"})
    dt = dts[0] if dt is None and dts else dt
    for xkey, xlabel in (("critic_steps", "critic updates (exact mode: LPs)"), ("generator_steps", "generator steps"),
                         ("wall", "wall-clock s")):
        fig, axes = plt.subplots(len(modes), len(targets), figsize=(4.2 * len(targets), 3.4 * len(modes)),
                                 squeeze=False, layout="constrained")
        for i, mode in enumerate(modes):
            for j, target in enumerate(targets):
                ax = axes[i, j]
                sel = [c for c in cells if c["target"] == target and c["mode"] == mode
                       and (c["method"] != "w1fe" or c["dt"] == dt)]
                groups = {}
                for c in sel:
                    groups.setdefault(label(c), []).append(c)
                for lab, cs in groups.items():
                    n = min(len(c["w1"]) for c in cs)
                    if n == 0:
                        continue
                    x = np.mean([c[xkey][:n] for c in cs], axis=0)
                    y = np.array([c["w1"][:n] for c in cs])
                    ls = "-" if cs[0]["method"] == "w1fe" else "--"
                    (line,) = ax.semilogy(x, y.mean(0), ls, label=lab, lw=1.3)
                    ax.fill_between(x, np.maximum(y.mean(0) - y.std(0), 1e-3), y.mean(0) + y.std(0),
                                    color=line.get_color(), alpha=0.15)
                ax.axhline(floors[target], color="0.4", ls=":", lw=1)
                ax.set_title(f"{target} ({mode})", fontsize=10)
                ax.set_xlabel(xlabel)
                ax.grid(True, which="both", alpha=0.3)
            axes[i, 0].set_ylabel("exact W1 (2,000 samples)")
        axes[0, -1].legend(fontsize=7)
        fig.savefig(out / f"w1_vs_{xkey}.png", dpi=100)
        plt.close(fig)
    # scatter grid: the final samples of seed 0, per target and run (W1-FE at dt, baselines)
    for mode in modes:
        sel = [c for c in cells if c["mode"] == mode and c["seed"] == cells[0]["seed"]
               and (c["method"] != "w1fe" or c["dt"] == dt)]
        labs = list(dict.fromkeys(label(c) for c in sel))
        fig, axes = plt.subplots(len(targets), len(labs), figsize=(2.2 * len(labs), 2.2 * len(targets)),
                                 squeeze=False, layout="constrained")
        for i, target in enumerate(targets):
            data = TARGETS[target](1000, seed=0)
            for j, lab in enumerate(labs):
                ax = axes[i, j]
                ax.scatter(data[:, 0], data[:, 1], s=1, c="0.8")
                cs = [c for c in sel if c["target"] == target and label(c) == lab]
                if cs:
                    s = np.asarray(cs[0]["samples"])
                    ax.scatter(s[:, 0], s[:, 1], s=1, c="tab:blue")
                    ax.set_title(f"{lab}\nW1 {cs[0]['final_w1']:.3f}", fontsize=7)
                ax.set_xticks([])
                ax.set_yticks([])
        fig.savefig(out / f"samples_{mode}.png", dpi=90)
        plt.close(fig)
