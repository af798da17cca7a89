"""Why the neural critic draws the modes of 8 Gaussians too narrow: a diagnosis on the recipe's seeds.

Run:  python benchmarks/w1fe_mode_width.py [--variants "recipe;exact;dt 0.03"] [--store w1fe-width/store]

W1-FE at the recipe (K = 8, 3,000 outer steps) on 8 Gaussians, seeds 0-2 (the seeds the recipe
was chosen on; never the study's 10-14), with one setting changed per variant. Each run's exact
W1 against 5,000 data points is split by its optimal plan into bridges, between modes and
within modes (:func:`w1flow.generative.evaluation.w1_by_modes`), with the modes' width (RMS
spread over the data's). The recipe is not changed by what this prints (docs/generative.md,
"What limits the generator"). Runs are kept in the store (resumable).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import w1fe_study as study  # noqa: E402
from w1fe_recipe import run_configs  # noqa: E402

from w1flow.generative.recipe import RECIPE  # noqa: E402

TARGET = "8 Gaussians"
SEEDS = (0, 1, 2)
#: Variant name -> (exact potential?, changes to the run config)
VARIANTS = {
    "recipe": (False, {}),
    "exact": (True, {}),
    "dt 0.03": (False, {"method": {"dt": 0.03}}),
    "n_critic 30": (False, {"potential": {"n_critic": 30}}),
    "critic (128,128)": (False, {"potential": {"hidden": [128, 128]}}),
    "critic lr 3e-4": (False, {"potential": {"lr": 3e-4}}),
}


def config(name, seed):
    exact, changes = VARIANTS[name]
    c = study.config(TARGET, seed, {"name": "w1fe", "K": RECIPE["K"], "dt": RECIPE["dt"]}, RECIPE["n_iter"], exact)
    for table, values in changes.items():
        c[table].update(values)
    return c


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default=";".join(VARIANTS), help="';'-separated names of VARIANTS")
    p.add_argument("--store", default="w1fe-width/store")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    print("| variant | final W1 (2,000) | W1 (5,000) | bridges | between modes | within modes | mode width | s/run |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.variants.split(";"):
        done = run_configs(Path(args.store), [config(name, s) for s in SEEDS], args.workers, progress=False)
        q = study.mode_parts([r for _, r, _ in done], TARGET)  # the study's split: same samples and data
        print(f"| {name} | {np.mean([study.curve(r, 'w1')[-1] for _, r, _ in done]):.4f} | {q['w1']:.4f} | "
              f"{q['bridge']:.4f} | {q['between']:.4f} | {q['within']:.4f} | {q['width']:.2f} | "
              f"{np.mean([sec for *_, sec in done]):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
