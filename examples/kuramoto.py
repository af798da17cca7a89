"""Kuramoto oscillators
====================

Kuramoto oscillators: a McKean–Vlasov model that is not a W1 flow.

dθ_i/dt = ω_i + K Σ_j w_j sin(θ_j − θ_i). Synchrony ``r(t) = |Σ_j w_j e^{iθ_j}|`` grows above a
critical coupling. The natural frequencies ω_i are per-particle parameters
(``MeanFieldODE(drift, params={"omega": ω})``): the drift receives each particle's own ω_i.
Writes ``kuramoto.png``: r(t) for several K, and the observed orders
of Euler, Heun and RK4 against scipy's DOP853 (rtol = atol = 1e-12)::

    python examples/kuramoto.py [--n 200] [--out .]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from w1flow import RK4, Euler, Heun, MeanFieldODE, simulate  # noqa: E402
from w1flow.interactions import KuramotoCoupling  # noqa: E402
from w1flow.metrics import w1_circle  # noqa: E402


def kuramoto(K, omega):
    """The Kuramoto problem with coupling K, its frequencies as per-particle parameters."""
    coupling = KuramotoCoupling(K)

    def drift(x, a, t, p):
        return p["omega"][:, None] + coupling(x, a, t)

    return MeanFieldODE(drift, params={"omega": omega}), coupling


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = args.n
    # Lorentzian frequencies (critical coupling K_c = 2·0.5 = 1), clipped to |ω| <= 4 so that the
    # order fits stay in the asymptotic range (|ω|·dt <= 0.2 at the largest dt)
    omega = np.clip(rng.standard_cauchy(n) * 0.5, -4.0, 4.0)
    th0 = rng.uniform(-np.pi, np.pi, (n, 1))
    w = np.full(n, 1.0 / n)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for K in (0.5, 1.0, 2.0, 4.0):
        problem, coupling = kuramoto(K, omega)
        res = simulate(problem, th0, 20.0, 0.05, solver=RK4())
        r = [abs(coupling.order_parameter(x[:, 0], w)) for x in res.xs]
        ax1.plot(res.ts, r, label=f"K = {K}")
        print(f"K = {K}: r(20) = {r[-1]:.3f}")
    ax1.set(xlabel="t", ylabel="order parameter r", title="synchrony above K_c = 1")
    ax1.legend(fontsize=8)
    # orders against DOP853 at K = 2, T = 2 (smooth, t-independent drift)
    problem, _ = kuramoto(2.0, omega)
    ref = solve_ivp(lambda t, y: problem.drift(y[:, None], w, t, {"omega": omega})[:, 0], (0.0, 2.0), th0[:, 0], method="DOP853",
                    rtol=1e-12, atol=1e-12).y[:, -1]
    dts = np.array([0.05, 0.025, 0.0125, 0.00625])
    for solver in (Euler(), Heun(), RK4()):
        finals = [simulate(problem, th0, 2.0, dt, solver=solver).x_final[:, 0] for dt in dts]
        errs = [np.max(np.abs(x - ref)) for x in finals]
        slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
        # the laws compared as phases: W1 on the circle (2π apart is the same phase)
        law = w1_circle(finals[0], ref)
        ax2.loglog(dts, errs, "o-", label=f"{solver.name}: slope {slope:.2f}")
        print(f"{solver.name}: observed order {slope:.2f}; W1 on the circle to DOP853's phases at dt = {dts[0]}: "
              f"{law:.2e}")
    ax2.set(xlabel="dt", ylabel="max error at T = 2 (vs DOP853)", title="orders (K = 2)")
    ax2.legend(fontsize=8)
    fig.savefig(out / "kuramoto.png", dpi=110)


if __name__ == "__main__":
    main()
