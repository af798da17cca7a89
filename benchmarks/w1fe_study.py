"""The persistence study of W1-FE at the recipe (docs/generative.md, "Persistence, measured").

Report seeds 10-14 (never used to choose anything) on the four shipped 2-D targets and four
targets of the seeded random Gaussian-mixture family (:func:`w1flow.datasets.random_mixture`,
family seeds 100-103, fixed before the recipe was chosen and never used to choose it). Every
run uses ``train``'s defaults (the recipe, :mod:`w1flow.generative.recipe`) and changes only
what it studies:

* W1-FE with the neural critic for K in {1, 2, 4, 8, 16, 32};
* WGAN-GP: one WGAN generator step per outer step, the recipe's critic, schedule and EMA, at its
  own learning rate tuned on seeds 0-2 (``benchmarks/w1fe_recipe.py``);
* the naive baselines at the recipe's K, at WGAN-GP's learning rate (they take WGAN steps): K
  steps on the same batch, or each on a fresh batch, the critic frozen;
* the exact reference: W1-FE at the recipe's K with the exact LP on the batch instead of the
  critic (the same generator, optimiser, schedule, EMA and outer steps).

Every run has the same number of outer steps and 20 evaluations of the exact W1 (2,000 generated
vs 2,000 held-out points). The report gives, per target, with bootstrap 95 % intervals over the
seeds (2,000 resamples): the final W1; the critic evaluations (critic updates plus gradient
batches), generator steps and seconds each method needs to reach 2x and 1.5x the exact
reference's final W1; the ratio of WGAN-GP's critic evaluations to W1-FE's (the recipe's K) to
reach WGAN-GP's final W1; whether each curve flattened (a line fitted to its last 20 % of
evaluations moves W1 by < 5 %). Run::

    python benchmarks/w1fe_study.py --workers 2          # the whole study (resumable store)
    python benchmarks/w1fe_study.py --quick --workers 2  # 8 Gaussians and one random target, seed 10

Writes ``<out>/report.md`` (also printed), ``<out>/study.json`` (the numbers) and the figures
``curves.png`` and ``samples.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

try:
    import w1flow  # noqa: F401
except ImportError:  # a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from w1fe_recipe import run_configs  # noqa: E402

from w1flow.datasets import random_mixture, random_mixture_spec  # noqa: E402
from w1flow.generative.evaluation import noise_floor, w1_by_modes  # noqa: E402
from w1flow.generative.experiments import TARGETS  # noqa: E402
from w1flow.generative.recipe import RECIPE, WGAN_GP_LR  # noqa: E402

SHIPPED = tuple(TARGETS)
FAMILY = (100, 101, 102, 103)
SEEDS = (10, 11, 12, 13, 14)
KS = (1, 2, 4, 8, 16, 32)
#: Outer steps of every run of the study: the recipe's budget (n_iter) times this factor, so that
#: the slow methods (K = 1, the baselines) flatten too.
BUDGET_FACTOR = 1
EVALUATIONS = 20


def target_name(t):
    return t if isinstance(t, str) else f"random mixture {t}"


def data_table(t):
    base = {"n": 20000, "held_out": 2000}
    return {"target": t, **base} if isinstance(t, str) else {"dataset": "random_mixture", "family_seed": t, **base}


def sampler(t):
    return TARGETS[t] if isinstance(t, str) else (lambda n, seed=None: random_mixture(n, t, seed=seed))


def config(t, seed, method, n_iter, exact=False, lr=None):
    r = RECIPE
    potential = {"kind": "exact"} if exact else {"kind": "critic", **{k: list(v) if isinstance(v, tuple) else v
                                                                     for k, v in r["critic"].items()}}
    return {"generator": {"hidden": list(r["hidden"])}, "data": data_table(t), "potential": potential,
            "method": method,
            "optimizer": {"lr": r["lr"] if lr is None else lr, "betas": list(r["betas"]), "schedule": r["schedule"],
                          "final_lr_ratio": r["final_lr_ratio"], "ema": r["ema"]},
            "batches": {"size": r["batch_size"]}, "evaluation": {"every": max(1, n_iter // EVALUATIONS),
                                                                  "samples": 2000},
            "train": {"n_iter": n_iter, "seed": seed}}


def methods(ks=KS, naive=True):
    """(name, method table, exact, lr) of every run of a target and seed (``naive=False``: without
    the two naive baselines)."""
    K = RECIPE["K"]
    out = [(f"W1-FE K={k}", {"name": "w1fe", "K": k, "dt": RECIPE["dt"]}, False, None) for k in ks]
    out += [("WGAN-GP", {"name": "wgan"}, False, WGAN_GP_LR)]
    if naive:
        out += [(f"naive same K={K}", {"name": "naive_same", "K": K}, False, WGAN_GP_LR),
                (f"naive fresh K={K}", {"name": "naive_fresh", "K": K}, False, WGAN_GP_LR)]
    out += [("exact reference", {"name": "w1fe", "K": K, "dt": RECIPE["dt"]}, True, None)]
    return out


def curve(result, key):
    h = result.history
    ok = np.isfinite(h["w1"])
    return np.asarray(h[key], dtype=float)[ok]


def tail_change(w, tail=0.2):
    """The change of the seed-mean curve ``w`` (evenly spaced evaluations) over its last ``tail``,
    relative to its mean level there: a least-squares line through those evaluations (at least
    3), so one noisy evaluation does not decide. Negative: still falling."""
    k = max(3, int(round(tail * w.size)) + 1)
    t = np.arange(k, dtype=float)
    slope = np.polyfit(t, w[-k:], 1)[0]
    return float(slope * (k - 1) / np.mean(w[-k:]))


def flattened(w, tail=0.2, change=0.05):
    """Whether the curve ``w`` is flat: :func:`tail_change` at most ``change`` either way."""
    return bool(abs(tail_change(w, tail)) <= change)


def first_reach(w1, x, level):
    """x at the first evaluation with W1 <= level (inf if none)."""
    hit = np.flatnonzero(w1 <= level)
    return float(x[hit[0]]) if hit.size else np.inf


def bootstrap(values_fn, n_seeds, rng, B=2000):
    """The statistic on the seeds and its bootstrap 95 % percentile interval (seeds resampled)."""
    point = values_fn(np.arange(n_seeds))
    boots = np.array([values_fn(rng.integers(0, n_seeds, n_seeds)) for _ in range(B)])
    lo, hi = np.percentile(boots, [2.5, 97.5], method="nearest")  # no interpolation: "never" (inf) stays inf
    return float(point), float(lo), float(hi)


def fmt(p, lo, hi, prec=3):
    def one(v):
        return "never" if not np.isfinite(v) else f"{v:.0f}" if abs(v) >= 100 else f"{v:.{prec}g}"
    return "never" if not np.isfinite(p) else f"{one(p)} [{one(lo)}, {one(hi)}]"


def analyse(runs_by, targets, seeds, K):
    """The study's numbers per target (a JSON-able dict) and the report's lines."""
    rng = np.random.default_rng(0)
    out = {}
    for t in targets:
        name = target_name(t)
        rs = runs_by[name]
        fin = {m: np.array([curve(r, "w1")[-1] for r in rs[m]]) for m in rs}
        ref = fin["exact reference"].mean()
        floor = noise_floor(sampler(t))
        res = {"noise_floor": floor, "final": {}, "reach": {}, "flat": {}}
        for m in rs:
            res["final"][m] = bootstrap(lambda i, m=m: fin[m][i].mean(), len(seeds), rng)
            mean_curve = np.mean([curve(r, "w1") for r in rs[m]], axis=0)
            res["flat"][m] = flattened(mean_curve)
            res.setdefault("tail_change", {})[m] = tail_change(mean_curve)
            for factor in (2.0, 1.5):
                for key in ("critic_evaluations", "generator_steps", "wall_time"):
                    xs = [curve(r, key) for r in rs[m]]
                    ws = [curve(r, "w1") for r in rs[m]]

                    def stat(i, xs=xs, ws=ws, level=factor * ref):
                        return first_reach(np.mean([ws[j] for j in i], axis=0), np.mean([xs[j] for j in i], axis=0),
                                           level)
                    res["reach"][f"{m}|{factor}|{key}"] = bootstrap(stat, len(seeds), rng)
        # the paper's claim: critic evaluations of WGAN-GP / of W1-FE (the recipe's K) to reach
        # WGAN-GP's final W1, seeds resampled jointly
        gan, w1fe = rs["WGAN-GP"], rs[f"W1-FE K={K}"]

        def ratio(i):
            level = np.mean([curve(gan[j], "w1")[-1] for j in i])
            a = first_reach(np.mean([curve(gan[j], "w1") for j in i], axis=0),
                            np.mean([curve(gan[j], "critic_evaluations") for j in i], axis=0), level)
            b = first_reach(np.mean([curve(w1fe[j], "w1") for j in i], axis=0),
                            np.mean([curve(w1fe[j], "critic_evaluations") for j in i], axis=0), level)
            return a / b if np.isfinite(b) else 0.0
        res["claim_ratio"] = bootstrap(ratio, len(seeds), rng)
        if name in MODES:
            res["modes"] = {m: mode_parts(rs[m], name) for m in ("exact reference", f"W1-FE K={K}", "WGAN-GP")}
            res["modes"]["data vs data"] = mode_parts(None, name)
        res["connected"] = True if isinstance(t, str) and t in ("two moons", "swiss roll") else \
            (bool(random_mixture_spec(t)["connected"]) if not isinstance(t, str) else False)
        out[name] = res
    return out


#: The isotropic mixtures whose bridges the report measures: their mode centres and standard deviation.
MODES = {"8 Gaussians": (2.0 * np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)],
                                        axis=1), 0.05),
         "25 Gaussians": (np.stack(np.meshgrid(np.arange(-2.0, 3.0), np.arange(-2.0, 3.0)), -1).reshape(-1, 2), 0.05)}


def mode_parts(runs, name, n=5000):
    """On a mixture of well-separated isotropic modes: the exact W1 between n generated points (the
    runs' EMA samples) and n data points split by its optimal plan into bridges (generated points
    beyond 4σ of every mode), mass between modes and mass within modes
    (:func:`w1flow.generative.evaluation.w1_by_modes`), and the modes' widths (RMS spread / the
    data's); mean over the runs. ``runs=None``: two data samples (the floor at this n)."""
    centres, sd = MODES[name]
    data = sampler(name)(n, seed=np.random.default_rng(7))
    samples = ([sampler(name)(n, seed=np.random.default_rng(8))] if runs is None else
               [r.generator.sample(n, seed=np.random.default_rng(5)) for r in runs])
    parts = [w1_by_modes(x, data, centres, sd) for x in samples]
    return {k: float(np.mean([getattr(p, k) for p in parts])) for k in ("w1", "bridge", "between", "within",
                                                                         "bridge_mass")} | \
        {"width": float(np.mean([np.nanmean(p.spread) for p in parts]))}


def report(out, methods_, K, seeds, wall, n_iter, run_seconds, n_runs):
    """The report's lines. ``run_seconds``: the runs' own training times, summed (what the study
    costs on one core, whichever call ran them); ``wall``: this call's time."""
    lines = [f"# Persistence study (seeds {', '.join(map(str, seeds))}; {n_iter} outer steps per run; "
             f"{n_runs} runs, {run_seconds / 3600:.1f} h of training summed over the runs; "
             f"{wall / 60:.1f} min in this call)", "",
             "Final exact W1 (2,000 vs 2,000 points), seed mean and bootstrap 95 % interval. Not flat: a line "
             "fitted to the last 20 % of the seed-mean curve moves W1 by more than 5 % of its level "
             "(falling or rising).", "",
             "| target | noise floor | " + " | ".join(m for m, *_ in methods_) + " |",
             "|---" * (len(methods_) + 2) + "|"]
    for name, res in out.items():
        lines.append(f"| {name} | {res['noise_floor']:.3f} | "
                     + " | ".join(fmt(*res["final"][m]) + ("" if res["flat"][m] else
                                                           " (not flat: %s)" % ("falling" if res["tail_change"][m] < 0
                                                                                else "rising"))
                                  for m, *_ in methods_) + " |")
    lines += ["", "## Goals", "", "| target | connected | critic (K=%d) / exact | exact / noise floor |" % K,
              "|---|---|---|---|"]
    for name, res in out.items():
        c, e = res["final"][f"W1-FE K={K}"][0], res["final"]["exact reference"][0]
        lines.append(f"| {name} | {'yes' if res['connected'] else 'no'} | {c / e:.2f} | {e / res['noise_floor']:.1f} |")
    lines += ["", "## What the generator's plateau is made of (separated isotropic modes)", "",
              "The exact W1 between 5,000 generated points and 5,000 data points, split by its optimal plan "
              "(`w1flow.generative.evaluation.w1_by_modes`): mass carried off the bridges (generated points "
              "beyond 4σ of every mode), mass moved between modes, mass moved within modes; the modes' width is "
              "their RMS spread over the data's (1: right). Seed means.", "",
              "| target | run | W1 (5,000) | bridges | between modes | within modes | mass on bridges | mode width |",
              "|---|---|---|---|---|---|---|---|"]
    for name, res in out.items():
        for m, q in res.get("modes", {}).items():
            lines.append(f"| {name} | {m} | {q['w1']:.4f} | {q['bridge']:.4f} | {q['between']:.4f} | "
                         f"{q['within']:.4f} | {q['bridge_mass']:.3f} | {q['width']:.2f} |")
    for factor in (2.0, 1.5):
        lines += ["", f"## Critic evaluations to reach {factor:g}x the exact reference's final W1", "",
                  "| target | " + " | ".join(m for m, *_ in methods_ if m != "exact reference") + " |",
                  "|---" * len(methods_) + "|"]
        for name, res in out.items():
            lines.append(f"| {name} | " + " | ".join(fmt(*res["reach"][f"{m}|{factor}|critic_evaluations"])
                                                   for m, *_ in methods_ if m != "exact reference") + " |")
        lines += ["", f"Generator steps / seconds to reach {factor:g}x (W1-FE K={K}, WGAN-GP):", ""]
        for name, res in out.items():
            parts = []
            for m in (f"W1-FE K={K}", "WGAN-GP"):
                parts.append(f"{m}: " + fmt(*res["reach"][f"{m}|{factor}|generator_steps"]) + " steps, "
                             + fmt(*res["reach"][f"{m}|{factor}|wall_time"]) + " s")
            lines.append(f"- {name}: " + "; ".join(parts))
    lines += ["", f"## The paper's claim: WGAN-GP's critic evaluations / W1-FE's (K={K}) to reach WGAN-GP's final W1",
              "", "| target | ratio [95 % interval] | counts (lower end >= 2) |", "|---|---|---|"]
    wins = 0
    for name, res in out.items():
        p, lo, hi = res["claim_ratio"]
        wins += lo >= 2
        lines.append(f"| {name} | {p:.2f} [{lo:.2f}, {hi:.2f}] | {'yes' if lo >= 2 else 'no'} |")
    lines += ["", f"Targets where the claim holds decisively: **{wins}** (the goal: at least two).", ""]
    return lines


def figures(runs_by, targets, K, outdir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    names = [target_name(t) for t in targets]
    rows = 1 if len(names) == 1 else 2
    cols = -(-len(names) // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.5 * rows), squeeze=False, layout="constrained")
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), names):
        for m, rs in runs_by[name].items():
            x = np.mean([curve(r, "critic_evaluations") for r in rs], axis=0)
            w = np.array([curve(r, "w1") for r in rs])
            if m == "exact reference":  # no critic: its final level, as a line to compare against
                ax.axhline(w.mean(0)[-1], color="k", ls=":", lw=1.2, label="exact reference (final W1)")
                continue
            style = "-" if m.startswith("W1-FE") else "--"
            (line,) = ax.loglog(np.maximum(x, 1), w.mean(0), style, lw=1.2, label=m)
            ax.fill_between(np.maximum(x, 1), w.min(0), w.max(0), color=line.get_color(), alpha=0.1)
        ax.set_title(name, fontsize=9)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # decades only: the minor labels overlap
        ax.set_xlabel("critic evaluations (updates + gradient batches)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].set_ylabel("exact W1")
    axes[0, -1].legend(fontsize=6)
    fig.savefig(outdir / "curves.png", dpi=90)
    plt.close(fig)
    show = ["W1-FE K=1", f"W1-FE K={K}", "WGAN-GP", "exact reference"]
    fig, axes = plt.subplots(len(names), len(show), figsize=(2.1 * len(show), 2.1 * len(names)), squeeze=False,
                             layout="constrained")
    for i, (t, name) in enumerate(zip(targets, names)):
        data = sampler(t)(1000, seed=np.random.default_rng(0))
        for j, m in enumerate(show):
            ax = axes[i, j]
            ax.scatter(data[:, 0], data[:, 1], s=1, c="0.8")
            r = runs_by[name][m][0]
            s = r.generator.sample(1000, seed=np.random.default_rng(3))
            ax.scatter(s[:, 0], s[:, 1], s=1, c="tab:blue")
            ax.set_title(f"{m}\n{name}: W1 {curve(r, 'w1')[-1]:.3f}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.savefig(outdir / "samples.png", dpi=80)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description="The W1-FE persistence study at the recipe (report seeds 10-14).")
    p.add_argument("--out", default="w1fe-study", help="output folder (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--quick", action="store_true",
                   help="8 Gaussians and random mixture 100, seeds 10-11, K in {1, recipe K}, the recipe's budget / 3")
    p.add_argument("--targets", default=None, help="comma-separated subset: shipped names or family seeds")
    p.add_argument("--n-iter", type=int, default=None, help="outer steps per run (default: the study's budget)")
    p.add_argument("--K", default=None, help="comma-separated K of W1-FE (default: all; the recipe's K and 1 "
                   "are always run, the analysis needs them)")
    p.add_argument("--no-naive", action="store_true", help="leave out the two naive baselines")
    args = p.parse_args(argv)
    targets, seeds, ks = [*SHIPPED, *FAMILY], SEEDS, KS
    n_iter = BUDGET_FACTOR * RECIPE["n_iter"]
    if args.quick:
        targets, seeds, ks, n_iter = ["8 Gaussians", 100], SEEDS[:2], sorted({1, RECIPE["K"]}), RECIPE["n_iter"] // 3
    if args.n_iter:
        n_iter = args.n_iter
    if args.targets:
        targets = [int(x) if x.strip().isdigit() else x.strip() for x in args.targets.split(",")]
    K = RECIPE["K"]
    if args.K:
        ks = sorted({1, K, *(int(k) for k in args.K.split(","))})
    start = time.perf_counter()
    ms = methods(ks, naive=not args.no_naive)
    configs = [(target_name(t), m, config(t, s, meth, n_iter, exact, lr)) for t in targets for m, meth, exact, lr in ms
               for s in seeds]
    done = run_configs(Path(args.out) / "store", [c for *_, c in configs], args.workers)
    runs_by = {}
    for (name, m, _), (_, result, _) in zip(configs, done):
        runs_by.setdefault(name, {}).setdefault(m, []).append(result)
    wall = time.perf_counter() - start
    out = analyse(runs_by, targets, seeds, K)
    lines = report(out, ms, K, seeds, wall, n_iter, sum(sec for *_, sec in done), len(done))
    outdir = Path(args.out)
    (outdir / "report.md").write_text("\n".join(lines) + "\n")
    (outdir / "study.json").write_text(json.dumps(out, indent=1, default=float))
    figures(runs_by, targets, K, outdir)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
