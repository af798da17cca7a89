"""Which flow does uncapped Euler converge to as Δt → 0? Not the capped one.

The claim tested (w1flow 0.1's docs: "use CappedEuler for the exact flow, or let dt → 0"): as
Δt → 0, the paper's scheme — uncapped forward Euler, a new LP at every step — converges to the
capped exact flow (every particle at unit speed along its initial ray, stopping on arrival,
W1(t) = Σ G_ij(|x_i − y_j| − t)⁺). Measured on a blob N((3, 0), 0.25 I) flowing to 8 Gaussians
at T = 2, over replicates whose start is moved by 1e-14 (the LP picks among near-ties by
round-off, so single runs are not comparable particle by particle):

* W1 between the Euler cloud at T and the capped cloud, against Δt;
* W1 between Euler clouds at successive Δt (does Euler converge at all?), and between replicates
  at the same Δt (the spread the round-off choices make);
* W1(T) to the data for Euler and the capped flow, and how many particles end up assigned to
  another data point than the initial plan gave them.

Verdict on the claim: FAIL when Euler's clouds settle (successive Δt closer than the distance to
the capped cloud by a factor 3, beyond the replicate spread) away from the capped cloud; PASS
when they approach it at the rate Δt.
"""

from __future__ import annotations

import numpy as np

import w1flow as wf
from w1flow.closed_forms import capped_w1_closed_form
from w1flow.datasets import eight_gaussians, gaussian_blob

from ._core import FAIL, Outcome, loglog_figure, verdict_from
from ._reference import _lp, uniform, w1

TITLE = "Uncapped Euler → the capped exact flow as Δt → 0 (w1flow 0.1's docs)"
CLAIM = "Letting Δt → 0 in the paper's (uncapped) Euler scheme gives the capped exact flow."
SOURCE = ("w1flow 0.1's documentation (concepts page), inferred; Malik & Huang, arXiv:2405.16351, Theorem 4.1 (§4) "
          "names no limit flow (inferred)")
EXPECTED = FAIL
#: Thousands of LPs of 300 points (Δt = 4e-4): about 5 minutes on 2 cores (cheaper LPs would make it cheap).
FULL_ONLY = True
THRESHOLDS = {
    "settled_factor": (3.0, "Euler has settled away from the capped flow when the distance to it exceeds 3× the distance between the two finest Δt's clouds"),
    "spread_factor": (2.0, "... and 2× the spread between replicates at the finest Δt (round-off choices among near-ties)"),
    "approach": (2.0, "Euler approaches the capped flow if the distance at the finest Δt is below 2·Δt (one step's displacement, twice)"),
}
BROKEN = "CappedEuler (the initial plan kept) in place of uncapped Euler"


def _assign(x, y):
    """Data index of each particle in an optimal plan (n = m, uniform: a permutation)."""
    from scipy.spatial.distance import cdist

    G = _lp(uniform(len(x)), uniform(len(y)), cdist(x, y))
    return np.argmax(G, axis=1)


def run(mode="quick", broken=False, out=None):
    if mode == "quick":
        n, dts, reps = 64, [0.1, 0.025, 0.00625, 0.0025], 3
    else:
        n, dts, reps = 300, [0.1, 0.025, 0.003, 0.0016, 0.0008, 0.0004], 3
    T = 2.0
    x0, y = gaussian_blob(n, seed=1), eight_gaussians(n, seed=2)
    a = uniform(n)
    problem = wf.W1Flow(y)
    cap = wf.simulate(problem, x0, T, T, solver=wf.CappedEuler(), saveat=wf.SaveAt(w1=None)).xs[-1]
    W_cap = capped_w1_closed_form(x0, a, y, a, T)
    init_target = _assign(x0, y)
    rng = np.random.default_rng(5)
    starts = [x0] + [x0 + 1e-14 * rng.normal(size=x0.shape) for _ in range(reps - 1)]
    clouds = {}
    for dt in dts:
        solver = wf.CappedEuler() if broken else wf.Euler()
        clouds[dt] = [wf.simulate(problem, s, T, dt, solver=solver, saveat=wf.SaveAt(w1=None)).xs[-1] for s in starts]
    to_cap = {dt: float(np.mean([w1(c, a, cap, a) for c in cs])) for dt, cs in clouds.items()}
    w1T = {dt: float(np.mean([w1(c, a, y, a) for c in cs])) for dt, cs in clouds.items()}
    cauchy = {dts[k + 1]: float(np.mean([w1(c1, a, c2, a) for c1, c2 in zip(clouds[dts[k]], clouds[dts[k + 1]])]))
              for k in range(len(dts) - 1)}
    spread = {dt: float(np.mean([w1(cs[0], a, c, a) for c in cs[1:]])) if len(cs) > 1 else 0.0
              for dt, cs in clouds.items()}
    fine = dts[-1]
    moved = [int(np.sum(_assign(c, y) != init_target)) for c in clouds[fine]]
    settled_away = (to_cap[fine] > THRESHOLDS["settled_factor"][0] * cauchy[fine]
                    and to_cap[fine] > THRESHOLDS["spread_factor"][0] * spread[fine])
    approaches = to_cap[fine] <= THRESHOLDS["approach"][0] * fine
    verdict = verdict_from([approaches], [settled_away])
    key = (f"W1(Euler cloud, capped cloud) at T = 2: {to_cap[dts[0]]:.3f} → {to_cap[fine]:.3f} as Δt "
           f"{dts[0]:g} → {fine:g}, while successive Δt's clouds are {cauchy[fine]:.4f} apart (replicates "
           f"{spread[fine]:.4f}); W1(T): Euler {w1T[fine]:.3f}, capped {W_cap:.3f}; {min(moved)}–{max(moved)} of "
           f"{n} particles re-assigned")
    details = ("| Δt | W1(Euler, capped cloud) | W1(Euler, previous Δt's cloud) | replicate spread | W1(T) Euler | "
               "W1(T) capped |\n|---|---|---|---|---|---|\n" + "\n".join(
                   f"| {dt:g} | {to_cap[dt]:.4f} | {cauchy.get(dt, float('nan')):.4f} | {spread[dt]:.4f} | "
                   f"{w1T[dt]:.4f} | {W_cap:.4f} |" for dt in dts))
    fig = loglog_figure(out, "euler_limit.png", f"Uncapped Euler at T = {T:g}: not the capped flow", "Δt", "W1 between clouds",
                        {"Euler cloud to the capped cloud": (dts, [to_cap[d] for d in dts]),
                         "Euler cloud to the previous Δt's": (dts[1:], [cauchy[d] for d in dts[1:]]),
                         "replicates (1e-14 perturbations)": (dts, [max(spread[d], 1e-16) for d in dts])})
    return Outcome(verdict, key, dict(n=n, T=T, dts=dts, replicates=reps, to_capped=to_cap, cauchy=cauchy,
                                      spread=spread, w1_T=w1T, w1_capped=W_cap, reassigned=moved), details,
                   [fig] if fig else [])
