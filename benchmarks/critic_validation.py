"""Validation numbers of the Numba neural critic at n = m = 500.

Run:  python benchmarks/critic_validation.py

Prints, for the penalised (``lipschitz="gp"``) and hard (``lipschitz="hard"``) critics:

1. blob N((3,0), 0.25 I) vs 8 Gaussians (std 0.05, radius 2): exact W1, dual, Lipschitz
   estimate/certificate, dual/Lipschitz as a fraction of exact W1 (goal >= 0.95), median cosine
   between −∇φ and the exact plan velocity (goal >= 0.9), and a Lipschitz report;
2. d = 10 translation N(2e1, I) vs N(0, I): dual on 20000 fresh held-out samples (goal 2 ± 5 %);
3. overlapping clouds N((0.5,0), 0.25 I) vs N(0, 0.25 I): the same numbers as (1);
4. a flow driven by the critic on 8 Gaussians: reduction of the exact W1 (goal >= 90 %);
5. critic-driven Euler flows against exact-potential Euler flows on four targets
   (8 Gaussians, 25 Gaussians, two moons, swiss roll), n = 500, x0 ~ N((3, 0), 0.25 I),
   dt = 0.05, T = 2 W1(0), 3 seeds: final exact W1 (LP), the largest relative rise of W1 between
   times one unit apart, wall time and critic steps, as a markdown table, and one figure of W1
   against time (``--figure``); then the default critic on a target and a start no tuning run
   used (a ring, from N((-2, 2), 0.25 I)).

Run one part with ``--only clouds|flows|held-out``. ``tests/test_critic.py`` asserts the same
thresholds at smaller n.
"""

from __future__ import annotations

import sys
import time
import warnings

from pathlib import Path

import numpy as np

try:
    import w1flow
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import w1flow
from w1flow.datasets import eight_gaussians, gaussian_blob, ring, swiss_roll, twenty_five_gaussians, two_moons
from w1flow.potentials.critic import CriticPotential, critic_lipschitz_estimate
from w1flow.potentials.exact import ExactPotential

N = 500
VARIANTS = {
    "gp": dict(lipschitz="gp", seed=0),
    "gp50": dict(lipschitz="gp", gp_lambda=50.0, seed=0),
    "hard": dict(lipschitz="hard", lr=3e-3, seed=0),
}


def cosines(V, E):
    return np.sum(V * E, 1) / np.linalg.norm(V, axis=1) / np.linalg.norm(E, axis=1)


def two_clouds(title, x, y):
    print(f"\n== {title} (n = m = {x.shape[0]}) ==")
    exact = ExactPotential()(x, None, y, None)
    print(f"exact W1 = {exact.w1:.4f}")
    for name, kw in VARIANTS.items():
        t0 = time.perf_counter()
        oracle = CriticPotential(**kw)
        pot = oracle(x, None, y, None)
        el = time.perf_counter() - t0
        cos = cosines(pot.velocity, exact.velocity)
        print(f"[{name:5s}] dual = {pot.w1:.4f}  Lipschitz = {pot.lipschitz:.4f}  "
              f"dual/Lip = {pot.w1_normalized:.4f} = {pot.w1_normalized / exact.w1:.4f} x exact  "
              f"median cos = {np.median(cos):.4f}  (10% quantile {np.quantile(cos, 0.1):.3f})  "
              f"certified Lip = {pot.certified_lipschitz():.6g}  train {el:.2f}s "
              f"({oracle.counters['critic_updates']} updates)")
        rep = critic_lipschitz_estimate(pot, np.concatenate([x, y]), n_pairs=5000, seed=0)
        print("        Lipschitz report: " + ", ".join(f"{k} {v:.4f}" for k, v in rep.items()))
        print(f"        exact Lipschitz on the supports (all pairs) = {pot.support_lipschitz:.4f}  "
              f"certified lower bound dual/L_supp = {pot.w1_lower_bound:.4f} = "
              f"{pot.w1_lower_bound / exact.w1:.4f} x exact")


def translation(d=10, n=N):
    print(f"\n== translation N(2 e1, I) vs N(0, I) in d = {d} (n = m = {n}; population W1 = 2) ==")
    rng = np.random.default_rng(5)
    shift = np.zeros(d)
    shift[0] = 2.0
    x, y = rng.standard_normal((n, d)) + shift, rng.standard_normal((n, d))
    xh, yh = rng.standard_normal((20000, d)) + shift, rng.standard_normal((20000, d))
    print(f"exact W1 of the training samples = {w1flow.metrics.w1(x, y):.4f}")
    for name, kw in VARIANTS.items():
        pot = CriticPotential(**kw)(x, None, y, None)
        held = pot(xh).mean() - pot(yh).mean()
        print(f"[{name:5s}] train dual = {pot.w1:.4f}  held-out dual = {held:.4f} "
              f"({100 * (held - 2) / 2:+.2f} %)  Lipschitz = {pot.lipschitz:.4f}  "
              f"held-out/Lip = {held / pot.lipschitz:.4f}")


def flow(n=N):
    print(f"\n== critic-driven flow: blob -> 8 Gaussians (n = m = {n}, Euler dt = 0.1, t1 = 8) ==")
    x = gaussian_blob(n, center=(3, 0), std=0.5, seed=1)
    y = eight_gaussians(n, seed=2)
    for name, kw in [("hard", dict(VARIANTS["hard"], n_critic=20)), ("gp", dict(VARIANTS["gp"], n_critic=20))]:
        oracle = CriticPotential(**kw)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = w1flow.simulate(w1flow.W1Flow(y), x, 8.0, 0.1, potential=oracle, saveat=w1flow.SaveAt(every=10),
                                  on_unhealthy="warn")
        el = time.perf_counter() - t0
        print(f"[{name:5s}] status {res.status}; exact W1 at t = {np.array2string(res.ts, precision=1)}: "
              f"{np.array2string(res.w1, precision=3)}")
        print(f"        reduction {100 * (1 - res.w1[-1] / res.w1[0]):.1f} %  ({el:.1f} s, "
              f"{oracle.counters['critic_updates']} updates; health: {len(res.health)} flags"
              + (f", first: {res.health[0]}" if res.health else "") + ")")


# --------------------------------------------------------------------------------------------
# critic-driven Euler flows against exact-potential Euler flows
# --------------------------------------------------------------------------------------------
FLOW_TARGETS = {
    "8 Gaussians": lambda n, s: eight_gaussians(n, seed=s),
    "25 Gaussians": lambda n, s: twenty_five_gaussians(n, seed=s),
    "two moons": lambda n, s: two_moons(n, seed=s),
    "swiss roll": lambda n, s: swiss_roll(n, seed=s),
}
#: Held out: used by no tuning run (a ring of radius 1.5, particles starting from N((-2, 2), 0.25 I)).
HELD_OUT = {"ring (held out)": lambda n, s: ring(n, seed=s)}

FLOW_VARIANTS = {
    "default": {},  # CriticPotential's defaults, whatever they are
    "0.1 defaults": dict(hidden=(64, 64), lipschitz="gp", penalty="two-sided", n_critic=10, n_warmup=1000,
                         velocity="gradient"),
}


def critic_flow(target, seed, oracle, n=N, dt=0.05, start=(3.0, 0.0)):
    """One flow from N(start, 0.25 I) to the target up to T = 2 W1(0): W1 at every time unit.

    The W1 history is computed after the run from snapshots (exact LPs, not counted in the
    wall time). Returns a dict of the numbers the tables report.
    """
    rng = np.random.default_rng(1000 + seed)
    x0 = gaussian_blob(n, center=start, std=0.5, seed=rng)
    y = (FLOW_TARGETS | HELD_OUT)[target](n, 2000 + seed)
    w0 = w1flow.metrics.w1(x0, y)
    T = 2 * w0
    ts = np.r_[np.arange(1.0, T, 1.0), T]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = w1flow.simulate(w1flow.W1Flow(y, potential=oracle), x0, T, dt,
                              saveat=w1flow.SaveAt(ts=ts, w1=None), on_unhealthy="warn")
    wall = time.perf_counter() - t0
    w1s = np.array([w1flow.metrics.w1(x, y) for x in res.xs])
    rise = np.diff(w1s)
    rise_rel = np.where(rise > dt, rise / w1s[:-1], 0.0)  # changes below dt are ignored
    return dict(target=target, seed=seed, w1_0=w0, ts=res.ts, w1=w1s, final=float(w1s[-1]), wall=wall,
                steps=int(oracle.counters.get("critic_updates", 0)), max_rise=float(rise_rel.max(initial=0.0)),
                status=res.status)


def flows(variants=None, seeds=(0, 1, 2), targets=None, out=None, start=(3.0, 0.0)):
    """The flows table: every target × seed × variant, next to the exact Euler flow; one figure."""
    variants = FLOW_VARIANTS if variants is None else variants
    targets = list(FLOW_TARGETS) if targets is None else targets
    print(f"\n== critic-driven Euler flows vs exact Euler flows (n = {N}, dt = 0.05, T = 2 W1(0), "
          f"start N({start}, 0.25 I)) ==")
    print("| target | seed | variant | W1(0) | final W1 | goal (<= 0.1 and <= 3x exact + 0.05) | max rise/unit | "
          "wall s | critic steps |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for target in targets:
        for seed in seeds:
            ex = critic_flow(target, seed, ExactPotential(), start=start)
            bound = min(0.1, 3 * ex["final"] + 0.05)
            print(f"| {target} | {seed} | exact Euler | {ex['w1_0']:.3f} | {ex['final']:.4f} | - | "
                  f"{ex['max_rise']:.2f} | {ex['wall']:.1f} | - |", flush=True)
            rows.append(dict(ex, variant="exact"))
            for name, kw in variants.items():
                r = critic_flow(target, seed, CriticPotential(**dict(kw, seed=seed)), start=start)
                ok = r["final"] <= bound and r["max_rise"] <= 0.10
                print(f"| {target} | {seed} | {name} | {r['w1_0']:.3f} | {r['final']:.4f} | "
                      f"{'yes' if ok else 'NO'} (<= {bound:.3f}) | {r['max_rise']:.2f} | {r['wall']:.1f} | "
                      f"{r['steps']} |", flush=True)
                rows.append(dict(r, variant=name))
    if out is not None:
        _flow_figure(rows, out)
    return rows


def _flow_figure(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(r["target"] for r in rows))
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.6), sharey=True,
                             layout="constrained", squeeze=False)
    colors = {}
    for ax, target in zip(axes[0], targets):
        for r in (r for r in rows if r["target"] == target):
            c = colors.setdefault(r["variant"], f"C{len(colors)}")
            ts = np.r_[0.0, r["ts"][1:]]
            ax.semilogy(ts, np.maximum(r["w1"], 1e-4), color=c, alpha=0.8, lw=1.2,
                        label=r["variant"] if r["seed"] == 0 else None)
        ax.axhline(0.1, color="0.5", ls=":", lw=1)
        ax.set_title(target)
        ax.set_xlabel("t")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].set_ylabel("exact W1 to the data")
    axes[0, -1].legend(fontsize=8)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(description="Validation numbers of the neural critic.")
    p.add_argument("--only", choices=["clouds", "flows", "held-out"], help="run one part")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--figure", default="critic_flows.png", help="figure of W1 against time (flows)")
    args = p.parse_args(argv)
    print(f"w1flow {w1flow.__version__}, python {sys.version.split()[0]}")
    seeds = tuple(int(s) for s in args.seeds.split(","))
    if args.only in (None, "clouds"):
        two_clouds("blob N((3,0), 0.25 I) vs 8 Gaussians",
                   gaussian_blob(N, center=(3, 0), std=0.5, seed=1), eight_gaussians(N, seed=2))
        translation()
        two_clouds("overlapping clouds N((0.5,0), 0.25 I) vs N((0,0), 0.25 I)",
                   gaussian_blob(N, center=(0.5, 0), std=0.5, seed=3),
                   gaussian_blob(N, center=(0, 0), std=0.5, seed=4))
        flow()
    if args.only in (None, "flows"):
        flows(seeds=seeds, out=args.figure)
    if args.only in (None, "held-out"):
        flows(variants={"default": {}}, seeds=seeds, targets=list(HELD_OUT), start=(-2.0, 2.0))


if __name__ == "__main__":
    main()
