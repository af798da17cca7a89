"""Validation numbers of the Numba neural critic (issue B) at n = m = 500.

Run:  python paper_checks/critic_validation.py

Prints, for the penalised (``lipschitz="gp"``) and hard (``lipschitz="hard"``) critics:

1. blob N((3,0), 0.25 I) vs 8 Gaussians (std 0.05, radius 2): exact W1, dual, Lipschitz
   estimate/certificate, dual/Lipschitz as a fraction of exact W1 (goal >= 0.95), median cosine
   between −∇φ and the exact plan velocity (goal >= 0.9), and a Lipschitz report;
2. d = 10 translation N(2e1, I) vs N(0, I): dual on 20000 fresh held-out samples (goal 2 ± 5 %);
3. overlapping clouds N((0.5,0), 0.25 I) vs N(0, 0.25 I): the same numbers as (1);
4. a flow driven by the critic on 8 Gaussians: reduction of the exact W1 (goal >= 90 %).

``tests/test_critic.py`` asserts the same thresholds at smaller n.
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
from w1flow.datasets import eight_gaussians, gaussian_blob
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


def main():
    print(f"w1flow {w1flow.__version__}, python {sys.version.split()[0]}")
    two_clouds("blob N((3,0), 0.25 I) vs 8 Gaussians",
               gaussian_blob(N, center=(3, 0), std=0.5, seed=1), eight_gaussians(N, seed=2))
    translation()
    two_clouds("overlapping clouds N((0.5,0), 0.25 I) vs N((0,0), 0.25 I)",
               gaussian_blob(N, center=(0.5, 0), std=0.5, seed=3),
               gaussian_blob(N, center=(0, 0), std=0.5, seed=4))
    flow()


if __name__ == "__main__":
    main()
