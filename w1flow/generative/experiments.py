"""The W1-FE experiment: persistency K against WGAN-GP and naive persistence on 2-D targets.

:func:`sweep` trains one generator per cell of a grid (target × method × K × Δt × seed × mode,
mode = a neural critic or the exact LP on the batch), measures the exact W1 (an LP) between
2,000 generated and 2,000 held-out data points every ``eval_every`` outer steps, next to the
noise floor (W1 between two independent 2,000-samples of the data), and writes one JSON line per
cell to ``out/cells.jsonl`` (a re-run skips the cells already there), ``out/summary.csv`` and
the figures (:func:`figures`). Every default here is ours, not the paper's (its protocol is not
published, ``../shared/reference/w1fe-paper.md`` §7).

Budgets are in critic updates (critic mode) or outer steps (exact mode), so methods are compared
at equal critic work; the history also records generator steps and wall-clock.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from pathlib import Path

import numpy as np

from ..datasets import eight_gaussians, swiss_roll, twenty_five_gaussians, two_moons
from ..potentials import CriticPotential, ExactPotential
from .evaluation import noise_floor
from .generator import MLPGenerator
from .methods import W1FE, method_from_name
from .options import Adam, Batches, Evaluation
from .trainer import train

__all__ = ["TARGETS", "DEFAULTS", "job", "run_cell", "run_jobs", "load_cells", "sweep", "summary", "figures",
           "noise_floor", "label", "final_stats", "first_reach"]

TARGETS = {
    "8 Gaussians": eight_gaussians,
    "25 Gaussians": twenty_five_gaussians,
    "two moons": two_moons,
    "swiss roll": swiss_roll,
}

#: Ours, not the paper's: a 2-64-64-2 ReLU generator, a (48, 48) tanh critic with the two-sided
#: gradient penalty (WGAN-GP, λ = 10) and 5 updates per outer step after a 500-update warm-up,
#: Adam (lr 1e-4... see ``lr``), batches of 256, and 2,000-point W1 evaluations.
DEFAULTS = dict(n_data=20_000, eval_samples=2000, batch_size=256, hidden=(64, 64), critic_hidden=(48, 48),
                n_critic=5, n_warmup=500, lr=1e-3, betas=(0.5, 0.9), critic_updates=3000, exact_steps=300,
                eval_every=None, penalty="two-sided")


def _oracle(mode, seed, cfg):
    if mode == "exact":
        return ExactPotential()
    return CriticPotential(hidden=cfg["critic_hidden"], n_critic=cfg["n_critic"], n_warmup=cfg["n_warmup"],
                           penalty=cfg["penalty"], seed=seed)


def run_cell(target, method, K, dt, seed, mode="critic", **overrides):
    """Train one generator; returns a JSON-able dict with the configuration and the history.

    The number of outer steps is set by the budget: ``critic_updates`` (critic mode: the warm-up
    plus ``n_critic`` per outer step) or ``exact_steps`` (exact mode: one LP per outer step).
    """
    cfg = dict(DEFAULTS, **overrides)
    rng = np.random.default_rng([seed, 7])
    f = TARGETS[target]
    data, held = f(cfg["n_data"], seed=rng), f(cfg["eval_samples"], seed=rng)
    if mode == "exact":
        n_iter = cfg["exact_steps"]
    else:
        n_iter = max(1, (cfg["critic_updates"] - cfg["n_warmup"]) // cfg["n_critic"] + 1)
    eval_every = cfg["eval_every"] or max(1, n_iter // 6)
    gen = MLPGenerator(2, 2, hidden=cfg["hidden"], seed=seed)
    start = time.perf_counter()
    rule = W1FE(K=K, dt=dt) if method == "w1fe" else method_from_name(method, K=K)
    res = train(gen, data, _oracle(mode, seed, cfg), rule, n_iter=n_iter,
                batches=Batches(size=cfg["batch_size"], seed=seed), optimizer=Adam(lr=cfg["lr"], betas=cfg["betas"]),
                evaluation=Evaluation(held_out=held, every=eval_every, samples=cfg["eval_samples"]))
    h = res.history
    ok = np.isfinite(h["w1"])
    return dict(
        target=target, method=method, K=K, dt=dt, seed=seed, mode=mode, status=res.status, n_iter=res.n_iter,
        iteration=h["iteration"][ok].tolist(), w1=h["w1"][ok].tolist(),
        critic_steps=h["critic_steps"][ok].tolist(), generator_steps=h["generator_steps"][ok].tolist(),
        wall=h["wall_time"][ok].tolist(), critic_dual=float(h["critic_dual"][-1]) if h["critic_dual"].size else None,
        reach=float(np.nanmedian(h["displacement"] / h["target_displacement"])) if method == "w1fe" else None,
        final_w1=float(h["w1"][ok][-1]) if ok.any() else None, seconds=time.perf_counter() - start,
        samples=gen.sample(500, seed=np.random.default_rng([seed, 3])).round(4).tolist(),
        config={k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
    )


def job(target, method, K, dt, seed, mode="critic", **overrides):
    """One training run's specification (JSON-able); ``overrides`` change :data:`DEFAULTS`."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown run option(s) {sorted(unknown)}; the options are {sorted(DEFAULTS)}.")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {list(TARGETS)}, got {target!r}.")
    return dict(target=target, method=method, K=int(K), dt=float(dt), seed=int(seed), mode=mode,
                overrides=dict(sorted(overrides.items())))


def _key(spec):
    return json.dumps({k: spec[k] for k in ("target", "method", "K", "dt", "seed", "mode", "overrides")},
                      sort_keys=True)


def _run_job(spec):
    cell = run_cell(spec["target"], spec["method"], spec["K"], spec["dt"] or 0.1, spec["seed"], spec["mode"],
                    **spec["overrides"])
    cell.update(dt=spec["dt"], overrides=spec["overrides"])
    return cell


def load_cells(out):
    """Every run recorded in ``out/cells.jsonl``, by key."""
    store = Path(out) / "cells.jsonl"
    done = {}
    if store.exists():
        for line in store.read_text().splitlines():
            if line.strip():
                cell = json.loads(line)
                done[_key(cell)] = cell
    return done


def run_jobs(out, jobs, workers=1, progress=True):
    """Run the jobs not yet in ``out/cells.jsonl`` (appending each as it finishes); return the
    cells of ``jobs`` in order.

    ``workers > 1`` runs that many processes (spawned, so each has its own single-threaded
    Numba and BLAS when the caller set ``NUMBA_NUM_THREADS=1`` and ``OMP_NUM_THREADS=1``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = load_cells(out)
    todo = list({_key(j): j for j in jobs if _key(j) not in done}.values())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="W1-FE sweep", unit="run")

    def record(cell):
        done[_key(cell)] = cell
        with open(out / "cells.jsonl", "a") as fh:
            fh.write(json.dumps(cell) + "\n")
        if bar is not None:
            bar.update(1)

    try:
        if workers > 1 and len(todo) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                for fut in as_completed([pool.submit(_run_job, j) for j in todo]):
                    record(fut.result())
        else:
            for j in todo:
                record(_run_job(j))
    finally:
        if bar is not None:
            bar.close()
    return [done[_key(j)] for j in jobs]


def sweep(out, targets=None, Ks=(1, 2, 4, 8, 16, 32), dts=(0.1, 0.5), seeds=(0, 1, 2), modes=("critic", "exact"),
          baselines=(("wgan", 1), ("naive_same", 4), ("naive_fresh", 4)), workers=1, progress=True, **overrides):
    """W1-FE for every K and Δt, and each baseline ``(method, K)`` (its Δt is irrelevant, recorded
    as 0), per target, seed and mode; then the summary and the figures. Returns the cells."""
    targets = list(TARGETS) if targets is None else list(targets)
    jobs = [job(t, "w1fe", K, dt, s, m, **overrides) for t, K, dt, s, m in itertools.product(targets, Ks, dts, seeds, modes)]
    jobs += [job(t, meth, K, 0.0, s, m, **overrides)
             for t, (meth, K), s, m in itertools.product(targets, baselines, seeds, modes)]
    cells = run_jobs(out, jobs, workers=workers, progress=progress)
    floors = {t: noise_floor(t) for t in targets}
    summary(cells, floors, Path(out) / "summary.csv")
    figures(cells, floors, out, dt=list(dts)[0])
    return cells


def label(c):
    """A run's name: the method, K (and Δt for W1-FE), and the options changed from :data:`DEFAULTS`."""
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
