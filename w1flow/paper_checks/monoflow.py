"""MonoFlow: along the exact-density flow, every f-divergence decreases, for any increasing h.

MonoFlow (Yi, Zhu & Liu, ICML 2023) moves particles with the velocity ∇h(log r_t), r_t = p/q_t
the data/model density ratio and h increasing, i.e. the density solves

    ∂_t q = −∇·(q ∇h(log r_t)) = ∇·(p ∇Φ(u)),    u = q/p,  Φ'(u) = h'(−log u) > 0,

a weighted monotone nonlinear diffusion (our derivation). Every f-divergence
D_f(p‖q) = ∫ p g(u), g(u) = u f(1/u) convex, is then non-increasing. The check solves the flow
in 1-D on a grid with a conservative two-point-flux scheme in u-form: one explicit step is
u ← K u with K stochastic and p-reversible (p_i K_ij = p_j K_ji) under the step bound below,
so Jensen gives Σ p g(Ku) ≤ Σ p g(u) for every convex g. The measured step-to-step change
of six divergences (KL both ways, JS, Pearson and Neyman χ², squared Hellinger) and of the
total variation must therefore never be positive beyond summation round-off, for seven
increasing h. The particle version with a learned ratio (no theorem applies) needs a
density-ratio critic (the check ``monoflow_particles``); this check is about the density flow only.
"""

from __future__ import annotations

import numpy as np

from ._core import PASS, Outcome, verdict_from

TITLE = "MonoFlow: every f-divergence decreases along the density flow, for any increasing h"
CLAIM = ("Along ∂_t q_t = −∇·(q_t ∇h(log r_t)), r_t = p/q_t, with h increasing, every f-divergence "
         "D_f(p‖q_t) is non-increasing.")
SOURCE = ("Yi, Zhu & Liu, arXiv:2302.01075 (ICML 2023), abstract: the particle velocity is a monotonically "
          "increasing rescaling of the log density ratio, verified; the decrease of every D_f is our analysis")
EXPECTED = PASS
THRESHOLDS = {
    "rise_rel": (1e-11, "summation round-off over at most 600 cells (≈1e-14 per step) with a margin of 10^3"),
    "mass_abs": (1e-12, "the scheme is conservative: total mass changes by round-off only"),
    "drop_min": (0.05, "each divergence falls by at least 5 % over the run, so the flow moved (not a frozen run)"),
    "contradiction": (1e-6, "a rise this large is not round-off: some divergence increased"),
}
BROKEN = "h(s) = −s, a decreasing h (anti-diffusion: the flow runs away from the data)"

#: the seven increasing h, each as Φ(u) with Φ'(u) = h'(−log u), u = q/p (our derivation)
FLOWS = {
    "h = id (reverse-KL WGF)": lambda u: u,
    "h = softplus (vanilla GAN, JS)": lambda u: np.log1p(u),
    "non-saturating GAN": lambda u: u - np.log1p(u),
    "forward KL (h' = r)": lambda u: np.log(u),
    "Pearson χ² (h' = 2r²)": lambda u: -2.0 / u,
    "squared Hellinger (h' = √r/2)": lambda u: np.sqrt(u),
    "vanilla with logit shift C = 2": lambda u: np.exp(2.0) * np.log1p(u * np.exp(-2.0)),
}
#: the divergences, each as g(u) with D = Σ_i P_i g(u_i) (P_i the data mass of cell i)
DIVERGENCES = {
    "KL(q‖p)": lambda u: u * np.log(u),
    "KL(p‖q)": lambda u: -np.log(u),
    "JS": lambda u: 0.5 * (np.log(2.0 / (1.0 + u)) + u * np.log(2.0 * u / (1.0 + u))),
    "Pearson χ²(p‖q)": lambda u: (1.0 - u) ** 2 / u,
    "Neyman χ²(q‖p)": lambda u: (u - 1.0) ** 2,
    "Hellinger²": lambda u: (1.0 - np.sqrt(u)) ** 2,
    "TV": lambda u: 0.5 * np.abs(1.0 - u),
}


def _gauss(x, m, s):
    return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))


def _secant(phi, u):
    """Slopes (Φ(u_{i+1}) − Φ(u_i)) / (u_{i+1} − u_i) at the faces, Φ' by a central difference where equal."""
    du = np.diff(u)
    dphi = np.diff(phi(u))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = dphi / du
    tiny = np.abs(du) <= 1e-12 * np.maximum(1.0, np.abs(u[:-1]))
    if np.any(tiny):
        um = u[:-1][tiny]
        h = 1e-6 * np.maximum(1.0, um)
        s[tiny] = (phi(um + h) - phi(um - h)) / (2 * h)
    return s


def flow(phi, P, Q, dx, T, cfl=0.9):
    """Solve ∂_t q = ∇·(p ∇Φ(q/p)) on cell masses P (data), Q (model) with no-flux ends.

    One step: Q_i += Δt/Δx² [P_{i+½} (Φ(u_{i+1}) − Φ(u_i)) − P_{i−½} (Φ(u_i) − Φ(u_{i−1}))],
    P_{i±½} the mean of the two cells. With s the face secant slopes of Φ this is u ← K u with
    P_i K_ij = Δt/Δx² P_f s_f symmetric; Δt is chosen each step so that K_ii ≥ 1 − cfl ≥ 0.
    Returns the times and the u at every step.
    """
    Pf = 0.5 * (P[1:] + P[:-1])
    u = Q / P
    ts, us = [0.0], [u.copy()]
    t = 0.0
    while t < T:
        s = _secant(phi, u)
        w = Pf * s / dx**2                      # Δt · w_f = P_i K_ij for the two cells of face f
        out = np.zeros_like(P)
        out[:-1] += np.abs(w)
        out[1:] += np.abs(w)
        dt = min(T - t, cfl * float(np.min(P / out)))
        flux = dt * w * np.diff(u)              # mass moving from cell i+1 into cell i (u-form, exact in K)
        dQ = np.zeros_like(P)
        dQ[:-1] += flux
        dQ[1:] -= flux
        u = u + dQ / P
        t += dt
        ts.append(t)
        us.append(u.copy())
        if len(ts) > 2_000_000:
            raise RuntimeError("monoflow: the step bound collapsed (more than 2e6 steps)")
    return np.array(ts), np.array(us)


def run(mode="quick", broken=False, out=None):
    cells, T = (300, 1.5) if mode == "quick" else (600, 3.0)
    edges = np.linspace(-6.0, 6.0, cells + 1)
    x = 0.5 * (edges[1:] + edges[:-1])
    dx = float(edges[1] - edges[0])
    P = 0.5 * _gauss(x, -1.5, 0.8) + 0.5 * _gauss(x, 1.5, 0.8)
    Q0 = _gauss(x, 0.5, 1.5)
    P, Q0 = P / P.sum(), Q0 / Q0.sum()
    flows = {"h(s) = −s (decreasing)": lambda u: -u} if broken else FLOWS
    rows, worst_rise, worst_mass, min_drop, curves = [], -np.inf, 0.0, np.inf, {}
    for name, phi in flows.items():
        with np.errstate(all="ignore"):  # the broken (anti-diffusive) flow overflows
            ts, us = flow(phi, P, Q0, dx, T)
            mass = float(np.abs((us * P).sum(axis=1) - 1.0).max())
        worst_mass = max(worst_mass, mass if np.isfinite(mass) else np.inf)
        curves[name] = (ts, {})
        for dname, g in DIVERGENCES.items():
            with np.errstate(all="ignore"):
                D = (P * g(us)).sum(axis=1)
            if not np.all(np.isfinite(D)):
                rise, drop = np.inf, 0.0
            else:
                rise = float(np.max(np.diff(D)) / (1.0 + D[0]))
                drop = float(1.0 - D[-1] / D[0])
            curves[name][1][dname] = D
            worst_rise = max(worst_rise, rise)
            min_drop = min(min_drop, drop)
            rows.append((name, dname, D[0], D[-1], rise, len(ts) - 1))
    ok = [worst_rise <= THRESHOLDS["rise_rel"][0], worst_mass <= THRESHOLDS["mass_abs"][0],
          min_drop >= THRESHOLDS["drop_min"][0]]
    verdict = verdict_from(ok, [worst_rise > THRESHOLDS["contradiction"][0]])
    key = (f"largest step-to-step change of 7 divergences over {len(flows)} increasing h: {worst_rise:.1e} "
           f"(relative to 1 + D(0); negative: every step lowered every divergence); smallest total drop {100 * min_drop:.0f} %; mass error {worst_mass:.0e}")
    details = (f"Grid [−6, 6], {cells} cells, T = {T}; p = ½N(−1.5, 0.8²) + ½N(1.5, 0.8²), "
               f"q₀ = N(0.5, 1.5²).\n\n| h | divergence | D(0) | D(T) | largest step change | steps |\n|---|---|---|---|---|---|\n"
               + "\n".join(f"| {h} | {d} | {a:.4g} | {b:.4g} | {r:.1e} | {k} |" for h, d, a, b, r, k in rows))
    figures = []
    if out is not None and not broken:
        figures.append(_figure(curves, out))
    numbers = dict(max_rise_rel=worst_rise, max_mass_err=worst_mass, min_drop=min_drop, cells=cells, T=T,
                   flows=len(flows))
    return Outcome(verdict, key, numbers, details, figures)


def _figure(curves, out):
    from pathlib import Path

    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6), layout="constrained")
    axes = fig.subplots(2, 4).ravel()
    for ax, dname in zip(axes, DIVERGENCES):
        for name, (ts, Ds) in curves.items():
            ax.semilogy(ts, Ds[dname], label=name)
        ax.set_title(dname)
        ax.set_xlabel("t")
    axes[-1].axis("off")
    axes[-1].legend(*axes[0].get_legend_handles_labels(), loc="center", fontsize=8)
    fig.suptitle("MonoFlow density flows: every divergence decreases for every increasing h")
    name = "monoflow_divergences.png"
    fig.savefig(Path(out) / name, dpi=110)
    return name
