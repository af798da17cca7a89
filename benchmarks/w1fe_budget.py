"""What a longer budget buys on the mixtures of separated modes: the study's runs at 3x and 9x.

Run:  python benchmarks/w1fe_budget.py [--targets "8 Gaussians"] [--methods "exact reference"]
                                       [--budgets 3000,9000,27000] [--store w1fe-budget/store] [--workers 2]

The persistence study's own configs (``benchmarks/w1fe_study.py``: the recipe, seeds 10-14, 20
evaluations a run), only the number of outer steps changed, so nothing is chosen here: the runs
at the study's budgets are the study's runs (copy its store's ``cells/`` into ``--store`` to
reuse them). Per target, method and budget: the final exact W1 (2,000 vs 2,000 points, seed mean
and bootstrap 95 % interval), whether the curve is flat (its last 20 % moves W1 by under 5 %),
and the exact W1 between 5,000 generated and 5,000 data points split by its optimal plan into
bridges, between modes and within modes (:func:`w1flow.generative.evaluation.w1_by_modes`),
with the mass on bridges and the modes' width. Prints a markdown table; ``--figure`` draws the
split against the budget. Runs are kept in the store (resumable).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import w1fe_study as study  # noqa: E402
from w1fe_recipe import run_configs  # noqa: E402

def rows(target, method, budgets, store, workers):
    """One dict per budget: the runs' final W1 (2,000) with its interval, flatness and mode split."""
    by_name = {name: (meth, exact, lr) for name, meth, exact, lr in study.methods(study.KS)}
    if method not in by_name:
        raise ValueError(f"--methods: unknown method {method!r}; one of {', '.join(by_name)}.")
    meth, exact, lr = by_name[method]
    out = []
    for n_iter in budgets:
        configs = [study.config(target, s, meth, n_iter, exact, lr) for s in study.SEEDS]
        done = run_configs(Path(store), configs, workers, progress=True)
        runs = [r for _, r, _ in done]
        finals = np.array([study.curve(r, "w1")[-1] for r in runs])
        mean_curve = np.mean([study.curve(r, "w1") for r in runs], axis=0)
        point, lo, hi = study.bootstrap(lambda i: float(np.mean(finals[i])), len(runs), np.random.default_rng(0))
        out.append({"n_iter": n_iter, "final": (point, lo, hi), "tail_change": study.tail_change(mean_curve),
                    "seconds": float(np.mean([sec for *_, sec in done])), **study.mode_parts(runs, target)})
    return out


def table(results):
    lines = ["| target | method | outer steps | final W1 (2,000) | last 20 % | W1 (5,000) | bridges | between modes "
             "| within modes | mass on bridges | mode width | s/run |", "|---" * 12 + "|"]
    for (target, method), rs in results.items():
        for r in rs:
            lines.append(f"| {target} | {method} | {r['n_iter']} | {study.fmt(*r['final'])} | {100 * r['tail_change']:+.1f} % "
                         f"| {r['w1']:.4f} | {r['bridge']:.4f} | {r['between']:.4f} | {r['within']:.4f} "
                         f"| {r['bridge_mass']:.3f} | {r['width']:.2f} | {r['seconds']:.0f} |")
    return lines


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(t for t, _ in results))
    methods = list(dict.fromkeys(m for _, m in results))
    fig, axes = plt.subplots(len(targets), len(methods), figsize=(4.6 * len(methods), 3.4 * len(targets)),
                             squeeze=False)
    floors = {t: study.mode_parts(None, t)["w1"] for t in targets}  # one data-vs-data LP per target
    for (target, method), rs in results.items():
        ax = axes[targets.index(target)][methods.index(method)]
        steps = [r["n_iter"] for r in rs]
        for key, label, style in (("w1", "W1 (5,000 points)", "k-o"), ("bridge", "carried off bridges", "C3-s"),
                                  ("within", "within modes", "C0-^"), ("between", "between modes", "C2-v")):
            ax.plot(steps, [r[key] for r in rs], style, label=label)
        ax.axhline(floors[target], color="0.5", ls=":", label="data vs data")
        ax.set_xscale("log")
        ax.set_xticks(steps, [str(s) for s in steps])
        ax.minorticks_off()
        ax.set_xlabel("outer steps")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{target}, {method}", fontsize=10)
    for row in axes:
        row[0].set_ylabel("exact W1 and its parts")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", default="8 Gaussians", help="comma-separated: 8 Gaussians, 25 Gaussians")
    p.add_argument("--methods", default="exact reference", help="comma-separated names of the study's methods")
    p.add_argument("--budgets", default="3000,9000,27000", help="comma-separated outer steps per run")
    p.add_argument("--store", default="w1fe-budget/store")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--figure", default=None, help="write the figure to this path")
    args = p.parse_args(argv)
    budgets = [int(b) for b in args.budgets.split(",")]
    results = {}
    for target in [t.strip() for t in args.targets.split(",")]:
        if target not in study.MODES:
            raise SystemExit(f"--targets: {target!r} has no separated isotropic modes; one of {', '.join(study.MODES)}.")
        for method in [m.strip() for m in args.methods.split(",")]:
            results[target, method] = rows(target, method, budgets, args.store, args.workers)
    print("\n".join(table(results)))
    if args.figure:
        figure(results, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
