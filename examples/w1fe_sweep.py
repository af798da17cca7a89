"""The W1-FE persistency sweep
===========================

The 0.1 protocol of the W1-FE persistency sweep: one command, figures, tables and a report. It
is kept to reproduce 0.1's tables (two-sided critic, no parameter average); the current study, at
train's defaults (the recipe), is ``benchmarks/w1fe_study.py`` (docs/generative.md).

Run from a source checkout (or after ``pip install .``)::

    python examples/w1fe_sweep.py --workers 2      # the whole protocol (about an hour on 2 cores)
    python examples/w1fe_sweep.py --quick          # one target, one seed, three K (about two minutes)

The protocol (every default is ours, not the paper's):

1. **Selection, seeds 0-2.** On each target (8 Gaussians, 25 Gaussians, two moons, swiss roll):
   W1-FE for K in {1, 2, 4, 8, 16, 32} and dt in {0.1, 0.5}, with the neural critic (budget:
   3,000 critic updates, 500 of them a warm-up, then 5 per outer step) and with the exact LP on
   the batch (300 outer steps). WGAN-GP, tuned over a stated grid at the same critic budget:
   learning rate in {1e-4, 3e-4, 1e-3} x generator steps per critic phase in {1, 2, 4} (fresh
   batches). Naive persistence on the same batch (K = 4) in both modes, and the WGAN and naive
   baselines with the exact potential. A deliberately poor critic (one update per outer step)
   on 8 Gaussians for K in {1, 8, 32}.
2. **Report, fresh seeds 3-5.** The best W1-FE (K, dt) and the best WGAN-GP configuration of
   each target (lowest mean final W1 on seeds 0-2) run again on seeds 3-5; the report compares
   them at the fixed budget and says how many critic updates, generator steps and seconds the
   W1-FE curve needs to reach WGAN-GP's final W1 (mean + std over the seeds).

Every run is a generator config (:func:`job`) run by the sweep runner into the store
``<out>/store`` (``w1flow.sweep``: one record per run, a re-run skips the runs already there;
``--workers`` processes, one thread each). Writes ``summary.csv``, ``report.md`` (also printed),
the figures ``w1_vs_critic_steps.png``, ``w1_vs_generator_steps.png``, ``w1_vs_wall.png`` (mean
+- std over seeds 0-2) and ``samples_<mode>.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import w1flow  # noqa: F401
except ImportError:  # a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from w1flow.generative import TrainResult  # noqa: E402
from w1flow.generative.evaluation import noise_floor  # noqa: E402
from w1flow.generative.experiments import (TARGETS, cell_of, figures, final_stats, first_reach, label,  # noqa: E402
                                           summary)
from w1flow.sweep import run_each  # noqa: E402

#: The protocol's settings (ours, not the paper's): a 2-64-64-2 ReLU generator, a (48, 48) tanh critic
#: with the two-sided gradient penalty (WGAN-GP, lambda = 10) and 5 updates per outer step after a
#: 500-update warm-up, Adam (lr 1e-3, betas (0.5, 0.9)), batches of 256, 2,000-point W1 evaluations.
#: The same as examples/configs/generative/k_study_{critic,exact}.toml.
DEFAULTS = dict(n_data=20_000, eval_samples=2000, batch_size=256, hidden=(64, 64), critic_hidden=(48, 48),
                n_critic=5, n_warmup=500, lr=1e-3, betas=(0.5, 0.9), critic_updates=3000, exact_steps=300,
                eval_every=None, penalty="two-sided")
_TABLES = ("generator", "data", "potential", "method", "optimizer", "batches", "evaluation", "train")


def job(target, method, K, dt, seed, mode="critic", **overrides):
    """One run as a generator config (``w1flow.generative.config``); ``overrides`` change :data:`DEFAULTS`.

    The number of outer steps is set by the budget: ``critic_updates`` (critic mode: the warm-up
    plus ``n_critic`` per outer step) or ``exact_steps`` (exact mode: one LP per outer step).
    """
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown run option(s) {sorted(unknown)}; the options are {sorted(DEFAULTS)}.")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {list(TARGETS)}, got {target!r}.")
    c = dict(DEFAULTS, **overrides)
    n_iter = c["exact_steps"] if mode == "exact" else max(1, (c["critic_updates"] - c["n_warmup"]) // c["n_critic"] + 1)
    rule = {"name": method, **({"K": int(K), "dt": float(dt)} if method == "w1fe" else {} if method == "wgan"
                               else {"K": int(K)})}
    potential = {"kind": "exact"} if mode == "exact" else {
        "kind": "critic", "hidden": list(c["critic_hidden"]), "n_critic": c["n_critic"], "n_warmup": c["n_warmup"],
        "penalty": c["penalty"]}
    return {"generator": {"hidden": list(c["hidden"])},
            "data": {"target": target, "n": c["n_data"], "held_out": c["eval_samples"]},
            "potential": potential, "method": rule, "optimizer": {"lr": c["lr"], "betas": list(c["betas"]), "ema": 0.0},
            "batches": {"size": c["batch_size"]},
            "evaluation": {"every": c["eval_every"] or max(1, n_iter // 6), "samples": c["eval_samples"]},
            "train": {"n_iter": n_iter, "seed": int(seed)}, "overrides": dict(sorted(overrides.items()))}


def run_jobs(store, jobs, workers=1, progress=True):
    """Run the jobs through the sweep runner (one store; finished runs are not run again) and
    return their records (:func:`~w1flow.generative.experiments.cell_of`) in order."""
    out = []
    for j, c in zip(jobs, run_each([{t: j[t] for t in _TABLES} for j in jobs], store, workers=workers,
                                   progress=progress)):
        path = Path(store) / "cells" / f"{c.fingerprint}.npz"
        seconds = TrainResult.read_metadata(path)["metadata"]["sweep"]["cell_seconds"]
        out.append(dict(cell_of(TrainResult.load(path), c.config, seconds), overrides=j["overrides"]))
    return out


KS = (1, 2, 4, 8, 16, 32)
DTS = (0.1, 0.5)
GAN_LRS = (1e-4, 3e-4, 1e-3)
GAN_STEPS = (1, 2, 4)
POOR = dict(n_critic=1, n_warmup=100, critic_updates=600)  # one critic update per outer step, same outer steps


def _gan_job(t, steps, lr, seed):
    method = "wgan" if steps == 1 else "naive_fresh"
    return job(t, method, steps, 0.0, seed, "critic", lr=lr)


def selection_jobs(targets, seeds, Ks=KS, dts=DTS, lrs=GAN_LRS, steps=GAN_STEPS, poor=True):
    jobs = [job(t, "w1fe", K, dt, s, m) for t in targets for m in ("critic", "exact") for K in Ks for dt in dts
            for s in seeds]
    jobs += [_gan_job(t, k, lr, s) for t in targets for lr in lrs for k in steps for s in seeds]
    jobs += [job(t, "naive_same", 4, 0.0, s, m) for t in targets for m in ("critic", "exact") for s in seeds]
    jobs += [job(t, meth, K, 0.0, s, "exact") for t in targets for meth, K in (("wgan", 1), ("naive_fresh", 4))
             for s in seeds]
    if poor and "8 Gaussians" in targets:
        jobs += [job("8 Gaussians", "w1fe", K, dts[0], s, "critic", **POOR) for K in (1, 8, 32) for s in seeds]
    return jobs


def _best(cells, pick):
    groups = {}
    for c in cells:
        if pick(c):
            groups.setdefault(label(c), []).append(c)
    return min(groups.values(), key=lambda cs: final_stats(cs)[0])


def _fmt(cs):
    mean, std = final_stats(cs)
    return f"{mean:.3f} ± {std:.3f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--out", default="w1fe-sweep", help="output folder (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="processes (one per core)")
    p.add_argument("--quick", action="store_true", help="8 Gaussians, seed 0 (report seed 1), K in 1,8,32")
    args = p.parse_args(argv)
    targets, seeds, fresh = list(TARGETS), (0, 1, 2), (3, 4, 5)
    sel_kw = {}
    if args.quick:
        targets, seeds, fresh = ["8 Gaussians"], (0,), (1,)
        sel_kw = dict(Ks=(1, 8, 32), dts=(0.1,), lrs=(1e-3,), steps=(1,), poor=False)
    start = time.perf_counter()
    store = Path(args.out) / "store"
    cells = run_jobs(store, selection_jobs(targets, seeds, **sel_kw), workers=args.workers)

    # -- selection on seeds 0-2, report on fresh seeds ----------------------------------------
    chosen = {}
    for t in targets:
        mine = [c for c in cells if c["target"] == t and not c["overrides"]]
        w1fe = {m: _best(mine, lambda c, m=m: c["method"] == "w1fe" and c["mode"] == m) for m in ("critic", "exact")}
        gan = _best([c for c in cells if c["target"] == t and c["mode"] == "critic"],
                    lambda c: c["method"] in ("wgan", "naive_fresh") and "lr" in c["overrides"])
        chosen[t] = dict(w1fe=w1fe, gan=gan)
    report_jobs = []
    for t, ch in chosen.items():
        for m, cs in ch["w1fe"].items():
            report_jobs += [job(t, "w1fe", cs[0]["K"], cs[0]["dt"], s, m) for s in fresh]
        g = ch["gan"][0]
        report_jobs += [job(t, g["method"], g["K"], 0.0, s, "critic", **g["overrides"]) for s in fresh]
        report_jobs += [job(t, "wgan", 1, 0.0, s, "exact") for s in fresh]
    fresh_cells = run_jobs(store, report_jobs, workers=args.workers)
    wall = time.perf_counter() - start

    floors = {t: noise_floor(t) for t in targets}
    summary(cells + fresh_cells, floors, Path(args.out) / "summary.csv")
    lines = [f"# W1-FE sweep ({len(cells) + len(fresh_cells)} runs, {wall / 60:.1f} min with {args.workers} "
             f"worker(s) in this call)", "",
             f"Budget: {DEFAULTS['critic_updates']} critic updates (critic mode, {DEFAULTS['n_warmup']} of them a "
             f"warm-up, then {DEFAULTS['n_critic']} per outer step) or {DEFAULTS['exact_steps']} exact LPs (exact "
             f"mode). Final exact W1 (LP, {DEFAULTS['eval_samples']} generated vs {DEFAULTS['eval_samples']} "
             "held-out points), mean ± std over the seeds.", "",
             "## Selection (seeds " + ",".join(map(str, seeds)) + ")", ""]
    for m in ("critic", "exact"):
        lines += [f"### {m} mode", "", "| target | noise floor | " + " | ".join(f"K={K}" for K in sel_kw.get("Ks", KS))
                  + " | baselines |", "|---" * (len(sel_kw.get("Ks", KS)) + 3) + "|"]
        for t in targets:
            for dt in sel_kw.get("dts", DTS):
                row = [f"{t}, dt={dt:g}", f"{floors[t]:.3f}"]
                for K in sel_kw.get("Ks", KS):
                    cs = [c for c in cells if c["target"] == t and c["mode"] == m and c["method"] == "w1fe"
                          and c["K"] == K and c["dt"] == dt and not c["overrides"]]
                    row.append(_fmt(cs) if cs else "")
                base = {}
                for c in cells:
                    if c["target"] == t and c["mode"] == m and c["method"] != "w1fe":
                        base.setdefault(label(c), []).append(c)
                row.append("; ".join(f"{k}: {_fmt(v)}" for k, v in sorted(base.items())) if dt == sel_kw.get(
                    "dts", DTS)[0] else "")
                lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    poor = [c for c in cells if c["overrides"].get("n_critic") == 1]
    if poor:
        lines += ["### A deliberately poor critic (1 update per outer step, 8 Gaussians, critic mode)", ""]
        for K in (1, 8, 32):
            cs = [c for c in poor if c["K"] == K]
            good = [c for c in cells if c["target"] == "8 Gaussians" and c["mode"] == "critic" and c["K"] == K
                    and c["method"] == "w1fe" and c["dt"] == poor[0]["dt"] and not c["overrides"]]
            lines.append(f"- K={K}: poor critic {_fmt(cs)}; the default critic {_fmt(good)}")
        lines.append("")
    lines += ["## Report (fresh seeds " + ",".join(map(str, fresh)) + ")", "",
              "| target | W1-FE best (critic) | tuned WGAN-GP | W1-FE reaches WGAN-GP's W1 (mean + std) at: critic "
              "updates / generator steps / seconds (WGAN-GP's) | W1-FE best (exact) | WGAN (exact) |",
              "|---|---|---|---|---|---|"]
    for t in targets:
        fc = [c for c in fresh_cells if c["target"] == t]
        w = chosen[t]["w1fe"]["critic"][0]
        g = chosen[t]["gan"][0]
        we = chosen[t]["w1fe"]["exact"][0]
        mine = [c for c in fc if c["mode"] == "critic" and c["method"] == "w1fe"]
        theirs = [c for c in fc if c["mode"] == "critic" and c["method"] == g["method"] and c["K"] == g["K"]
                  and c["overrides"] == g["overrides"]]
        ex = [c for c in fc if c["mode"] == "exact" and c["method"] == "w1fe"]
        exg = [c for c in fc if c["mode"] == "exact" and c["method"] == "wgan"]
        level = sum(final_stats(theirs))
        reach = []
        for key in ("critic_steps", "generator_steps", "wall"):
            r = first_reach(mine, level, key)
            full = first_reach(theirs, level, key)
            reach.append(f"{r:.0f} ({full:.0f})" if r is not None and full is not None else
                         (f"{r:.0f} (-)" if r is not None else "never"))
        lines.append(f"| {t} | K={w['K']} dt={w['dt']:g}: {_fmt(mine)} | {label(g)}: {_fmt(theirs)} | "
                     f"{' / '.join(reach)} | K={we['K']} dt={we['dt']:g}: {_fmt(ex)} | {_fmt(exg)} |")
    report = "\n".join(lines) + "\n"
    (Path(args.out) / "report.md").write_text(report)
    print(report)

    # figures: seeds of the selection, W1-FE at the dt chosen most often, and the baselines
    dts = [ch["w1fe"]["critic"][0]["dt"] for ch in chosen.values()]
    dt_fig = max(set(dts), key=dts.count)
    tuned = {(t, label(ch["gan"][0])) for t, ch in chosen.items()}
    fig_cells = [c for c in cells if not c["overrides"] or (c["target"], label(c)) in tuned]
    fig_cells = [c for c in fig_cells if c["method"] != "w1fe" or c["dt"] == dt_fig]
    figures(fig_cells, floors, args.out, dt=dt_fig)
    print(f"wrote {args.out}/report.md, summary.csv and the figures in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

# sphinx_gallery_thumbnail_path = 'figures/w1fe_w1_vs_critic_steps.png'

# %%
# Figures of the full run
# -----------------------
#
# The docs build does not run this protocol (about an hour on two cores). These are the figures
# of the full run reported in ``docs/generative.md``, kept in ``docs/figures/``: W1 to held-out
# data against critic updates, generator steps and wall time (mean ± std over seeds 0-2).
#
# .. image:: /figures/w1fe_w1_vs_critic_steps.png
#    :alt: W1 against critic updates
#
# .. image:: /figures/w1fe_w1_vs_generator_steps.png
#    :alt: W1 against generator steps
#
# .. image:: /figures/w1fe_w1_vs_wall.png
#    :alt: W1 against wall time
