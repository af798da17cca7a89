"""Orders of every mean-field solver
=================================

Observed orders of every mean-field solver on every model, against DOP853 or a closed form.

Deterministic models (time-dependent drifts, so the Runge–Kutta time nodes matter) are compared
with ``scipy.integrate.solve_ivp(method="DOP853", rtol=atol=1e-12)`` (max error at T = 1);
SDEs with strong errors (root mean square over the particles) against a finer step on the
**same** Brownian path (successive differences) or against the exact solution, and the weak error
on E X² by successive differences. Prints a markdown table and writes ``mean_field_orders.png``::

    python examples/mean_field_orders.py [--n 200] [--out .]

``--n`` is the number of particles of the ODE models (the SDE ensembles are 10× larger).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from w1flow import (RK4, Euler, EulerMaruyama, Heun, McKeanVlasovSDE, MeanFieldODE, Milstein,  # noqa: E402
                    SaveAt, simulate)
from w1flow.interactions import KuramotoCoupling  # noqa: E402
from w1flow.second_order import SecondOrderODE, SymplecticEuler, VelocityVerlet  # noqa: E402

FINAL = SaveAt(every=10**9)


def fit(dts, errs):
    return float(np.polyfit(np.log(dts), np.log(errs), 1)[0])


def ode_errors(problem, x0, solver, dts, T=1.0):
    w = np.full(x0.shape[0], 1.0 / x0.shape[0])
    shape = x0.shape
    ref = solve_ivp(lambda t, y: problem.field(y.reshape(shape), w, t).velocity.ravel(), (0.0, T), x0.ravel(),
                    method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1].reshape(shape)
    return [np.max(np.abs(simulate(problem, x0, T, dt, solver=solver, saveat=FINAL).x_final - ref)) for dt in dts]


def strong_differences(sde, x0, solver, ks, T=1.0):
    xs = [simulate(sde, x0, T, 2.0**-k, solver=solver, saveat=FINAL, monitors=None).x_final for k in ks]
    return [np.sqrt(np.mean((xs[i] - xs[i + 1]) ** 2)) for i in range(len(xs) - 1)]


def models(n, rng):
    """(name, problem, x0, solvers) for the deterministic models."""
    omega = np.clip(rng.standard_cauchy(n) * 0.5, -4.0, 4.0)
    coupling = KuramotoCoupling(2.0)
    kuramoto = MeanFieldODE(lambda th, w, t, p: p["omega"][:, None] + (1 + 0.5 * np.cos(t)) * coupling(th, w, t),
                            params={"omega": omega})

    def flock(q, v, w, t):  # Cucker–Smale alignment, ψ(r) = (1 + r²)^(-1/2), a trap and a forcing
        r2 = np.sum((q[None] - q[:, None]) ** 2, axis=2)
        return np.einsum("ij,ijk->ik", w[None] * (1 + r2) ** -0.5, v[None] - v[:, None]) - 0.4 * q + 0.2 * np.sin(t)

    def swarm(q, v, w, t):  # smooth attraction–repulsion in a time-dependent field (position-only)
        diff = q[None] - q[:, None]
        r2 = np.sum(diff**2, axis=2)
        g = w[None] * (np.exp(-r2) - 1.5 * np.exp(-r2 / 0.25))
        return np.einsum("ij,ijk->ik", g, diff) - 0.5 * q + 0.3 * np.array([np.cos(2 * t), np.sin(3 * t)])

    m = min(n, 60)  # the second-order models are dense O(N²) numpy
    z0 = np.concatenate([rng.normal(size=(m, 2)), rng.normal(scale=0.5, size=(m, 2))], axis=1)
    first = (Euler(), Heun(), RK4())
    second = (SymplecticEuler(), VelocityVerlet(), RK4())
    return [
        (f"Kuramoto (N = {n}, ω_i as params)", kuramoto, rng.uniform(-np.pi, np.pi, (n, 1)), first),
        (f"Cucker–Smale 2-D (N = {m}), state [q, v]", SecondOrderODE(flock, dim=2), z0, first + second[:2]),
        (f"swarm, position forces (N = {m})", SecondOrderODE(swarm, dim=2, velocity_dependent=False), z0, second),
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--out", default=".")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    dts = 2.0 ** -np.arange(4, 8)
    ode_models = models(args.n, rng)
    for i, (name, problem, x0, solvers) in enumerate(ode_models):
        ax = axes[0] if i == 0 else axes[1]
        for solver in solvers:
            use = dts if solver.order < 4 else dts[:3] * 2  # RK4 reaches round-off sooner
            errs = ode_errors(problem, x0, solver, use)
            slope = fit(use, errs)
            rows.append((name, solver.name, solver.order, slope, "DOP853"))
            ax.loglog(use, errs, "o-", label=f"{name.split(' (')[0]}, {solver.name}: {slope:.2f}")
    axes[0].set(title="first-order ODE (vs DOP853)", xlabel="dt", ylabel="max error at T = 1")
    axes[1].set(title="second-order systems (vs DOP853)", xlabel="dt")
    # SDEs: strong orders on the shared path, weak order on E X²
    N = 10 * args.n
    x0 = np.random.default_rng(1).normal(1.0, 0.5, (N, 1))
    ks = list(range(5, 11))
    kdt = [2.0**-k for k in ks[:-1]]
    ou = McKeanVlasovSDE(lambda x, w, t: -x + 0.5 * (w @ x - x) + np.cos(3 * t), 0.7, seed=3)
    mult = McKeanVlasovSDE(lambda x, w, t: -(x - w @ x), lambda x, w, t: 0.6 * x,
                           diffusion_dx=lambda x, w, t: np.full(x.shape, 0.6), seed=4)
    for name, sde, solver, order in [("mean-field OU, additive", ou, EulerMaruyama(), 1.0),
                                     ("dX = −(X − EX)dt + 0.6X dW", mult, EulerMaruyama(), 0.5),
                                     ("dX = −(X − EX)dt + 0.6X dW", mult, Milstein(), 1.0)]:
        errs = strong_differences(sde, x0, solver, ks)
        slope = fit(kdt, errs)
        rows.append((f"{name} (N = {N})", f"{solver.name} (strong)", order, slope, "dt/2 on the same path"))
        axes[2].loglog(kdt, errs, "o-", label=f"{name}, {solver.name}: {slope:.2f}")
    gbm = McKeanVlasovSDE(lambda x, w, t: 0.0 * x, lambda x, w, t: 0.6 * x,
                          diffusion_dx=lambda x, w, t: np.full(x.shape, 0.6), seed=9)
    exact = x0 * np.exp(0.6 * gbm.brownian(N, 1)(1.0) - 0.18)
    for solver, order in ((EulerMaruyama(), 0.5), (Milstein(), 1.0)):
        gdt = [2.0**-k for k in range(4, 10)]
        errs = [np.sqrt(np.mean((simulate(gbm, x0, 1.0, dt, solver=solver, saveat=FINAL).x_final - exact) ** 2))
                for dt in gdt]
        rows.append((f"dX = 0.6X dW (N = {N})", f"{solver.name} (strong)", order, fit(gdt, errs),
                     "exact solution, same path"))
    # weak order on E X² of the additive model: R independent ensembles in one run, told apart by
    # a per-particle group index, coupled across dt through the shared path (on the multiplicative
    # model the coupled differences spread like dt^½ and need far more samples)
    R = 20
    group = np.repeat(np.arange(R), N)

    def grouped(x, w, t, g):
        mean = (np.bincount(g, weights=x[:, 0], minlength=R) / N)[g][:, None]
        return -x + 0.5 * (mean - x) + np.cos(3 * t)

    weak = McKeanVlasovSDE(grouped, 0.7, seed=1, params=group)
    xw = np.random.default_rng(0).normal(1.0, 0.5, (N * R, 1))
    wk = [5, 6, 7, 8]
    S = [np.mean(simulate(weak, xw, 1.0, 2.0**-k, solver=EulerMaruyama(), saveat=FINAL, monitors=None).x_final ** 2)
         for k in wk]
    rows.append((f"E X² of the mean-field OU ({R} × {N})", "euler_maruyama (weak)", 1.0,
                 fit([2.0**-k for k in wk[:-1]], np.abs(np.diff(S))), "dt/2 on the same paths"))
    axes[2].set(title="SDEs: strong error (successive dt)", xlabel="dt", ylabel="RMS difference at T = 1")
    for ax in axes:
        ax.legend(fontsize=6)
        ax.grid(True, which="both", alpha=0.3)
    fig.savefig(out / "mean_field_orders.png", dpi=110)
    print("| model | solver | expected | observed | against |")
    print("|---|---|---|---|---|")
    for name, solver, order, slope, ref in rows:
        print(f"| {name} | {solver} | {order:g} | {slope:.2f} | {ref} |")


if __name__ == "__main__":
    main()
