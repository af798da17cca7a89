"""Propagation of chaos
====================

Propagation of chaos: the N-particle error next to the time-step error, for a McKean–Vlasov SDE.

The mean-field Ornstein–Uhlenbeck model with a time-dependent forcing

    dX = (−X + κ(E X − X) + sin 2t) dt + σ dW,    X_0 ~ N(m_0, v_0),

has a Gaussian law at every time: m' = −m + sin 2t and v' = −2(1 + κ) v + σ². Euler–Maruyama's
law is Gaussian too, with the same recursions discretised, so both errors are known exactly:

* the **particle error**: W1 between the N-particle empirical measure at T and the
  McKean–Vlasov law (w1flow.metrics.w1_to_normal, exact in 1-D), mean over R independent runs,
  falls like N^(−1/2);
* the **time error**: W1 between Euler–Maruyama's Gaussian law at step dt and the exact one,
  a floor that N cannot go below, O(dt).

Writes ``propagation_of_chaos.png`` (W1 against N at two step sizes, with both floors)::

    python examples/propagation_of_chaos.py [--n 10000] [--out .]

``--n`` is the largest ensemble (the smallest is 30).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.integrate import quad  # noqa: E402
from scipy.stats import norm  # noqa: E402

from w1flow import EulerMaruyama, McKeanVlasovSDE, SaveAt, simulate  # noqa: E402
from w1flow.metrics import w1_to_normal  # noqa: E402

KAPPA, SIGMA, T, M0, V0 = 0.5, 0.8, 1.0, 1.0, 0.25


def drift(x, w, t):
    return -x + KAPPA * (w @ x - x) + np.sin(2.0 * t)


def exact_law(t):
    """Mean and variance of the McKean–Vlasov law at t."""
    m = np.exp(-t) * M0 + (np.sin(2 * t) - 2 * np.cos(2 * t) + 2 * np.exp(-t)) / 5.0
    lam = 2 * (1 + KAPPA)
    v = V0 * np.exp(-lam * t) + SIGMA**2 / lam * (1 - np.exp(-lam * t))
    return m, v


def euler_maruyama_law(dt, t1):
    """Mean and variance of Euler–Maruyama's law (N → ∞) after t1/dt steps: the same linear
    recursions, discretised as the scheme does."""
    m, v = M0, V0
    for k in range(int(round(t1 / dt))):
        m = m + dt * (-m + np.sin(2.0 * k * dt))
        v = (1 - dt * (1 + KAPPA)) ** 2 * v + SIGMA**2 * dt
    return m, v


def w1_gaussians(m1, v1, m2, v2):
    """W1 between two normal laws on the line: ∫_0^1 |Q_1(u) − Q_2(u)| du."""
    s1, s2 = np.sqrt(v1), np.sqrt(v2)
    return quad(lambda u: abs(m1 - m2 + (s1 - s2) * norm.ppf(u)), 0.0, 1.0, limit=200)[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=10_000, help="largest number of particles")
    p.add_argument("--replicates", type=int, default=8)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ns = np.unique(np.geomspace(30, max(args.n, 60), 6).round().astype(int))
    m_T, v_T = exact_law(T)
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for dt, colour in ((2.0**-2, "tab:red"), (2.0**-7, "tab:blue")):
        floor = w1_gaussians(*euler_maruyama_law(dt, T), m_T, v_T)
        errs = []
        for n in ns:
            vals = []
            for r in range(args.replicates):
                x0 = np.random.default_rng(1000 + r).normal(M0, np.sqrt(V0), (n, 1))
                sde = McKeanVlasovSDE(drift, SIGMA, seed=r)
                res = simulate(sde, x0, T, dt, solver=EulerMaruyama(), saveat=SaveAt(every=10**9))
                vals.append(w1_to_normal(res.x_final, m_T, np.sqrt(v_T)))
            errs.append(np.mean(vals))
        slope = np.polyfit(np.log(ns), np.log(errs), 1)[0]
        ax.loglog(ns, errs, "o-", color=colour, label=f"dt = {dt:g}: mean W1 to the law (slope {slope:.2f})")
        ax.axhline(floor, color=colour, ls="--", lw=1, label=f"dt = {dt:g}: time error of Euler–Maruyama ({floor:.2g})")
        print(f"dt = {dt:g}: time error {floor:.3g}; W1 at N = {ns[0]}..{ns[-1]}: "
              + ", ".join(f"{e:.3g}" for e in errs) + f"; fitted slope {slope:.2f}")
    ref = errs[0] * np.sqrt(ns[0] / ns)
    ax.loglog(ns, ref, "k:", lw=1, label="N^(-1/2)")
    ax.set(xlabel="N (particles)", ylabel=f"W1(μ^N_T, law of X_T), T = {T:g}",
           title="propagation of chaos: particle error vs time error")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.savefig(out / "propagation_of_chaos.png", dpi=110)


if __name__ == "__main__":
    main()
