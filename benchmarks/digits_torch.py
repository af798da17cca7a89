"""W1-FE with persistency K on 8×8 digits with torch networks: a K sweep against a plain WGAN-GP loop.

Run::

    python benchmarks/digits_torch.py [--out digits_torch_out] [--jobs 2] [--quick]
    python benchmarks/digits_torch.py --throughput [--rounds 5]

The grid is ``benchmarks/digits_grid.toml``, a generator config with a ``[sweep]`` table run by the
sweep runner (``w1flow sweep benchmarks/digits_grid.toml`` runs the same cells); this script
narrows it (``--steps``, ``--every``, ``--K``, ``--seeds``, ``--tasks``, ``--quick``), runs it
into ``OUT/store`` and scores and summarises the records.

Two tasks on scikit-learn's digits (offline; d = 64; 500 images held out, the rest for training):

* ``generate``: unconditional generation, a DCGAN-style generator (latent 16 → (32, 2, 2) →
  transposed convolutions → 8×8) against a DCGAN-style critic;
* ``translate``: thickened digits (``datasets.transform_digits(x, "thicken")``) mapped back to
  the original style by a residual convolutional generator that starts as the identity. The
  source images are the thickened first half of the training split, the targets the second
  half (unpaired); the evaluation translates the thickened held-out images.

Each cell (task × method × seed) trains for ``--steps`` outer steps; ``w1fe`` cells run
``train(..., W1FE(K=K), backend="torch")`` with ``TorchCriticPotential(architecture="dcgan")``
(K = 1 is WGAN-GP's generator step, arXiv:2405.16351 Proposition 4.1), and ``wgan_gp`` cells the
plain torch loop ``wgan_gp_reference`` (textbook: fresh batches for every critic update) with the same networks,
seeds and learning rates. Every ``--every`` steps it records the exact W1 (an LP) between 500
generated images and the 500 held-out ones, next to the critic evaluations (one forward-and-
backward pass of the critic on one batch: its updates, plus one per W1-FE step whatever K, or
one per WGAN generator update) and the wall-clock. At the end a digits classifier scores the
samples (label entropy, Fréchet distance of its features; for translation the accuracy of the
translated images against the source labels).

Each cell is a record of the sweep store ``OUT/store`` (a ``TrainResult``, written atomically);
a re-run skips the finished ones, so an interrupted grid continues where it stopped.
``OUT/summary.md`` and ``OUT/digits_torch.png`` (W1 against critic evaluations and against
wall-clock, mean and range over seeds) are rebuilt from the store at the end of every run.

``--throughput`` times, in interleaved rounds in one process (medians), generator updates per
second at batch 256, float32, one torch thread: ``train(method="wgan")`` with the torch critic
against the plain loop doing exactly the same work (one batch pair per outer step; the test suite
checks the two compute the same generator), and against the textbook loop.

Measured on CPU torch only (no GPU was available to this project): the times say nothing about
a GPU. Every setting here is ours, not the paper's (its protocol is not published).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

GRID = Path(__file__).resolve().parent / "digits_grid.toml"

#: The settings of every cell (ours; see the module docstring), as benchmarks/digits_grid.toml states them.
SETTINGS = dict(batch_size=128, n_critic=5, warmup=100, critic_lr=5e-4, lr=5e-4, dt=0.05, critic_channels=(16, 32),
                gen_channels=(32, 16), translator_channels=(16, 16), latent_dim=16, eval_samples=500)


def _data(task):
    from w1flow.datasets import digits, transform_digits

    x_train, y_train = digits("train")
    x_held, y_held = digits("held_out")
    if task == "generate":
        return dict(data=x_train, held_out=x_held, held_labels=y_held, latent=None, eval_latent=None)
    half = x_train.shape[0] // 2
    return dict(data=x_train[half:], held_out=x_held, held_labels=y_held,
                latent=transform_digits(x_train[:half], "thicken"), eval_latent=transform_digits(x_held, "thicken"))


def _generator(task, seed):
    from w1flow.generative import TorchGenerator

    s = SETTINGS
    if task == "generate":
        return TorchGenerator("dcgan", s["latent_dim"], 64, channels=s["gen_channels"], seed=seed)
    return TorchGenerator("residual", 64, 64, channels=s["translator_channels"], seed=seed)


def grid(steps=None, every=None, Ks=None, seeds=None, tasks=None, path=GRID):
    """The sweep config of ``path`` (``digits_grid.toml`` or ``digits_recipe.toml``), narrowed: outer
    steps, evaluation period, the K of W1-FE, the number of seeds and the tasks (None: the file's)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as fh:
        cfg = tomllib.load(fh)
    sw = cfg["sweep"]
    if steps is not None:
        cfg["train"]["n_iter"] = steps
    if every is not None:
        cfg["evaluation"]["every"] = every
    if tasks is not None:
        sw["data.digits, generator"] = [v for v in sw["data.digits, generator"] if v[0] in tasks]
    if Ks is not None and "method, potential" in sw:
        sw["method, potential"] = [v for v in sw["method, potential"] if v[0]["name"] != "w1fe" or v[0]["K"] in Ks]
    elif Ks is not None and "method.K" in sw:
        sw["method.K"] = [k for k in sw["method.K"] if k in Ks]
    if seeds is not None:
        sw["train.seed"] = list(range(seeds))
    return cfg


def record(path, config, scorer, seconds):
    """A finished cell's record (a JSON-able dict): its history, and the classifier's scores of
    its samples (500 generated images, or the translated held-out ones)."""
    from w1flow.generative import TrainResult

    res = TrainResult.load(path)
    task, seed, name = config["data"]["digits"], config["train"]["seed"], config["method"]["name"]
    d = _data(task)
    gen = res.generator
    if d["eval_latent"] is not None:
        samples = gen(d["eval_latent"])
    else:
        samples = gen.sample(SETTINGS["eval_samples"], seed=np.random.default_rng([seed, 2]))
    h = res.history
    ok = np.isfinite(h["w1"])
    rec = dict(task=task, method="w1fe" if name == "w1fe" else "wgan_gp", K=config["method"].get("K", 1), seed=seed,
               steps=res.n_iter, status=res.status, settings=SETTINGS,
               iteration=h["iteration"][ok].tolist(), w1=h["w1"][ok].tolist(),
               critic_evaluations=h["critic_evaluations"][ok].tolist(), wall_time=h["wall_time"][ok].tolist(),
               generator_steps=h["generator_steps"][ok].tolist(), seconds=seconds,
               label_entropy=scorer.label_entropy(samples)[0], frechet=scorer.frechet(samples, d["held_out"]))
    if task == "translate":
        rec["accuracy"] = scorer.accuracy(samples, d["held_labels"])
        rec["source"] = d["eval_latent"]
        rec["target"] = d["held_out"]
    rec["samples"] = samples  # not JSON: for the sample grids only
    return rec


def baselines():
    """Reference levels: W1 between 500 real training and the 500 held-out images (the noise floor of
    generation), and the identity translation (thickened held-out against held-out) with its accuracy."""
    from w1flow import metrics
    from w1flow.datasets import digits, transform_digits
    from w1flow.generative.digits import DigitsScorer

    x_train, _ = digits("train")
    x_held, y_held = digits("held_out")
    thick = transform_digits(x_held, "thicken")
    sc = DigitsScorer()
    return dict(generate=dict(w1=metrics.w1(x_train[:500], x_held), frechet=sc.frechet(x_train[:500], x_held)),
                translate=dict(w1=metrics.w1(thick, x_held), accuracy=sc.accuracy(thick, y_held),
                               frechet=sc.frechet(thick, x_held)))


def load(store, cells):
    """The records of the cells of a sweep (``report.cells``) from its store."""
    from w1flow.generative import TrainResult
    from w1flow.generative.digits import DigitsScorer

    scorer, out = DigitsScorer(), []
    for cell in cells:
        path = Path(store) / "cells" / f"{cell.fingerprint}.npz"
        if path.exists():
            seconds = TrainResult.read_metadata(path)["metadata"]["sweep"]["cell_seconds"]
            out.append(record(path, cell.config, scorer, seconds))
    return out


def _label(c):
    return "plain WGAN-GP" if c["method"] == "wgan_gp" else (f"K = {c['K']}" + (" (the WGAN step)" if c["K"] == 1 else ""))


def first_reach(c, level):
    """Critic evaluations and seconds at the first evaluation with W1 ≤ level (None if never)."""
    for w, e, t in zip(c["w1"], c["critic_evaluations"], c["wall_time"]):
        if w <= level:
            return e, t
    return None


def tail_change(w, tail=0.2):
    """Relative change of a W1 curve over its last ``tail`` of evaluations: a least-squares line through
    them (at least 3), its rise across that stretch over their mean (negative: still falling)."""
    w = np.asarray(w, dtype=float)
    k = max(3, int(round(tail * w.size)) + 1)
    slope = np.polyfit(np.arange(k, dtype=float), w[-k:], 1)[0]
    return float(slope * (k - 1) / np.mean(w[-k:]))


def _reference(cs):
    """The level the others are timed against: the plain WGAN-GP loop's mean final W1, or (a grid
    without it) W1-FE K = 1's at the same settings, with its name."""
    ref = [c for c in cs if c["method"] == "wgan_gp"]
    if ref:
        return float(np.mean([c["w1"][-1] for c in ref])), "WGAN-GP"
    ref = [c for c in cs if c["method"] == "w1fe" and c["K"] == 1]
    if ref:
        return float(np.mean([c["w1"][-1] for c in ref])), "K = 1"
    return None, None


def summary(cells, base, config=None):
    """The summary (markdown) of the records ``cells``; ``config`` (the grid) names its settings."""
    settings = SETTINGS if config is None else {k: config[k] for k in ("potential", "method", "optimizer", "batches",
                                                                         "train", "sweep") if k in config}
    lines = ["# W1-FE on digits with torch networks (CPU)", "",
             "Generated by `benchmarks/digits_torch.py`; settings: " + json.dumps(settings), ""]
    for task in ("generate", "translate"):
        cs = [c for c in cells if c["task"] == task and c["status"] == "success"]
        if not cs:
            continue
        b = base[task]
        lines += [f"## {task}", "",
                  f"Reference: W1 {b['w1']:.3f}" + (" (500 real vs held-out)" if task == "generate" else
                                                    f" (identity translation; accuracy {b['accuracy']:.3f})"), ""]
        level, ref_name = _reference(cs)
        head = "| method | seeds | final W1 (mean ± sd) | Fréchet | label entropy |" + (" accuracy |" if task == "translate" else "")
        head += (f" critic evals to reach {ref_name or 'the reference'}'s final W1 (median over seeds; reached/seeds) |"
                 " change over the last 20 % (fitted line; worst seed) | s per cell |")
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        groups = {}
        for c in cs:
            groups.setdefault((c["method"], c["K"]), []).append(c)
        reach_med = {}
        budget = max(c["critic_evaluations"][-1] for c in cs)
        for key in sorted(groups, key=lambda k: (k[0] != "w1fe", k[1])):
            g = groups[key]
            f = [c["w1"][-1] for c in g]
            row = (f"| {_label(g[0])} | {len(g)} | {np.mean(f):.3f} ± {np.std(f):.3f} | "
                   f"{np.mean([c['frechet'] for c in g]):.2f} | {np.mean([c['label_entropy'] for c in g]):.3f} |")
            if task == "translate":
                row += f" {np.mean([c['accuracy'] for c in g]):.3f} |"
            if level is not None:
                # a seed that never reaches the level counts as "more than its budget" (censored):
                # the median is finite when at least half of the seeds reach it
                hits = [first_reach(c, level) for c in g]
                ev = sorted(h[0] if h is not None else np.inf for h in hits)
                med = float(np.median(ev)) if np.isfinite(ev[(len(ev) - 1) // 2]) and np.isfinite(ev[len(ev) // 2]) \
                    else np.inf
                reach_med[key] = med
                n_hit = sum(h is not None for h in hits)
                row += (f" {med:.0f}" if np.isfinite(med) else f" > {budget}") + f" ({n_hit}/{len(g)}) |"
            else:
                row += " — |"
            ch = [tail_change(c["w1"]) for c in g]
            row += f" {ch[int(np.argmax(np.abs(ch)))]:+.1%} |"
            row += f" {np.mean([c['seconds'] for c in g]):.0f} |"
            lines.append(row)
        if level is not None:
            lines += ["", f"{ref_name}'s final W1 (mean over its seeds): {level:.3f}; budget {budget} critic evaluations."]
            k1 = reach_med.get(("w1fe", 1))
            best = {k: v for k, v in reach_med.items() if k[0] == "w1fe" and k[1] > 1 and np.isfinite(v)}
            if k1 is not None and best:
                kb = min(best, key=best.get)
                if np.isfinite(k1):
                    lines.append(f"Best K = {kb[1]} reaches it in {best[kb]:.0f} critic evaluations (median) against "
                                 f"{k1:.0f} for K = 1: **{k1 / best[kb]:.2f}×** fewer.")
                else:
                    lines.append(f"Best K = {kb[1]} reaches it in {best[kb]:.0f} critic evaluations (median); K = 1 "
                                 f"does not within the budget on most seeds: **≥ {budget / best[kb]:.2f}×** fewer "
                                 "(a lower bound).")
            else:
                lines.append("No K > 1 reaches it on most seeds.")
        lines.append("")
    return "\n".join(lines)


def figure(cells, base, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    tasks = [t for t in ("generate", "translate") if any(c["task"] == t for c in cells)]
    fig = Figure(figsize=(11, 4 * len(tasks)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(tasks), 2))
    for row, task in zip(axes, tasks):
        groups = {}
        for c in cells:
            if c["task"] == task and c["status"] == "success":
                groups.setdefault((c["method"], c["K"]), []).append(c)
        for key in sorted(groups, key=lambda k: (k[0] != "w1fe", k[1])):
            g = groups[key]
            n = min(len(c["w1"]) for c in g)
            w = np.array([c["w1"][:n] for c in g])
            style = dict(ls="--", color="k") if key[0] == "wgan_gp" else {}
            for ax, xkey in zip(row, ("critic_evaluations", "wall_time")):
                x = np.mean([c[xkey][:n] for c in g], axis=0)
                (line,) = ax.plot(x, w.mean(axis=0), label=f"{_label(g[0])} ({len(g)} seeds)", **style)
                ax.fill_between(x, w.min(axis=0), w.max(axis=0), color=line.get_color(), alpha=0.15)
        for ax, xl in zip(row, ("critic evaluations", "wall-clock s (CPU, 1 thread)")):
            ax.axhline(base[task]["w1"], color="gray", lw=1, ls=":",
                       label="500 real vs held-out" if task == "generate" else "identity translation")
            ax.set(xlabel=xl, ylabel="exact W1 to 500 held-out digits", title=task)
            ax.legend(fontsize=7)
    fig.savefig(path, dpi=100)


def samples_figure(cells, path, seed=0, n=32):
    """Sample grids of one seed: per task, ``n`` generated images per method (the averaged
    parameters when the run kept them); for translation, the thickened held-out sources, each
    method's translation of them, and the original held-out images they were thickened from."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    def tile(imgs, cols=16):
        imgs = np.clip(np.asarray(imgs)[:n].reshape(-1, 8, 8), 0.0, None)
        rows = -(-len(imgs) // cols)
        out = np.full((rows * 9 - 1, cols * 9 - 1), np.nan)
        for k, im in enumerate(imgs):
            r, c = divmod(k, cols)
            out[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = im
        return out

    panels = []
    for task in ("generate", "translate"):
        g = {(c["method"], c["K"]): c for c in cells if c["task"] == task and c["seed"] == seed and c["status"] == "success"}
        if not g:
            continue
        keys = sorted(g, key=lambda k: (k[0] != "w1fe", k[1]))
        if task == "translate":
            panels.append((f"{task}: thickened held-out sources", g[keys[0]]["source"]))
        for k in keys:
            panels.append((f"{task}: {_label(g[k])} (final W1 {g[k]['w1'][-1]:.3f})", g[k]["samples"]))
        if task == "translate":
            panels.append((f"{task}: the original held-out images (not seen in training)", g[keys[0]]["target"]))
    fig = Figure(figsize=(8, 1.25 * len(panels) + 0.3), layout="constrained")
    for ax, (title, imgs) in zip(np.atleast_1d(fig.subplots(len(panels), 1)), panels):
        ax.imshow(tile(imgs), cmap="gray_r", interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    fig.savefig(path, dpi=110)


def throughput(rounds, steps=40):
    """Generator updates per second, interleaved rounds, medians."""
    import torch

    torch.set_num_threads(1)
    from w1flow.generative import WGAN, Adam, GPCritic, TorchBackend, train, wgan_gp_reference
    from w1flow.potentials.torch_critic import TorchCriticPotential

    s = SETTINGS
    d = _data("generate")
    B = 256

    def ours():
        gen = _generator("generate", 0)
        crit = TorchCriticPotential(architecture="dcgan", channels=s["critic_channels"], n_critic=s["n_critic"],
                                    warmup=s["n_critic"], lr=s["critic_lr"], dtype="float32", num_threads=1,
                                    batch_penalty=B)
        return train(gen, d["data"], crit, WGAN(), n_iter=steps, batches=B, optimizer=Adam(lr=s["lr"], ema=0.0),
                     backend=TorchBackend(device="cpu", dtype="float32")).wall_time

    def plain(fresh):
        gen = _generator("generate", 0)
        critic = GPCritic(channels=s["critic_channels"], n_critic=s["n_critic"], optimizer=Adam(lr=s["critic_lr"], ema=0.0),
                          fresh_batches=fresh)
        return wgan_gp_reference(gen, d["data"], critic, n_iter=steps, batches=B, optimizer=Adam(lr=s["lr"], ema=0.0),
                                 backend=TorchBackend(dtype="float32"), num_threads=1).wall_time

    runs = {"train(WGAN()) + TorchCriticPotential": ours, "plain loop, same work": lambda: plain(False),
            "plain loop, textbook (fresh batches)": lambda: plain(True)}
    times = {k: [] for k in runs}
    for r in range(rounds):
        for k, f in runs.items():
            times[k].append(f() / steps)
    base = times["plain loop, same work"]
    print(f"generator updates per second, batch {B}, n_critic {s['n_critic']}, float32, 1 torch thread, "
          f"{rounds} interleaved rounds of {steps} updates (median; the ratio is the median of the per-round "
          "ratios, with its range):")
    print("| loop | updates/s | time per update / plain loop (same work), median [min, max] |")
    print("|---|---|---|")
    for k, v in times.items():
        r = [a / b for a, b in zip(v, base)]
        print(f"| {k} | {1 / statistics.median(v):.2f} | {statistics.median(r):.3f} [{min(r):.3f}, {max(r):.3f}] |")
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="digits_torch_out")
    p.add_argument("--steps", type=int, default=None, help="outer steps (default: the grid's)")
    p.add_argument("--every", type=int, default=None, help="evaluation period (default: the grid's)")
    p.add_argument("--grid", type=Path, default=GRID, help="the sweep config (default benchmarks/digits_grid.toml; "
                   "benchmarks/digits_recipe.toml: the generator recipe's ideas, K 8 and 1)")
    p.add_argument("--K", type=int, nargs="+", default=None, help="narrow the grid's K (default: all of them)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tasks", nargs="+", default=["generate", "translate"], choices=["generate", "translate"])
    p.add_argument("--jobs", type=int, default=2, help="cells trained at once (one torch thread each)")
    p.add_argument("--quick", action="store_true", help="60 steps, K 1 and 4, one seed: a smoke run")
    p.add_argument("--throughput", action="store_true")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    if args.throughput:
        throughput(args.rounds)
        return
    if args.quick:
        args.steps, args.every, args.K, args.seeds = 60, 20, [1, 4] if args.grid == GRID else [1, 8], 1
    out = Path(args.out)
    from w1flow.sweep import run_sweep

    config = grid(args.steps, args.every, args.K, args.seeds, args.tasks, args.grid)
    report = run_sweep(config, store=out / "store", workers=args.jobs, progress=True, summary=False)
    print(f"{len(report.cells)} cells: ran {report.ran}, {report.skipped} already in {out / 'store'}"
          + (f", {len(report.failed)} raised (tracebacks in {out / 'store' / 'cells'})" if report.failed else ""))
    cells = load(out / "store", report.cells)
    base = baselines()
    text = summary(cells, base, config)
    (out / "summary.md").write_text(text)
    figure(cells, base, out / "digits_torch.png")
    samples_figure(cells, out / "digits_samples.png")
    print(text)


if __name__ == "__main__":
    main()
