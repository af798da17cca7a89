"""Theorem 4.1: the forward-Euler scheme of the W1 flow converges as Δt → 0.

The paper states no rate, and the exact statement is unknown; the most plausible reading is that
the Euler iterates reach μ_d in W1 as the steps go on and then Δt → 0 (inferred). Measured here on a
blob N((3, 0), 0.25 I) flowing to 8 Gaussians with the exact potential (POT's LP):

* uncapped Euler (the paper's scheme, a new LP every step) long after the hitting time: W1 to the
  data plateaus at a level that must shrink with Δt (fitted log-log slope near 1: about Δt/2);
* the same run at a fixed T before the hitting time: the clouds at successive Δt must approach
  each other (a Cauchy sequence in W1), and W1(T) must settle;
* capped Euler (the initial plan, particles stop on arrival): W1(T) equals the closed form
  Σ G_ij (|x_i − y_j| − T)⁺ at every Δt (the capped flow is exact for any step);
* (``--full``) the neural critic in place of the LP: W1 at the end against Δt (reported only).

Which flow uncapped Euler converges to is another check (it is not the capped one).
"""

from __future__ import annotations

import numpy as np

import w1flow as wf
from w1flow.closed_forms import capped_w1_closed_form
from w1flow.datasets import eight_gaussians, gaussian_blob

from ._core import PASS, Outcome, loglog_figure, verdict_from
from ._reference import uniform, w1

TITLE = "Theorem 4.1: forward Euler converges as Δt → 0"
CLAIM = "A forward Euler discretisation of the W1 gradient-flow ODE converges (abstract; statement unknown)."
SOURCE = ("Malik & Huang, arXiv:2405.16351, Theorem 4.1 (§4): verified that it exists (abstract, reviews); its statement "
          "is inferred")
EXPECTED = PASS
THRESHOLDS = {
    "slope_low": (0.7, "the plateau after the hitting time is O(Δt) (overshoot of at most one step): slope 1, ±0.3 for sampling of the chattering"),
    "slope_high": (1.3, "the same O(Δt) plateau: slope 1, +0.3 for the sampling of the chattering"),
    "plateau_per_dt": (1.0, "the plateau at the finest Δt is at most Δt (measured about Δt/2)"),
    "capped_rel": (1e-12, "capped Euler is exact: round-off of the closed form relative to W1(0)"),
    "cauchy_per_dt": (1.0, "the clouds at t = 1 for the two finest Δt lie within the coarser Δt of each other in W1 (one step's displacement); not monotone: the re-solved plans pick among near-ties"),
    "no_convergence_slope": (0.3, "a plateau that does not shrink with Δt contradicts the claim"),
}
BROKEN = "a stale plan: the initial plan's velocity kept for the whole run, particles never stop"


def run(mode="quick", broken=False, out=None):
    n = 64 if mode == "quick" else 300
    dts = [0.2, 0.1, 0.05, 0.025] if mode == "quick" else [0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625]
    x0, y = gaussian_blob(n, seed=1), eight_gaussians(n, seed=2)
    a = b = uniform(n)
    W0 = w1(x0, a, y, b)
    t_mid, t_long = 1.0, float(np.ceil(W0)) + 1.0
    problem = wf.W1Flow(y)
    plateau, mid_clouds, capped_err = [], [], []
    if broken:
        V0 = wf.ExactPotential()(x0, a, y, b).velocity
    for dt in dts:
        if broken:
            steps = int(round(t_long / dt))
            x_long = x0 + steps * dt * V0
            x_mid = x0 + int(round(t_mid / dt)) * dt * V0
        else:
            res = wf.simulate(problem, x0, t_long, dt, solver=wf.Euler(), saveat=wf.SaveAt(ts=(t_mid, t_long), w1=None))
            x_mid = res.xs[list(np.round(res.ts, 12)).index(round(t_mid, 12))]
            x_long = res.xs[-1]
        plateau.append(w1(x_long, a, y, b))
        mid_clouds.append(x_mid)
        cap = wf.simulate(problem, x0, t_mid, dt, solver=wf.CappedEuler(), saveat=wf.SaveAt(w1=None))
        capped_err.append(abs(w1(cap.xs[-1], a, y, b) - capped_w1_closed_form(x0, a, y, b, t_mid)) / W0)
    slope = float(np.polyfit(np.log(dts), np.log(np.maximum(plateau, 1e-300)), 1)[0])
    cauchy = [w1(mid_clouds[k], a, mid_clouds[k + 1], a) for k in range(len(dts) - 1)]
    mid_w1 = [w1(c, a, y, b) for c in mid_clouds]
    numbers = dict(n=n, dts=dts, W1_0=W0, t_mid=t_mid, t_long=t_long, plateau=plateau, slope=slope,
                   w1_at_t_mid=mid_w1, successive_cloud_w1_at_t_mid=cauchy, capped_rel_err=capped_err)
    if mode == "full" and not broken:
        numbers["critic"] = _critic(x0, a, y, [0.1, 0.05])
    ok = [THRESHOLDS["slope_low"][0] <= slope <= THRESHOLDS["slope_high"][0],
          plateau[-1] <= THRESHOLDS["plateau_per_dt"][0] * dts[-1],
          max(capped_err) <= THRESHOLDS["capped_rel"][0],
          cauchy[-1] <= THRESHOLDS["cauchy_per_dt"][0] * dts[-2]]
    bad = [slope < THRESHOLDS["no_convergence_slope"][0]]
    verdict = verdict_from(ok, bad)
    key = (f"W1 plateau {plateau[0]:.3g} → {plateau[-1]:.3g} as Δt {dts[0]:g} → {dts[-1]:g} (slope {slope:.2f}); "
           f"clouds at t = {t_mid:g}, successive Δt: {cauchy[0]:.3g} → {cauchy[-1]:.3g}; capped exact to "
           f"{max(capped_err):.0e}")
    details = "| Δt | W1 at t = %g (after hitting) | plateau / Δt | W1 at t = %g | W1 to the next Δt's cloud | capped rel. error |\n|---|---|---|---|---|---|\n" % (t_long, t_mid)
    details += "\n".join(f"| {dt:g} | {p:.4g} | {p / dt:.2f} | {m:.4f} | {(cauchy[k] if k < len(cauchy) else float('nan')):.3g} | {c:.0e} |"
                         for k, (dt, p, m, c) in enumerate(zip(dts, plateau, mid_w1, capped_err)))
    if "critic" in numbers:
        details += "\n\nWith the neural critic (default `CriticPotential`, exact W1 at the end): " + ", ".join(
            f"Δt = {k}: {v:.4f}" for k, v in numbers["critic"].items())
    fig = loglog_figure(out, "euler_convergence.png", "Euler as Δt → 0 (exact potential)", "Δt", "W1",
                        {f"W1 to the data at t = {t_long:g} (plateau)": (dts, plateau),
                         f"W1 between clouds at t = {t_mid:g}, successive Δt": (dts[1:], cauchy)},
                        guide=(dts, [plateau[0] * d / dts[0] for d in dts], "slope 1"))
    return Outcome(verdict, key, numbers, details, [fig] if fig else [])


def _critic(x0, a, y, dts):
    out = {}
    T = 2 * w1(x0, a, y, a)
    for dt in dts:
        res = wf.simulate(wf.W1Flow(y, potential=wf.CriticPotential(seed=0)), x0, T, dt, saveat=wf.SaveAt(w1=None))
        out[str(dt)] = w1(res.xs[-1], a, y, a)
    return out
