"""Convergence study of the time steppers
======================================

Convergence study of the w1flow time steppers on every closed-form or reference oracle.

Writes one log-log figure (error at time T against dt) with the fitted slopes in the legend and
prints the slopes. Runs in well under two minutes on two cores::

    python examples/convergence_study.py --out convergence.png

Oracles:

1. W2 flow (W2-FE), Euler vs the closed form ``e^{-t}Y0 + (1 − e^{-t})T(Y0)`` (metric W2);
2. linear McKean–Vlasov ``dY = A(Y − E Y) + B(E Y − m)``, closed form by ``expm`` (max error);
3. entropic W1 potential flow (ε = 0.1, T = 1) vs an RK4 reference at dt_min/16, scored on the
   particles whose reference path stays >= 0.1 from every data point (and on all particles);
4. the field of a frozen random tanh critic (a smooth "neural" field), fine RK4 reference;
5. the exact 1-D W1 flow (quantile oracle), uncapped Euler vs the quantile closed form (W1);
6. the capped exact W1 flow (CappedEuler) vs its closed form: error at round-off;
7. Theorem 4.1 measured: W1 to the data at a T past every arrival, exact 2-D flow.
"""

from __future__ import annotations

import argparse
import time

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

try:  # run from a source checkout without installing
    import w1flow  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import w1flow as wf  # noqa: E402
from w1flow.convergence import (  # noqa: E402
    capped_flow_closed_form,
    clearance_mask,
    dt_ladder,
    fine_reference,
    linear_mean_field_closed_form,
    linear_mean_field_drift,
    order_study,
    tanh_critic_drift,
    w2_flow_closed_form,
)
from w1flow.potentials.entropic import EntropicPotential  # noqa: E402
from w1flow.potentials.exact import ExactPotential  # noqa: E402
from w1flow.potentials.quantile import QuantilePotential, quantile_flow  # noqa: E402
from w1flow.problems import MeanFieldODE, W2Flow  # noqa: E402
from w1flow.solvers import RK4, CappedEuler, Euler, Heun  # noqa: E402


def eight_gaussians(rng, n, radius=2.0, std=0.05):
    ang = 2 * np.pi * np.arange(8) / 8
    centers = radius * np.c_[np.cos(ang), np.sin(ang)]
    return centers[np.arange(n) % 8] + std * rng.standard_normal((n, 2))


def build_studies(seed, n):
    """A list of (label, thunk) pairs; each thunk runs one order study."""
    rng = np.random.default_rng(seed)
    studies = []

    # (1) W2 flow
    x_w2 = 0.5 * rng.standard_normal((n, 2)) + [3.0, 0.0]
    y_w2 = eight_gaussians(rng, n)
    w2 = W2Flow(y_w2)
    T0 = w2.target_map(x_w2, None)[0]
    studies.append(("(1) W2 flow, Euler [W2]", lambda: order_study(
        w2, x_w2, Euler(), 1.0, dt_ladder(0.1, 5), metric="w2",
        reference=lambda x, w, T: w2_flow_closed_form(x, T0, T))))

    # (2) linear McKean–Vlasov with weights
    d = 3
    A = rng.standard_normal((d, d))
    A /= np.linalg.norm(A, 2)
    B = rng.standard_normal((d, d))
    B /= np.linalg.norm(B, 2)
    m = rng.standard_normal(d)
    x_lin = rng.standard_normal((n, d))
    a_lin = rng.uniform(0.2, 1.0, n)
    a_lin /= a_lin.sum()
    lin = MeanFieldODE(linear_mean_field_drift(A, B, m), dim=d)
    exact_lin = lambda x, w, T: linear_mean_field_closed_form(A, B, m, x, w, T)  # noqa: E731
    for solver in (Euler(), Heun(), RK4()):
        studies.append((f"(2) linear McKean-Vlasov, {solver.name} [max]",
                        lambda s=solver: order_study(lin, x_lin, s, 1.0, dt_ladder(0.1, 5),
                                                     reference=exact_lin, metric="max",
                                                     weights=a_lin)))

    # (3) entropic W1 potential flow
    n_ent = 40
    x_ent = 0.5 * rng.standard_normal((n_ent, 2)) + [2.5, 0.0]
    ang = rng.uniform(0, 2 * np.pi, n_ent)
    y_ent = 1.5 * np.c_[np.cos(ang), np.sin(ang)]
    pot = EntropicPotential(0.1, tol=1e-12)
    ent = wf.W1Flow(y_ent)
    dts_ent = dt_ladder(0.25, 5)
    cache = {}

    def entropic(solver, clear_only):
        if "ref" not in cache:
            cache["ref"] = fine_reference(ent, x_ent, 1.0, dts_ent.min() / 16, potential=pot)
            cache["clear"] = clearance_mask(cache["ref"], y_ent, 0.1)
        return order_study(ent, x_ent, solver, 1.0, dts_ent, reference=cache["ref"], metric="max",
                           potential=pot, score=cache["clear"] if clear_only else None,
                           drop_coarsest=True)

    studies.append(("(3) entropic eps=0.1, Euler, clear of data [max]", lambda: entropic(Euler(), True)))
    studies.append(("(3) entropic eps=0.1, Heun, clear of data [max]", lambda: entropic(Heun(), True)))
    studies.append(("(3) entropic eps=0.1, Heun, all particles [max]", lambda: entropic(Heun(), False)))

    # (4) frozen tanh critic
    critic = MeanFieldODE(tanh_critic_drift(2, width=16, seed=seed + 1, scale=1.5), dim=2)
    x_cr = rng.standard_normal((n, 2))
    for solver in (Euler(), Heun(), RK4()):
        studies.append((f"(4) tanh critic field, {solver.name} [max]",
                        lambda s=solver: order_study(critic, x_cr, s, 1.0, dt_ladder(0.1, 5),
                                                     metric="max")))

    # (5) exact 1-D W1 flow, uncapped Euler vs the quantile closed form
    x_1d, y_1d = 2.0 + rng.standard_normal(n), 0.5 * rng.standard_normal(n)
    studies.append(("(5) exact 1-D W1 flow, Euler vs quantile form [W1]", lambda: order_study(
        wf.W1Flow(y_1d), x_1d, Euler(), 4.0, dt_ladder(0.2, 6), metric="w1",
        potential=QuantilePotential(),
        reference=lambda x, w, T: quantile_flow(x, w, y_1d, None, T)[:2])))

    # (6) capped exact W1 flow (2-D): round-off
    x_cap, y_cap = 0.5 * rng.standard_normal((n, 2)) + [3.0, 0.0], eight_gaussians(rng, n)
    studies.append(("(6) capped exact W1 flow, CappedEuler [W1]", lambda: order_study(
        wf.W1Flow(y_cap), x_cap, CappedEuler(), 2.0, dt_ladder(0.2, 6), metric="w1",
        reference=lambda x, w, T: capped_flow_closed_form(x, w, y_cap, None, T)[:2])))

    # (7) Theorem 4.1 measured: W1 to the data past every arrival (exact LP flow, 2-D)
    plan = ExactPotential()(x_cap, None, y_cap, None)
    t_hit = float(np.max(np.linalg.norm(x_cap - y_cap[plan.target_index], axis=1)))
    studies.append((f"(7) Thm 4.1: W1 to data at T={1 + t_hit:.1f}, Euler [W1]", lambda: order_study(
        wf.W1Flow(y_cap), x_cap, Euler(), 1.0 + t_hit, dt_ladder(0.2, 5), metric="w1",
        reference=lambda x, w, T: (y_cap, None))))
    return studies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--out", default="convergence_study.png", help="output figure (png, pdf, svg)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=100, help="particles per oracle (>= 8)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    studies = build_studies(args.seed, args.n)
    fig, ax = plt.subplots(figsize=(11, 7))
    markers = "osD^v<>ph*XP8"
    print(f"{'oracle':58s} {'slope':>7s}  {'fit range (dt)':>18s}  {'seconds':>7s}")
    for k, (label, run) in enumerate(tqdm(studies, desc="convergence study", unit="oracle")):
        res = run()
        res.label = label
        res.plot(ax=ax, marker=markers[k % len(markers)], reference_slopes=(),
                 color=plt.cm.tab20(k % 20))
        fr = "-" if res.fit_range is None else f"{res.fit_range[0]:.4f}-{res.fit_range[1]:.3f}"
        slope = "round-off" if res.at_roundoff else f"{res.slope:7.3f}"
        tqdm.write(f"{label:58s} {slope:>7s}  {fr:>18s}  {res.wall_time:7.2f}")
    for p, style in ((1, ":"), (2, "-."), (4, "--")):
        dts = np.array([0.003, 0.25])
        ax.loglog(dts, 0.5 * dts**p, style, color="0.6", lw=1, label=f"slope {p} (guide)")
    ax.set_title("w1flow: error at T against dt, fitted slopes in the legend")
    ax.set_ylabel("error at T (metric in brackets; exact zeros drawn at 1e-17)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(args.out, dpi=130)
    plt.close(fig)
    print(f"wrote {args.out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
